"""The citizen page on one ``safecall serve`` process, the console on another, one Redis.

Runs in the loopback-only namespace (scripts/in-netns.sh), whose own Redis the
two processes share: the call's signaling crosses between them through it.
"""

from __future__ import annotations

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
from tests.calls.pages import answered_video_call, database_url, hang_up
from tests.calls.servers import REDIS_URL, Served, serve

pytestmark = pytest.mark.browser
__all__ = ["browser", "database_url"]
Db = async_sessionmaker[AsyncSession]


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


async def answers(served: Served) -> bool:
    async with aiohttp.ClientSession() as http, http.get(served.url + "/healthz") as response:
        return response.status == 200


async def test_a_video_call_between_pages_on_two_server_processes(
    two_processes: list[Served], db: Db, browser: Any
) -> None:
    hers, theirs = two_processes
    # Two processes (/healthz no longer tells its process id: a stranger has no use for it).
    assert await answers(hers) and await answers(theirs)
    assert hers.pid != theirs.pid and hers.url != theirs.url
    async with answered_video_call(
        browser, db, hers.url + "/", theirs.url + "/console", "LHR-501"
    ) as call:
        took = await first_frames(call.console, call.citizen)
        # A figure for the closing note, not an assertion: this machine is shared.
        print(f"two processes: accept to first decoded frame: {took:.3f} s")
        await media_flows(call.console)
        await media_flows(call.citizen)
        await call.citizen.get_by_test_id("chat-input").fill("across two processes")
        await call.citizen.get_by_test_id("chat-send").click()
        await call.console.get_by_text("across two processes").wait_for()

        contact = await hang_up(call, db)
        await call.console.get_by_test_id("wrapup").wait_for(state="visible")
        assert contact.disposition == "answered"
        assert contact.officer_id == call.officer.id
        assert call.problems == []
