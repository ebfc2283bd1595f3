"""A callback rung from the real console and not answered, in headless Chromium.

She hung up while waiting after saying a callback is safe (the Twilio emulator,
as in tests/ivr/test_callbacks.py); the officer accepts the callback offer,
presses "Ring her back", her phone is not answered, and the wrap-up says what
becomes of the callback (``GET /api/phone/callbacks/{task_id}``): rung again
later by the next free officer, which ring of how many; after the third ring
(the clock moved on, the retry swept back in line and offered to the same
officer each time), that she was not reached. Her number never shows.

``scripts/in-netns.sh .venv/bin/pytest -m browser tests/calls/test_callback_console.py``
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from ivr import callback_retries
from ivr.twiml import MENU
from safecall.settings import Settings
from tests.browser import ARTIFACTS, browser
from tests.calls.test_call import DESKTOP, log_in, make_officer
from tests.ivr.test_callbacks import CALLER, abandoned_with_callback
from tests.support import FakeClock, copy_sqlite
from tests.twilio.cloud import TwilioCloud
from tests.twilio.fixtures import HttpsApp, serve_https, twilio_cloud

pytestmark = pytest.mark.browser
__all__ = ["browser", "twilio_cloud"]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the page behaves the same on either database, and browsers are slow."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


@pytest.fixture
async def phone_line(
    settings: Settings, twilio_cloud: TwilioCloud, tmp_path: Path
) -> AsyncIterator[tuple[HttpsApp, FakeClock]]:
    """The https app on a clock the test moves (rings are minutes apart)."""
    clock = FakeClock(datetime.now(UTC))
    async with serve_https(settings, twilio_cloud, tmp_path, clock=clock) as served:
        yield served, clock


async def test_unanswered_ring_backs_say_when_she_is_rung_again_then_that_she_was_not_reached(
    phone_line: tuple[HttpsApp, FakeClock], db: Any, browser: Browser
) -> None:
    served, clock = phone_line
    await abandoned_with_callback(served, db)  # a callback task in line
    await make_officer(db, "CB-1")
    # The certificate is the test's own (tests/twilio/tls.py): the page is told to trust it.
    context = await browser.new_context(
        viewport=DESKTOP,  # type: ignore[arg-type]
        locale="en-GB",
        timezone_id="Asia/Karachi",  # the officer's clock, not the server's UTC
        ignore_https_errors=True,
    )
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(served.url + "/console")
    await log_in(page, "CB-1")
    await page.get_by_test_id("status-available").click()
    outcome = page.get_by_test_id("callback-outcome")
    said = {
        1: r"^No answer\. She will be rung again at \d\d:\d\d by the next free officer "
        r"\(ring 2 of 3\)\.$",
        2: r"^No answer\. She will be rung again at \d\d:\d\d by the next free officer "
        r"\(ring 3 of 3\)\.$",
        3: r"^Not reached after 3 rings; a note is on her case\.$",
    }
    for ring, status in enumerate(("no-answer", "busy", "failed"), start=1):
        if ring > 1:  # back in line for the next free officer: this one, here
            clock.advance(served.app[MENU].callback_retry_seconds)
            await callback_retries.sweep(served.app)
        await expect(page.get_by_test_id("offer-what")).to_contain_text("Callback")
        await page.get_by_test_id("accept").click()
        await expect(page.get_by_test_id("callback-what")).to_contain_text(f"ring {ring} of 3")
        if ring == 2:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "callback-panel.png"), full_page=True)
        await page.get_by_test_id("ring-back").click()
        ringing = await served.cloud.next_outbound(limit=10)
        await expect(page.get_by_test_id("call-state")).to_contain_text(
            f"Ringing her phone (ring {ring} of 3)"
        )
        if ring == 1:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "callback-ringing.png"), full_page=True)
        await ringing.decline(status)
        await expect(outcome).to_have_text(re.compile(said[ring]))
        assert await page.get_by_test_id("wrapup").is_visible()
        if ring == 1:
            assert await outcome.get_attribute("data-outcome") == "retry_scheduled"
            due = clock() + timedelta(seconds=served.app[MENU].callback_retry_seconds)
            local = due.astimezone(ZoneInfo("Asia/Karachi")).strftime("%H:%M")
            assert f" at {local} by " in (await outcome.text_content() or "")
        if ring in (1, 3):
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / f"callback-ring-{ring}.png"
            await page.screenshot(path=str(shot), full_page=True)
        text = await page.locator("body").inner_text()
        assert CALLER.lstrip("+") not in re.sub(r"\D", "", text)  # her number never shows
        # Done: the task the server completed already does not trouble the console.
        await page.get_by_test_id("wrapup-done").click()
        await expect(page.get_by_test_id("wrapup")).to_be_hidden()
        await expect(outcome).to_be_hidden()
        await expect(page.get_by_test_id("status-text")).to_have_text("Available for contacts")
    assert await outcome.get_attribute("data-outcome") == "unreachable"
    assert problems == []
    await context.close()
