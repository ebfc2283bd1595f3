"""A phone call answered in the real console, in headless Chromium, through the bridge.

The caller's side is the Twilio emulator (tests/twilio/): a real call to the
helpline whose Media Stream the emulator opens once the officer accepts
(tests/media/console.py). The console answers the bridge's offer (PCMU), hears
the caller, sends its microphone (Chromium's fake device: the known speech)
back, shows her key presses, and the officer hangs up: through Twilio's Calls
resource the app offers her a PIN for her new case (she hangs up instead).

Run in a loopback-only namespace:
``scripts/in-netns.sh .venv/bin/pytest -m browser tests/media``.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.media.conftest import CallsResource
from tests.media.console import (
    AnsweredCall,
    Console,
    answered,
    audio_until,
    browser,
    caller_hears_the_officer,
    console,
    phone_line,
)
from tests.twilio.audio import known_speech_ulaw

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]
__all__ = ["answered", "browser", "console", "phone_line"]


async def test_a_phone_call_answered_in_the_console(
    console: Console, answered: AnsweredCall, calls_resource: tuple[CallsResource, str]
) -> None:
    page, call, stream = console.page, answered.call, answered.stream

    # She speaks: the console hears her (audio level rises above silence).
    speaking = asyncio.create_task(stream.send_audio(known_speech_ulaw(2.0)))
    await audio_until(page, lambda s: s["level"] > 0.05)
    await speaking
    # The officer's microphone (the known speech) reaches the caller.
    assert await caller_hears_the_officer(stream) >= 0.9

    # A silent caller answers with keys; the console shows them.
    await call.press("1")
    await page.get_by_test_id("chat-log").filter(has_text="1").wait_for()
    assert "keypad" in (await page.get_by_test_id("chat-log").text_content() or "")

    # The officer hangs up: the conversation opened her case, which has no PIN yet, so
    # instead of hanging up the app offers her one on the keypad (through the Calls
    # resource); she does not want one and hangs up.
    await page.get_by_test_id("hangup").click()
    await call.wait_for(lambda heard: any(h.value.endswith("/pin_offer.wav") for h in heard))
    await call.hang_up()
    assert await call.wait_ended(limit=15) == "completed"
    await stream.wait_closed()  # and the stream with it
    await page.get_by_test_id("wrapup").wait_for(state="visible")
    assert not console.problems
