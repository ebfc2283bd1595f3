"""The citizen page on one ``safecall serve`` process, the console on another, one Redis.

Runs in the loopback-only namespace (scripts/in-netns.sh), whose own Redis the
two processes share: the call's signaling crosses between them through it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safecall.settings import Settings
from tests.browser import browser
from tests.calls.media import first_frames, media_flows
from tests.calls.servers import REDIS_URL, Served, serve
from tests.calls.test_call import (
    DESKTOP,
    PHONE,
    log_in,
    make_officer,
    open_page,
    wait_for_end,
)
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]
Db = async_sessionmaker[AsyncSession]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


@pytest.fixture
async def two_processes(settings: Settings, tmp_path: Path) -> AsyncIterator[list[Served]]:
    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    started: list[Served] = []
    try:
        started.append(await serve(settings, tmp_path, REDIS_URL))
        started.append(await serve(settings, tmp_path, REDIS_URL))
        yield started
    finally:
        for served in started:
            served.stop()
        await client.flushdb()
        await client.aclose()


async def process_id(served: Served) -> int:
    async with aiohttp.ClientSession() as http, http.get(served.url + "/healthz") as response:
        pid: int = (await response.json())["pid"]
        return pid


async def test_a_video_call_between_pages_on_two_server_processes(
    two_processes: list[Served], db: Db, browser: Any
) -> None:
    hers, theirs = two_processes
    assert await process_id(hers) == hers.pid
    assert await process_id(theirs) == theirs.pid
    assert hers.pid != theirs.pid
    officer = await make_officer(db, "LHR-501")
    citizen_ctx, citizen, problems = await open_page(browser, hers.url + "/", PHONE)
    console_ctx, console, console_problems = await open_page(
        browser, theirs.url + "/console", DESKTOP
    )

    await citizen.get_by_test_id("start-video").click()
    await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
    await log_in(console, "LHR-501")
    await console.get_by_test_id("status-available").click()
    await console.get_by_test_id("offer").wait_for(state="visible")
    accepted = time.monotonic()
    await console.get_by_test_id("accept").click()
    await first_frames(console, citizen)
    # A figure for the closing note, not an assertion: this machine is shared.
    print(f"two processes: accept to first decoded frame: {time.monotonic() - accepted:.2f} s")
    await media_flows(console)
    await media_flows(citizen)
    await citizen.get_by_test_id("chat-input").fill("across two processes")
    await citizen.get_by_test_id("chat-send").click()
    await console.get_by_text("across two processes").wait_for()

    await citizen.get_by_test_id("hangup").click()
    await console.get_by_test_id("wrapup").wait_for(state="visible")
    session_id = await citizen.evaluate("() => window.safecallCall.id")
    contact = await wait_for_end(db, session_id)
    assert contact.disposition == "answered"
    assert contact.officer_id == officer.id
    assert problems == [] and console_problems == []
    await citizen_ctx.close()
    await console_ctx.close()
