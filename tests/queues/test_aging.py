"""No task starves: a waiting task's priority rises with its wait, up to a ceiling below the
emergency priority, on both stores.

The property: one officer takes each contact as it is offered and handles it for
``handle`` seconds; a contact of higher priority arrives every ``gap`` seconds, without
end; a low-priority task (a callback, or a contact marked down to 0-9) arrives among
them. It is offered within a bound computed from the configuration: only the tasks
already waiting and those that arrive within ``(highest priority - hers) * every``
seconds of her can stand ahead of her, and each takes ``handle`` seconds.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queues import config as routing_config
from queues import policy
from queues.config import RoutingConfig
from queues.events import Kind
from queues.model import Presence, TaskStatus
from queues.router import Contact, Router
from tests.queues.conftest import MakeRouter, flush_redis, new_store
from tests.queues.helpers import contact, drain, offered_to, online, profile
from tests.support import FakeClock

BASE = routing_config.load()


@dataclass(frozen=True)
class Stream:
    every: float
    """Aging: seconds per step of priority."""
    gap: int
    """Seconds between two arrivals of the stream."""
    handle: int
    """Seconds the officer takes over each contact."""
    before: int
    """Stream contacts already waiting when hers arrives."""
    priorities: tuple[int, ...]
    """The stream's priorities, in turn (all above hers, none an emergency)."""
    hers: int | None
    """Her priority (an override), or None for a callback."""


streams = st.builds(
    Stream,
    every=st.sampled_from([2.0, 5.0, 20.0]),
    gap=st.integers(3, 20),
    handle=st.integers(3, 40),
    before=st.integers(0, 4),
    priorities=st.lists(st.integers(10, 60), min_size=1, max_size=5).map(tuple),
    hers=st.one_of(st.none(), st.integers(0, 9)),
)


def _config(stream: Stream) -> RoutingConfig:
    # Nothing is missed or wrapped up, and offers wait for her: only the order matters.
    return replace(
        BASE,
        aging_every=stream.every,
        ttl=10**7,
        callback_ttl=10**7,
        wrap_up=0.0,
        offer_timeout=10**6,
    )


def bound(stream: Stream, config: RoutingConfig) -> float:
    """Seconds within which her task is offered, whatever the stream does."""
    hers = config.callback_priority if stream.hers is None else stream.hers
    window = (max(stream.priorities) - hers) * stream.every
    ahead = stream.before + math.floor(window / stream.gap) + 2
    return (ahead + 1) * stream.handle


async def _run(kind: str, stream: Stream) -> None:
    config = _config(stream)
    if kind == "redis":
        await flush_redis()
    clock = FakeClock()
    router = Router(new_store(kind, config), config, clock)
    await router.start(background=False)
    listener = router.listen(officer_id=1)
    try:
        await online(router, profile(1))
        arrivals = 0

        async def arrive() -> None:
            nonlocal arrivals
            arrivals += 1
            priority = stream.priorities[arrivals % len(stream.priorities)]
            await router.enqueue(contact(f"s{arrivals}", priority=priority))

        # The officer is busy with one contact, and some wait before hers.
        await arrive()
        await router.accept("s1", 1)
        held, since = "s1", clock().timestamp()
        for _ in range(stream.before):
            await arrive()
        hers_arrived = clock().timestamp()
        if stream.hers is None:
            hers_id = (
                await router.callback_again(
                    Contact(id="her", line="women", channel="phone"), attempt=1
                )
            ).task_id
        else:
            hers_id = (await router.enqueue(contact("her", priority=stream.hers))).task_id
        limit = hers_arrived + bound(stream, config)
        next_arrival = hers_arrived + stream.gap
        while True:
            await router.sync()
            for event in drain(listener):
                if event.kind == Kind.OFFERED and event.task_id == hers_id:
                    assert clock().timestamp() <= limit
                    return
            task = router.board.tasks.get(hers_id)
            assert task is not None and task.status == TaskStatus.WAITING
            done_at = since + stream.handle
            now = min(next_arrival, done_at)
            assert now <= limit, (stream, now - hers_arrived, bound(stream, config))
            clock.advance(now - clock().timestamp())
            await router.tick()
            if now == done_at:
                await router.complete(held, 1)
                await router.sync()
                offered = router.board.officers[1].offer
                assert offered is not None  # a stream contact or hers
                if offered == hers_id:
                    continue  # the listener reports it
                await router.accept(offered, 1)
                held, since = offered, now
            else:
                await arrive()
                next_arrival += stream.gap
    finally:
        listener.close()
        await router.stop()


def _profile(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


@_profile(40)
@given(stream=streams)
def test_no_task_starves_behind_a_stream_in_memory(stream: Stream) -> None:
    asyncio.run(_run("memory", stream))


@_profile(8)
@given(stream=streams)
def test_no_task_starves_behind_a_stream_on_redis(stream: Stream) -> None:
    asyncio.run(_run("redis", stream))


async def test_a_waiting_task_rises_but_an_emergency_stays_first(
    make_router: MakeRouter, clock: FakeClock
) -> None:
    router = await make_router(config=replace(BASE, ttl=10**6))
    config = router.config
    await online(router, profile(1))
    await router.enqueue(contact("busy"))
    await router.accept("busy", 1)
    await router.enqueue(contact("low", priority=0))
    clock.advance(config.aging_every * config.default_priority + 1)
    await router.enqueue(contact("plain"))  # the default priority, fresh
    assert [t.id for t in router.board.waiting("women")] == ["low", "plain"]
    clock.advance(config.aging_every * config.emergency_priority)  # "low" is at the ceiling
    await router.enqueue(contact("urgent", emergency=True))
    assert [t.id for t in router.board.waiting("women")] == ["urgent", "low", "plain"]
    low = router.board.tasks["low"]
    assert policy.effective_priority(low, clock().timestamp(), config) == config.aging_ceiling
    await router.complete("busy", 1)
    clock.advance(config.wrap_up)
    await router.set_presence(1, Presence.AVAILABLE)
    assert offered_to(router, "urgent") == 1
