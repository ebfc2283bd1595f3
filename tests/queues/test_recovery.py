"""Redis lost the routing state: noticed on the next step, rebuilt, each task put back once.

Two routers (two processes) on one real Redis, each with its :class:`Recovery`; Redis is
flushed under them (the app-level test, tests/contacts/test_redis_reset.py, kills a
redis-server of its own instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from queues import config as routing_config
from queues.model import OfficerProfile, Presence, TaskStatus
from queues.recovery import Held, Recovery
from queues.redis_store import RedisStore
from queues.router import Contact, Router
from queues.store import Rebuilding
from tests.queues.conftest import REDIS_URL, flush_redis
from tests.support import FakeClock

CONFIG = routing_config.load()
HER = OfficerProfile(1, "female", frozenset({"women"}), frozenset({"ur"}))

Start = Callable[..., Awaitable[tuple[Router, Recovery]]]


@pytest.fixture
async def start(clock: FakeClock) -> AsyncIterator[Start]:
    """``router, recovery = await start(every=...)``: one process on the test Redis."""
    await flush_redis()
    made: list[tuple[Router, Recovery]] = []

    async def make(every: float = 0.05) -> tuple[Router, Recovery]:
        store = RedisStore(CONFIG, REDIS_URL, groups=("timeline",))
        router = Router(store, CONFIG, clock)
        await router.start(background=False)
        recovery = Recovery(router, store, every=every)
        recovery.start()
        made.append((router, recovery))
        return router, recovery

    yield make
    for router, recovery in made:
        await recovery.stop()
        await router.stop()


async def flush() -> None:
    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    await client.aclose()


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def events() -> list[dict[str, Any]]:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        entries: Any = await client.xrange("safecall:{queues}:events")
    finally:
        await client.aclose()
    return [fields for _id, fields in entries]


@pytest.mark.parametrize("step", ["presence", "accept"])
async def test_the_next_step_notices_the_loss_and_is_refused_until_rebuilt(
    start: Start, step: str
) -> None:
    router, recovery = await start(every=3600.0)  # no periodic check: the step notices
    await router.register(HER)
    await router.set_presence(1, Presence.AVAILABLE)
    await router.enqueue(Contact("chat-1", "women", "chat"))
    counted = REGISTRY.get_sample_value("safecall_queues_rebuilds_total") or 0.0
    await flush()

    with pytest.raises(Rebuilding) as refused:
        if step == "presence":
            await router.set_presence(1, Presence.BREAK)
        else:
            await router.accept("chat-1", 1)
    assert refused.value.code == "redis_reset" and refused.value.retry_after == 1
    await until(lambda: recovery.rebuilds == 1, "rebuilt")
    assert REGISTRY.get_sample_value("safecall_queues_rebuilds_total") == counted + 1
    assert router.asked == {1: Presence.AVAILABLE}
    officer = router.officer(1)
    assert officer is not None and officer.presence == Presence.OFFLINE
    # The copy follows the new Redis again: her state changes are taken.
    assert (await router.set_presence(1, Presence.BREAK)).presence == Presence.BREAK
    assert (await recovery.confirm(1)) == Presence.AVAILABLE and router.asked == {}


async def test_two_processes_put_each_open_contact_back_once(start: Start) -> None:
    a, recovery_a = await start()
    b, recovery_b = await start()
    await a.register(HER)
    await a.set_presence(1, Presence.AVAILABLE)
    await a.enqueue(Contact("chat-1", "women", "chat"))
    await a.accept("chat-1", 1)
    for n in (2, 3):  # a voice call does not fit beside her chat: they wait
        await b.enqueue(Contact(f"video-{n}", "women", "browser_video"))
    before = {fields["i"] for fields in await events()}
    held = [
        Held(Contact("chat-1", "women", "chat"), 1),
        Held(Contact("video-2", "women", "browser_video"), None),
        Held(Contact("video-3", "women", "browser_video"), None),
    ]
    done: list[int] = []

    async def put_back(recovery: Recovery) -> None:
        done.append(await recovery.put_back(held))

    recovery_a.steps.append(lambda: put_back(recovery_a))
    recovery_b.steps.append(lambda: put_back(recovery_b))
    await flush()

    await until(lambda: recovery_a.rebuilds == recovery_b.rebuilds == 1, "both rebuilt")
    assert len(done) == 2 and sum(done) == 3  # once each, whoever did it
    tasks, officers = await a.store.snapshot()
    assert tasks["chat-1"].status == TaskStatus.ASSIGNED and tasks["chat-1"].officer == 1
    assert {tasks[t].status for t in ("video-2", "video-3")} == {TaskStatus.WAITING}
    assert officers[1].load == tasks["chat-1"].cost and officers[1].presence == Presence.OFFLINE
    restored = [f for f in await events() if f["k"] == "restored"]
    assert sorted(f["i"].split("#")[0] for f in restored) == ["chat-1", "video-2", "video-3"]
    assert not {f["i"] for f in restored} & before  # the timeline keeps every event once
    await a.sync()
    await b.sync()
    for router in (a, b):  # both copies follow the rebuilt state
        assert router.placement("video-2").status == "waiting"
        assert router.placement("chat-1").officer_id == 1
        assert router.asked == {1: Presence.AVAILABLE}


async def test_redis_back_older_is_noticed_and_what_it_lost_put_back(start: Start) -> None:
    """AOF synced every second: a crash may lose the last writes. The epoch survives, but
    the events stream ends before what the process read: the same rebuild, and only the
    officers whose choice was lost are asked."""
    router, recovery = await start()
    await router.register(HER)
    await router.set_presence(1, Presence.AVAILABLE)
    client = aioredis.from_url(REDIS_URL)
    saved: dict[Any, Any] = {key: await client.dump(key) for key in await client.keys("*")}
    await router.enqueue(Contact("video-1", "women", "browser_video"))
    assert router.placement("video-1").status == "offered"
    await router.sync()  # this process has read the stream past what Redis will lose
    recovery.steps.append(
        lambda: recovery.put_back([Held(Contact("video-1", "women", "browser_video"), None)])
    )
    await client.flushdb()  # Redis comes back as it was before the contact came
    for key, dumped in saved.items():
        await client.restore(key, 0, dumped)
    await client.aclose()

    await until(lambda: recovery.rebuilds == 1, "rebuilt")
    assert router.asked == {}  # her presence was not lost: nothing to confirm
    await router.sync()
    assert router.placement("video-1").status == "offered"
    officer = router.officer(1)
    assert officer is not None and officer.offer == "video-1"
