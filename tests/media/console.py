"""A phone call answered in the real console: the browser tests' shared set-up.

The app is served over https for the Twilio emulator (tests/twilio/,
docs/twilio-emulator.md: Twilio calls only https and streams only to wss); the
console is opened from the same origin in headless Chromium, whose fake
microphone plays the known speech (looped) with the browser's voice processing
off, so what the caller hears can be compared with what the officer said.

The call is a real one through the emulator: she dials the helpline, presses
0 at the first question (she cannot speak: a silent call on the general line),
the officer is offered it and accepts, and the app moves the call to the media
bridge through the Calls resource; the emulator then opens its Media Stream.

Import the fixtures into a test module: ``from tests.media.console import ...``.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safecall.settings import Settings
from tests.browser import ARGS, CHROMIUM, only_loopback
from tests.calls.test_call import PASSWORD, make_officer
from tests.media.conftest import tune_for_tests
from tests.twilio.audio import RATE, known_speech, piecewise_correlation, ulaw_decode
from tests.twilio.call import Call
from tests.twilio.cloud import TwilioCloud
from tests.twilio.fixtures import HttpsApp, serve_https
from tests.twilio.stream import MediaStream

BADGE = "PHN-1"

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
"""The console's inbound audio statistics (bytes, level, codec), or null before it connects."""

RAW_MICROPHONE = """(() => {
  // Chromium's voice processing (gain control, noise suppression, echo cancelling) reshapes
  // the officer's voice; off, what the caller hears can be compared with what was sent.
  const devices = navigator.mediaDevices;
  const ask = devices.getUserMedia.bind(devices);
  const raw = {echoCancellation: false, noiseSuppression: false, autoGainControl: false};
  devices.getUserMedia = (wanted) =>
    ask(Object.assign({}, wanted, wanted && wanted.audio ? {audio: raw} : {}));
})()"""


@dataclass
class Console:
    """The officer's logged-in console page, and the script errors it raised."""

    page: Page
    problems: list[str]


@dataclass
class AnsweredCall:
    """The caller's call in the emulated cloud and its open Media Stream."""

    call: Call
    stream: MediaStream


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


@pytest.fixture
async def phone_line(
    settings: Settings, twilio_cloud: TwilioCloud, tmp_path: Path
) -> AsyncIterator[HttpsApp]:
    """The app on https://127.0.0.1:<port>, the helpline number of ``twilio_cloud``."""
    async with serve_https(settings, twilio_cloud, tmp_path) as served:
        tune_for_tests(served.app)
        yield served


@pytest.fixture
async def console(
    phone_line: HttpsApp, browser: Browser, db: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Console]:
    """An officer of the women's line (Urdu, English), logged in on /console."""
    await make_officer(db, BADGE)
    # The certificate is the test's own (tests/twilio/tls.py): only the emulator trusts it.
    context = await browser.new_context(
        viewport={"width": 1280, "height": 860}, locale="en-GB", ignore_https_errors=True
    )
    await context.add_init_script(RAW_MICROPHONE)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(phone_line.url + "/console")
    await page.get_by_test_id("login-badge").fill(BADGE)
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("app-view").wait_for(state="visible")
    yield Console(page, problems)
    await context.close()


@pytest.fixture
async def answered(phone_line: HttpsApp, console: Console) -> AnsweredCall:
    """A silent caller dials in, the officer accepts, and the console hears the phone line."""
    page = console.page
    await page.get_by_test_id("status-available").click()
    call = await phone_line.cloud.incoming_call()
    await call.gather()
    await call.press("0")  # she cannot speak: queued as a silent call on the general line
    offer = page.get_by_test_id("offer")
    await offer.wait_for(state="visible")
    assert "Phone call" in (await offer.text_content() or "")
    await page.get_by_test_id("accept").click()
    stream = await call.wait_stream(limit=20)  # the app moved the call to the bridge
    first = await audio_until(page, lambda s: s["bytes"] > 0)
    assert first["codec"] == "audio/PCMU"  # no transcoding on her leg
    return AnsweredCall(call, stream)


async def audio_until(
    page: Page, ready: Callable[[dict[str, Any]], bool], within: float = 20
) -> dict[str, Any]:
    """Poll the console's inbound audio statistics until ``ready(stats)``."""
    async with asyncio.timeout(within):
        while True:
            stats: dict[str, Any] | None = await page.evaluate(AUDIO_IN)
            if stats is not None and ready(stats):
                return stats
            await asyncio.sleep(0.1)


async def caller_hears_the_officer(stream: MediaStream, seconds: float = 4.0) -> float:
    """How well what the caller hears next (``seconds`` of it) matches the officer's
    microphone, the known speech looped: the piecewise correlation (see tests/twilio/audio)."""
    start = len(stream.received)
    await stream.wait_received(start + int(seconds * RATE), limit=seconds + 15)
    heard = ulaw_decode(bytes(stream.received[start : start + int(seconds * RATE)]))
    looped = np.tile(known_speech(), 2)
    score = piecewise_correlation(heard, looped)
    print(f"the caller hears the officer: correlation {score:.3f}")
    return score


__all__ = [
    "AnsweredCall",
    "Console",
    "answered",
    "audio_until",
    "browser",
    "caller_hears_the_officer",
    "console",
    "phone_line",
]
