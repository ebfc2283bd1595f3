"""Her video call from Firefox (Debian's firefox-esr) to the console in Chromium.

Firefox is driven over WebDriver BiDi by puppeteer-core (npm, ``npm ci``) from
``tests/calls/firefox_citizen.js``, which prints each step as a JSON line; the console is
Playwright's Chromium. Media must flow both ways and chat go each way before she hangs up.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.browser import browser
from tests.calls.media import media_flows
from tests.calls.test_call import DESKTOP, log_in, make_officer, open_page, wait_for_end
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]

Db = async_sessionmaker[AsyncSession]
ROOT = Path(__file__).parents[2]
SCRIPT = Path(__file__).with_name("firefox_citizen.js")
FIREFOX = "/usr/bin/firefox-esr"


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the pages behave the same on either database, and browsers are slow."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def next_step(process: asyncio.subprocess.Process, wait: float = 60.0) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), wait)
    if not line:
        error = b"" if process.stderr is None else await process.stderr.read()
        raise AssertionError(f"the Firefox driver stopped: {error.decode(errors='replace')}")
    step: dict[str, Any] = json.loads(line)
    assert step["step"] != "error", step["message"]
    return step


NEEDED = (Path(FIREFOX), ROOT / "node_modules" / "puppeteer-core")


async def test_a_video_call_from_firefox(client: Any, db: Db, browser: Browser) -> None:
    missing = [str(path) for path in NEEDED if not path.exists()]
    assert not missing, f"{missing} missing: make test installs them"
    officer = await make_officer(db, "FFX-1")
    process = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(SCRIPT),
        str(client.make_url("/")),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    console_ctx, console, problems = await open_page(
        browser, str(client.make_url("/console")), DESKTOP
    )
    try:
        waiting = await next_step(process)
        await log_in(console, "FFX-1")
        await console.get_by_test_id("status-available").click()
        await console.get_by_test_id("offer").wait_for(state="visible")
        await console.get_by_test_id("accept").click()
        media = await next_step(process)  # Chromium's camera and microphone reach Firefox
        await media_flows(console)  # ... and Firefox's reach Chromium
        assert media["step"] == "media" and media["frames"] > 0, media
        print(f"Firefox: {media['userAgent']}")
        await console.get_by_text("hello from firefox").wait_for()
        await console.get_by_test_id("chat-input").fill("hello from the console")
        await console.get_by_test_id("chat-send").click()
        assert (await next_step(process))["step"] == "chat"
        assert (await next_step(process))["step"] == "ended"
        await console.get_by_test_id("wrapup").wait_for(state="visible")
        contact = await wait_for_end(db, waiting["session"])
        assert contact.disposition == "answered"
        assert contact.officer_id == officer.id
        assert problems == []
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        await console_ctx.close()
