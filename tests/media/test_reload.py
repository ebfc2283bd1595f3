"""A phone call whose officer reloads her console mid-call, in headless Chromium.

The caller (a real call through the Twilio emulator, tests/media/console.py)
stays on the line; the reloaded console finds the contact she holds, answers it
again and joins afresh; the bridge sees her side come back and offers a new
peer connection (aiortc has no ICE restart), which the console answers. Audio
flows both ways again: the console hears the caller, and the caller hears the
officer's microphone (Chromium's fake device, fed from the known speech) by
correlation. Then the caller hangs up: the console shows the wrap-up and the
contact ends answered, with no hang-up asked of Twilio.

Run in a loopback-only namespace:
``scripts/in-netns.sh .venv/bin/pytest -m browser tests/media/test_reload.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from cases.models import ContactSession
from media.routes import BRIDGES
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
from tests.twilio.fixtures import HttpsApp

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]
__all__ = ["answered", "browser", "console", "phone_line"]


async def test_the_console_reloads_mid_call_and_the_caller_stays(
    phone_line: HttpsApp,
    console: Console,
    answered: AnsweredCall,
    db: Any,
    calls_resource: tuple[CallsResource, str],
) -> None:
    page, call, stream = console.page, answered.call, answered.stream
    (bridge,) = phone_line.app[BRIDGES]
    assert bridge.legs == 1

    # Her console reloads mid-call; the caller stays on the line.
    await page.reload()
    await page.get_by_test_id("call-view").wait_for(state="visible")
    after = await audio_until(page, lambda s: s["bytes"] > 0)  # a new connection
    assert after["codec"] == "audio/PCMU"
    assert bridge.legs == 2  # renegotiated: a new peer connection for her leg
    assert not stream.closed.is_set()

    # The caller speaks: the reloaded console hears her.
    speaking = asyncio.create_task(stream.send_audio(known_speech_ulaw(2.0)))
    await audio_until(page, lambda s: s["level"] > 0.05)
    await speaking
    # The officer speaks (her fake microphone: the known speech, looped): the caller hears it.
    assert await caller_hears_the_officer(stream) >= 0.9

    # The caller hangs up: the console shows the wrap-up; Twilio is asked for nothing.
    await call.hang_up()
    await page.get_by_test_id("wrapup").wait_for(state="visible")
    for _ in range(200):  # the end is written when the hub reports it (bounded wait)
        async with db() as session:
            contact = (await session.scalars(select(ContactSession))).one()
        if contact.ended_at is not None:
            break
        await asyncio.sleep(0.05)
    assert contact.disposition == "answered"  # not dropped
    assert not calls_resource[0].hung_up(call.sid)
    assert not console.problems
