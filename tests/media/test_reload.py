"""A phone call whose officer reloads her console mid-call, in headless Chromium.

The caller (Twilio's stream, tests/media/peers.py) stays on the line; the
reloaded console finds the contact she holds, answers it again and joins afresh;
the bridge sees her side come back and offers a new peer connection (aiortc has
no ICE restart), which the console answers. Audio flows both ways again: the
console hears the caller, and the caller hears the officer's microphone
(Chromium's fake device, fed from the known speech) by correlation.

Run in a loopback-only namespace:
``scripts/in-netns.sh .venv/bin/pytest -m browser tests/media/test_reload.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, async_playwright

from cases.models import ContactSession
from media.routes import BRIDGES
from officers.models import Officer
from officers.passwords import hash_password
from safecall.settings import Settings
from tests.browser import ARGS, CHROMIUM, only_loopback
from tests.media.conftest import CallsResource
from tests.media.peers import TwilioStream
from tests.media.test_browser import audio_until, phone_contact
from tests.twilio.audio import RATE, align, known_speech, ulaw_decode, ulaw_encode

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]

PASSWORD = "correct horse battery staple"
HEARD_SECONDS = 8.0
"""Audio the caller hears after the reload: two loops of the officer's known speech."""


RAW_MICROPHONE = """(() => {
  // Chromium's voice processing (gain control, noise suppression, echo cancelling) reshapes
  // the officer's voice; off, what the caller hears can be compared with what was sent.
  const devices = navigator.mediaDevices;
  const ask = devices.getUserMedia.bind(devices);
  const raw = {echoCancellation: false, noiseSuppression: false, autoGainControl: false};
  devices.getUserMedia = (wanted) =>
    ask(Object.assign({}, wanted, wanted && wanted.audio ? {audio: raw} : {}));
})()"""


@pytest.fixture
def port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(settings: Settings, port: int) -> Settings:
    # The console must come from http://127.0.0.1 (a secure context for the microphone).
    return dataclasses.replace(settings, public_url=f"http://127.0.0.1:{port}")


@pytest.fixture
async def server(
    calls_resource: tuple[CallsResource, str], aiohttp_client: Any, app: web.Application, port: int
) -> Any:
    return await aiohttp_client(app, server_kwargs={"port": port})


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    """Chromium whose fake microphone plays the known speech (looped)."""
    if not only_loopback():
        pytest.fail("browser tests run only in a loopback-only namespace: scripts/in-netns.sh")
    speech = tmp_path / "officer.wav"
    with wave.open(str(speech), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(known_speech().tobytes())
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, f"--use-file-for-fake-audio-capture={speech}"]
        )
        yield chromium
        await chromium.close()


async def test_the_console_reloads_mid_call_and_the_caller_stays(
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
                badge="RLD-PHN",
                name="Officer RLD-PHN",
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
    await context.add_init_script(RAW_MICROPHONE)
    console = await context.new_page()
    problems: list[str] = []
    console.on("pageerror", lambda e: problems.append(str(e)))
    await console.goto(str(server.make_url("/console")))
    await console.get_by_test_id("login-badge").fill("RLD-PHN")
    await console.get_by_test_id("login-password").fill(PASSWORD)
    await console.get_by_test_id("login-submit").click()
    await console.get_by_test_id("app-view").wait_for(state="visible")

    session_id, call_sid, token = await phone_contact(app, db)
    await console.get_by_test_id("status-available").click()
    await console.get_by_test_id("offer").wait_for(state="visible")
    await console.get_by_test_id("accept").click()
    caller = await TwilioStream.open(
        server, auth_token, token, call_sid, url=f"ws://127.0.0.1:{port}/twilio/media"
    )
    await audio_until(console, lambda s: s["bytes"] > 0)
    (bridge,) = app[BRIDGES]
    assert bridge.legs == 1

    # Her console reloads mid-call; the caller stays on the line.
    await console.reload()
    await console.get_by_test_id("call-view").wait_for(state="visible")
    after = await audio_until(console, lambda s: s["bytes"] > 0)  # a new connection
    assert after["codec"] == "audio/PCMU"
    assert bridge.legs == 2  # renegotiated: a new peer connection for her leg
    assert not caller.closed.is_set()

    # The caller speaks: the reloaded console hears her.
    caller.say(ulaw_encode(known_speech(2.0)))
    await audio_until(console, lambda s: s["level"] > 0.05)
    await console.wait_for_timeout(2500)  # she has finished (no double talk for the echo canceller)
    heard_from = len(caller.received)
    # The officer speaks (her fake microphone: the known speech, looped): the caller hears it.
    for _ in range(int(HEARD_SECONDS * 10) + 100):  # bounded
        if len(caller.received) - heard_from >= HEARD_SECONDS * RATE:
            break
        await asyncio.sleep(0.1)
    heard = ulaw_decode(bytes(caller.received[heard_from:]))
    score, _ = align(known_speech(), heard)
    print(f"caller hears the officer after the reload: correlation {score:.3f}")
    assert score >= 0.9

    await console.get_by_test_id("hangup").click()
    await caller.wait_closed(within=15)
    assert calls_resource[0].hung_up(call_sid)
    await console.get_by_test_id("wrapup").wait_for(state="visible")
    for _ in range(200):  # the end is written when the hub reports it (bounded wait)
        async with db() as session:
            contact = await session.get(ContactSession, session_id)
        if contact is not None and contact.ended_at is not None:
            break
        await asyncio.sleep(0.05)
    assert contact is not None and contact.disposition == "answered"  # not dropped
    assert not problems
    await context.close()
