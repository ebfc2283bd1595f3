"""A browser video call between the citizen page and the console, set up for a test.

``answered_video_call`` opens both pages (each on its own server URL: one
process or two), has her start a video call and the officer accept it, and
closes both pages afterwards; ``hang_up`` ends the call from her page and waits
until the contact is logged as ended.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import ContactSession
from officers.models import Officer
from tests.calls.media import arm_first_frames
from tests.calls.test_call import DESKTOP, PHONE, log_in, make_officer, open_page, wait_for_end
from tests.support import copy_sqlite

Db = async_sessionmaker[AsyncSession]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the pages behave the same on either database, and browsers are slow."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


@dataclass
class Call:
    officer: Officer
    citizen: Page
    console: Page
    citizen_problems: list[str]
    console_problems: list[str]

    @property
    def problems(self) -> list[str]:
        """Script errors and refused content on either page, so far."""
        return self.citizen_problems + self.console_problems


@asynccontextmanager
async def answered_video_call(
    browser: Browser, db: Db, citizen_url: str, console_url: str, badge: str
) -> AsyncIterator[Call]:
    """She starts a video call; the officer ``badge`` logs in, goes available and accepts.

    Yields as soon as the officer has clicked accept (media may still be connecting).
    """
    officer = await make_officer(db, badge)
    citizen_ctx, citizen, citizen_problems = await open_page(browser, citizen_url, PHONE)
    console_ctx, console, console_problems = await open_page(browser, console_url, DESKTOP)
    try:
        await citizen.get_by_test_id("start-video").click()
        await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
        await log_in(console, badge)
        await console.get_by_test_id("status-available").click()
        await console.get_by_test_id("offer").wait_for(state="visible")
        await arm_first_frames(console, citizen)  # first_frames() gives the figure
        await console.get_by_test_id("accept").click()
        yield Call(officer, citizen, console, citizen_problems, console_problems)
    finally:
        await citizen_ctx.close()
        await console_ctx.close()


async def hang_up(call: Call, db: Db) -> ContactSession:
    """She hangs up; the contact once the server has logged its end."""
    await call.citizen.get_by_test_id("hangup").click()
    await call.citizen.get_by_test_id("hangup-confirm").click()  # End asks first
    session_id = await call.citizen.evaluate("() => window.safecallCall.id")
    return await wait_for_end(db, session_id)
