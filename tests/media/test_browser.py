"""A phone call answered in the real console, in headless Chromium, through the bridge.

The caller's side is Twilio's stream (tests/media/peers.py); the officer logs in
on /console, goes available, is offered the phone contact and accepts; the
console answers the bridge's offer (PCMU), hears the caller, sends its
microphone (Chromium's fake device) back, shows her key presses, and hangs up.

Run in a loopback-only namespace:
``scripts/in-netns.sh .venv/bin/pytest -m browser tests/media``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import socket
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page

from cases.contacts import open_contact
from media import stream_token
from officers.models import Officer
from officers.passwords import hash_password
from queues.router import Contact
from queues.service import ROUTER
from safecall.settings import Settings
from safecall.state import CLOCK, DATA_KEY
from signaling.routes import HUB
from tests.browser import browser
from tests.media.conftest import CallsResource
from tests.media.peers import TwilioStream
from tests.twilio.audio import known_speech, ulaw_decode, ulaw_encode

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]
__all__ = ["browser"]

PASSWORD = "correct horse battery staple"
AUDIO_IN = """async () => {
  const pc = window.safecallCall.pc;
  if (!pc || pc.connectionState !== "connected") return null;
  const out = {bytes: 0, level: 0, codec: null};
  const stats = await pc.getStats();
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.bytes += s.bytesReceived || 0;
      out.level = Math.max(out.level, s.audioLevel || 0);
      const codec = stats.get(s.codecId);
      if (codec) out.codec = codec.mimeType;
    }
  });
  return out;
}"""


@pytest.fixture
def port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(settings: Settings, port: int) -> Settings:
    # The page must come from http://127.0.0.1 (a secure context for the microphone),
    # and Twilio signs the stream URL of the same host.
    return dataclasses.replace(settings, public_url=f"http://127.0.0.1:{port}")


@pytest.fixture
async def server(
    calls_resource: tuple[CallsResource, str], aiohttp_client: Any, app: web.Application, port: int
) -> Any:
    return await aiohttp_client(app, server_kwargs={"port": port})


async def phone_contact(app: web.Application, db: Any) -> tuple[str, str, str]:
    """What the IVR does when she has chosen: a voice contact, its session, its task."""
    now = app[CLOCK]()
    async with db() as session, session.begin():
        contact, _ = await open_contact(
            session, app[DATA_KEY], service_line="women", channel="phone", now=now, silent=True
        )
        session_id = contact.id
    await app[HUB].open_session(session_id)
    await app[ROUTER].enqueue(
        Contact(id=session_id, line="women", channel="phone", language="ur", silent=True)
    )
    call_sid = "CA" + secrets.token_hex(16)
    return session_id, call_sid, stream_token.issue(app, session_id=session_id, call_sid=call_sid)


async def audio_until(page: Page, ready: Any, within: float = 20) -> dict[str, Any]:
    """Poll the console's inbound audio statistics until ``ready(stats)``."""
    async with asyncio.timeout(within):
        while True:
            stats: dict[str, Any] | None = await page.evaluate(AUDIO_IN)
            if stats is not None and ready(stats):
                return stats
            await asyncio.sleep(0.1)


async def test_a_phone_call_answered_in_the_console(
    server: Any,
    db: Any,
    browser: Browser,
    auth_token: str,
    port: int,
    calls_resource: tuple[CallsResource, str],
) -> None:
    app = server.server.app
    async with db() as session:
        session.add(
            Officer(
                badge="PHN-1",
                name="Officer PHN-1",
                role="officer",
                gender="female",
                languages=["ur", "en"],
                skills={},
                lines=["women", "child"],
                password_hash=hash_password(PASSWORD),
            )
        )
        await session.commit()
    context = await browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    console = await context.new_page()
    problems: list[str] = []
    console.on("pageerror", lambda e: problems.append(str(e)))
    await console.goto(str(server.make_url("/console")))
    await console.get_by_test_id("login-badge").fill("PHN-1")
    await console.get_by_test_id("login-password").fill(PASSWORD)
    await console.get_by_test_id("login-submit").click()
    await console.get_by_test_id("app-view").wait_for(state="visible")

    _, call_sid, token = await phone_contact(app, db)
    await console.get_by_test_id("status-available").click()
    offer = console.get_by_test_id("offer")
    await offer.wait_for(state="visible")
    assert "Phone call" in (await offer.text_content() or "")
    await console.get_by_test_id("accept").click()

    # Twilio moves the call to the bridge (the IVR's Calls update), with the token.
    caller = await TwilioStream.open(
        server, auth_token, token, call_sid, url=f"ws://127.0.0.1:{port}/twilio/media"
    )
    first = await audio_until(console, lambda s: s["bytes"] > 0)
    assert first["codec"] == "audio/PCMU"  # no transcoding on her leg

    # She speaks: the console hears her (audio level rises above silence).
    caller.say(ulaw_encode(known_speech(2.0)))
    await audio_until(console, lambda s: s["level"] > 0.05)
    # The officer's microphone (Chromium's fake device: a beep) reaches the caller.
    await console.wait_for_timeout(2000)
    heard = ulaw_decode(bytes(caller.received))
    assert heard.size > 8000 and np.abs(heard.astype(np.int32)).max() > 1000

    # A silent caller answers with keys; the console shows them.
    await caller.press("1")
    await console.get_by_test_id("chat-log").filter(has_text="1").wait_for()
    assert "keypad" in (await console.get_by_test_id("chat-log").text_content() or "")

    # The officer hangs up: the call ends through the Calls resource.
    await console.get_by_test_id("hangup").click()
    await caller.wait_closed(within=15)
    assert calls_resource[0].hung_up(call_sid)
    await console.get_by_test_id("wrapup").wait_for(state="visible")
    assert not problems
    await context.close()
