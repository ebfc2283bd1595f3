"""Redis lost the sessions (flushed, or restarted without persistence) while calls go on.

The process holding a live socket makes its session again (signaling/lua/restore.lua):
both pages of a call on different processes go on, numbered on without a gap; an officer
whose citizen's page was away at that moment sees the call end as dropped after the grace
period, as it would have without the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from tests.signaling.conftest import Connect, open_call
from tests.support import copy_sqlite


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: what is tested here is Redis, not the database."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def flush(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()


async def test_a_call_across_two_processes_goes_on_after_redis_lost_it(
    aiohttp_client: Any,
    make_app: Callable[..., web.Application],
    redis_url: str,
    connect: Connect,
    officer_cookie: Any,
) -> None:
    # A grace period of seconds, as in production (30 s): each process notices the loss on
    # its next step or its next check (every 0.5 s); the suite's 0.4 s would race that.
    a = await aiohttp_client(make_app(redis_url, grace_seconds=5.0))
    b = await aiohttp_client(make_app(redis_url, grace_seconds=5.0))
    cookie, officer_id = await officer_cookie()
    call = await open_call(connect, a, b, cookie, officer_id=officer_id)
    await call.citizen.send("chat", text="one")
    assert (await call.officer.expect("chat"))["text"] == "one"

    await flush(redis_url)
    # Each page's seqs go on from where they were (Page checks every server seq).
    await call.officer.send("chat", text="two")
    assert (await call.citizen.expect("chat"))["text"] == "two"
    await call.citizen.send("chat", text="three")
    assert (await call.officer.expect("chat"))["text"] == "three"
    await call.citizen.send("hangup")
    await call.officer.expect("hangup")
    ended = await call.officer.expect("session-ended")
    assert ended["reason"] == "hangup" and ended["side"] == "citizen"


async def test_a_citizen_away_when_redis_lost_the_call_drops_after_the_grace(
    aiohttp_client: Any,
    make_app: Callable[..., web.Application],
    redis_url: str,
    connect: Connect,
    officer_cookie: Any,
) -> None:
    a = await aiohttp_client(make_app(redis_url, grace_seconds=1.0))
    b = await aiohttp_client(make_app(redis_url, grace_seconds=1.0))
    cookie, officer_id = await officer_cookie()
    call = await open_call(connect, a, b, cookie, officer_id=officer_id)
    await call.citizen.ws.close()  # her phone lost its connection...
    await call.officer.expect("peer-left")
    await flush(redis_url)  # ...and Redis lost the call, her grace deadline with it

    await call.officer.send("chat", text="are you there?")
    ended = await call.officer.expect("session-ended", wait=10)
    assert ended["reason"] == "dropped" and ended["side"] == "citizen"
