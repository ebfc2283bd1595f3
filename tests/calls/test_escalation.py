"""From a phone call to video, in headless Chromium: the officer's console and her page.

A phone call the Twilio emulator carries is bridged to the officer's console
(``incoming_call`` and ``bridged`` from tests/media/conftest.py); the link the
officer would text her (``ivr.links``; the SMS itself goes through the Twilio
emulator in tests/ivr/test_callbacks.py) opens the citizen page at
``/?video=TOKEN``. The page drops the token from its address, shows one button
and, with no questions, opens a video contact on the same case; the console
picks it up beside the phone call and media flows, and records it as it
records a browser video call. When the phone call ends, the video carries the
conversation's sound.

``scripts/in-netns.sh .venv/bin/pytest -m browser tests/calls/test_escalation.py``
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser
from sqlalchemy import select

from cases.models import Case, ContactSession, TimelineEvent
from cases.sessions import open_contact
from ivr import links
from queues.router import Contact
from queues.service import ROUTER
from safecall.settings import Settings
from safecall.state import CLOCK, DATA_KEY
from signaling.routes import HUB
from tests.browser import browser
from tests.calls.media import STATS, media_flows, poll, recordings_of
from tests.calls.test_call import DESKTOP, PHONE, log_in, make_officer, open_page, wait_for_end
from tests.media.conftest import (
    CallsResource,
    auth_token,
    bridged,
    calls_resource,
    incoming_call,
    twilio_cloud,
)
from tests.support import copy_sqlite, listen_on
from tests.twilio.call import Call

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]
__all__ = ["auth_token", "browser", "calls_resource", "incoming_call", "twilio_cloud"]

LEG_STATS = STATS.replace("window.safecallCall", "window.safecallVideo")
PHONE_AUDIO = """async () => {
  const pc = window.safecallCall.pc;
  if (!pc || pc.connectionState !== "connected") return null;
  let bytes = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") bytes += s.bytesReceived || 0;
  });
  return bytes;
}"""


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


@pytest.fixture
def port(page_socket: socket.socket) -> int:
    """The port the pages come from: the socket whose origin the settings allow."""
    return int(page_socket.getsockname()[1])


@pytest.fixture
def settings(
    settings: Settings, port: int, calls_resource: tuple[CallsResource, str], auth_token: str
) -> Settings:
    # The pages come from http://127.0.0.1 (a secure context for camera and microphone);
    # Twilio reaches the app through a proxy that ends TLS (the cloud's ``proxies``).
    return dataclasses.replace(
        settings,
        public_url=f"https://127.0.0.1:{port}",
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=auth_token,
        twilio_api_base=calls_resource[1],
        media_ice_hosts=("127.0.0.1",),
    )


@pytest.fixture
async def server(
    calls_resource: tuple[CallsResource, str],
    aiohttp_client: Any,
    app: web.Application,
    port: int,
    page_socket: socket.socket,
) -> Any:
    client = await aiohttp_client(app, server_kwargs=listen_on(page_socket))
    calls_resource[0].cloud.proxies[f"127.0.0.1:{port}"] = f"127.0.0.1:{port}"
    return client


async def phone_contact(app: web.Application, db: Any, incoming_call: Any) -> tuple[str, Call]:
    """A caller on the line, and what the IVR does when she has chosen: a phone contact in
    line; ``(session_id, call)``."""
    async with db() as session, session.begin():
        contact, _ = await open_contact(
            session, app[DATA_KEY], service_line="women", channel="phone", now=app[CLOCK]()
        )
        session_id = contact.id
    await app[HUB].open_session(session_id)
    await app[ROUTER].enqueue(Contact(id=session_id, line="women", channel="phone"))
    return session_id, await incoming_call()


async def test_a_phone_call_escalated_to_video(
    server: Any, db: Any, browser: Browser, incoming_call: Any
) -> None:
    app = server.server.app
    await make_officer(db, "ESC-1")
    console_ctx, console, console_problems = await open_page(
        browser, str(server.make_url("/console")), DESKTOP
    )
    await log_in(console, "ESC-1")
    phone_id, call = await phone_contact(app, db, incoming_call)
    await console.get_by_test_id("status-available").click()
    await console.get_by_test_id("offer").wait_for(state="visible")
    await console.get_by_test_id("accept").click()
    caller = await bridged(app, call, phone_id, line="women")  # as the IVR does on accept
    await poll(console, PHONE_AUDIO, lambda b: b > 0)  # on the phone with her
    assert await console.get_by_test_id("send-video-link").is_visible()

    # She opens the texted link: the token leaves the address at once.
    token = links.issue(app, phone_id)
    citizen_ctx, citizen, citizen_problems = await open_page(
        browser, str(server.make_url(f"/?video={token}")), PHONE
    )
    assert "video=" not in citizen.url
    assert token not in str(await citizen.evaluate("() => history.state")) + citizen.url
    await citizen.get_by_test_id("start-linked-video").wait_for(state="visible")
    assert not await citizen.get_by_test_id("start-video").is_visible()  # no intake
    await citizen.get_by_test_id("start-linked-video").click()
    shown = citizen.get_by_test_id("tracking-code")
    await shown.wait_for(state="visible")
    code = (await shown.text_content() or "").strip()
    assert len(code.replace(" ", "")) == 12

    # The console shows it as the video of the phone call she is on; media flows.
    leg = console.get_by_test_id("video-leg")
    await leg.wait_for(state="visible", timeout=20_000)
    assert code in (await console.get_by_test_id("video-leg-what").text_content() or "")
    # While the phone call lasts its sound stays on the phone: the video leg's sound is
    # muted both ways (her sound still arrives, unplayed, so no level is measured).
    first = await poll(
        console, LEG_STATS, lambda s: s["state"] == "connected" and s["framesDecoded"] > 0
    )
    await poll(
        console,
        LEG_STATS,
        lambda s: (
            s["framesDecoded"] > first["framesDecoded"] and s["audioBytes"] > first["audioBytes"]
        ),
    )
    seen = await poll(
        citizen, STATS, lambda s: s["state"] == "connected" and s["framesDecoded"] > 0
    )
    await poll(citizen, STATS, lambda s: s["framesDecoded"] > seen["framesDecoded"])
    assert await console.get_by_test_id("video-leg-remote").evaluate("v => v.volume") == 0

    async with db() as session:
        phone = await session.get(ContactSession, phone_id)
        assert phone is not None
        video = await session.scalar(
            select(ContactSession).where(
                ContactSession.case_id == phone.case_id, ContactSession.id != phone_id
            )
        )
        assert video is not None and video.channel == "browser_video"
        assert video.officer_id == phone.officer_id
        case = await session.get(Case, phone.case_id)
        assert case is not None and code.replace(" ", "") == case.tracking_code
        kinds = {
            (e.session_id, e.kind)
            for e in await session.scalars(
                select(TimelineEvent).where(TimelineEvent.case_id == case.id)
            )
        }
    assert (phone_id, "contact.escalated") in kinds and (video.id, "contact.escalated") in kinds

    # The console records the video leg as it records a browser video call.
    await recordings_of(db, video.id, lambda rows: any(r.chunk_count for r in rows))

    # The officer hangs up the phone: the video carries the sound now, both ways.
    await console.get_by_test_id("hangup").click()
    await caller.wait_closed(limit=15)
    assert await console.get_by_test_id("video-leg-remote").evaluate("v => v.volume") == 1
    await media_flows(citizen)  # her page hears the officer
    heard = await poll(
        console, LEG_STATS, lambda s: s["audioLevel"] > 0 and s["framesDecoded"] > 0
    )  # and the console plays her sound
    await poll(console, LEG_STATS, lambda s: s["audioBytes"] > heard["audioBytes"])
    await console.get_by_test_id("video-leg-hangup").click()
    await citizen.locator("#ended").wait_for(state="visible")
    assert (await wait_for_end(db, video.id)).disposition == "answered"
    (recording,) = await recordings_of(
        db, video.id, lambda rows: all(r.state != "open" for r in rows)
    )
    assert recording.state == "complete", recording.reason
    assert recording.kind == "video" and recording.chunk_count >= 1
    assert recording.officer_id == phone.officer_id

    # The same link again: refused, said plainly, nothing opened.
    again_ctx, again, _ = await open_page(browser, str(server.make_url(f"/?video={token}")), PHONE)
    await again.get_by_test_id("start-linked-video").click()
    said = again.get_by_test_id("link-error")
    await said.wait_for(state="visible")
    assert "opened already" in (await said.text_content() or "")
    assert not console_problems and not citizen_problems
    for context in (again_ctx, citizen_ctx, console_ctx):
        await context.close()
