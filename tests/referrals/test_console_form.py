"""The console's referral form in real headless Chromium: during a chat whose writer shared
her location, the form suggests the station whose jurisdiction holds it; the officer refers,
and sees the station acknowledge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.browser import browser
from tests.calls.test_call import DESKTOP, PHONE, log_in, shoot
from tests.calls.test_wallboard import make_officer
from tests.referrals.conftest import GULBERG, INSIDE_GULBERG, Login
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]

Db = async_sessionmaker[AsyncSession]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def test_an_officer_refers_the_chat_in_hand(
    client: Any, db: Db, browser: Browser, login_as: Login
) -> None:
    await make_officer(db, "LHR-R1")
    her_context = await browser.new_context(
        viewport=PHONE,  # type: ignore[arg-type]
        geolocation={
            "latitude": INSIDE_GULBERG["latitude"],
            "longitude": INSIDE_GULBERG["longitude"],
        },
        permissions=["geolocation"],
    )
    her = await her_context.new_page()
    await her.goto(str(client.make_url("/")))
    console_context = await browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    console = await console_context.new_page()
    problems: list[str] = []
    console.on("pageerror", lambda e: problems.append(str(e)))
    await console.goto(str(client.make_url("/console")))
    await log_in(console, "LHR-R1")
    await console.get_by_test_id("status-available").click()

    await her.locator("details.more summary").click()
    await her.get_by_test_id("share-location").check()
    await her.get_by_test_id("start-chat").click()
    await her.get_by_test_id("tracking-code").wait_for(state="visible")
    await console.get_by_test_id("offer").wait_for(state="visible")
    await console.get_by_test_id("accept").click()
    await console.get_by_test_id("call-view").wait_for(state="visible")

    panel = console.get_by_test_id("referral-panel")
    await panel.wait_for(state="visible")
    await (
        console.get_by_test_id("referral-suggested")
        .filter(has_text="Gulberg police station (her location is inside its area)")
        .wait_for()
    )
    assert await console.get_by_test_id("referral-place").input_value() == GULBERG
    assert await console.get_by_test_id("referral-share-name").is_disabled()  # anonymous
    await console.get_by_test_id("referral-urgency").select_option("emergency")
    await console.get_by_test_id("referral-reason").fill("She is writing from a locked bathroom.")
    await console.get_by_test_id("referral-live").check()
    await console.get_by_test_id("referral-send").click()
    await (
        console.get_by_test_id("referral-said")
        .filter(has_text="Referred to Gulberg police station")
        .wait_for()
    )
    item = console.get_by_test_id("referral-item")
    await item.filter(has_text="sent, waiting for the place").wait_for()
    await panel.scroll_into_view_if_needed()
    await shoot(console, "console-referral-form")

    station, _ = await login_as("station", place=GULBERG, lines=[])
    listed = await (await station.get("/api/field/referrals")).json()
    referral = listed["referrals"][0]
    assert referral["live_location"] is True
    assert (await station.post(f"/api/field/referrals/{referral['id']}/acknowledge")).ok
    await item.filter(has_text="acknowledged").wait_for(timeout=15_000)
    assert problems == []
    await her_context.close()
    await console_context.close()
