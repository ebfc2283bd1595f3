"""Fixtures: every contract test runs on the in-process store and on a real Redis.

Redis tests use their own database number (``SAFECALL_TEST_QUEUES_REDIS``,
default db 5), flushed before each test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from queues import config as routing_config
from queues.config import RoutingConfig
from queues.memory_store import MemoryStore
from queues.redis_store import RedisStore
from queues.router import Router
from queues.store import Store
from tests.support import FakeClock, redis_db

REDIS_URL = os.environ.get("SAFECALL_TEST_QUEUES_REDIS", redis_db(5))

MakeRouter = Callable[..., Awaitable[Router]]


async def flush_redis() -> None:
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def new_store(kind: str, config: RoutingConfig, groups: tuple[str, ...] = ()) -> Store:
    if kind == "memory":
        return MemoryStore(config, groups=groups, redeliver_after=0.2)
    return RedisStore(config, REDIS_URL, groups=groups, redeliver_after=0.2)


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_router(store_kind: str, clock: FakeClock) -> AsyncIterator[MakeRouter]:
    """``router = await make_router(config=..., groups=("timeline",))``; several share a store."""
    if store_kind == "redis":
        await flush_redis()
    routers: list[Router] = []

    async def make(
        config: RoutingConfig | None = None, groups: tuple[str, ...] = ("timeline",)
    ) -> Router:
        chosen = config or routing_config.load()
        router = Router(new_store(store_kind, chosen, groups), chosen, clock)
        await router.start(background=False)
        routers.append(router)
        return router

    yield make
    for router in routers:
        await router.stop()


@pytest.fixture
async def router(make_router: MakeRouter) -> Router:
    return await make_router()
