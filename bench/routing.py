"""Routing benchmark: both stores side by side, in one run (not a test).

For each store, with 500 officers online and 2,000 tasks waiting:

* **assignments/s (drain)** — all 500 officers come free at once (a shift
  starts) with 2,000 waiting: the router plans an offer for each, greedy in line
  order, and commits them together; timed over rounds (between rounds every
  officer declines, untimed).
* **assignments/s (one frees)** — steady state: an officer finishes (complete,
  no wrap-up) and the router chooses the next task in line for her and commits
  the offer: the rate of that call (capacity freed, task chosen, offer written —
  one store step, so one Lua call on Redis).
* **full cycles/s** — the same loop counting everything: she finishes, is
  offered, accepts, and a new task arrives so 2,000 keep waiting (enqueue +
  complete + offer + accept, each committed in the store). By one coroutine,
  and by 16 at once.
* **enqueue-to-offer latency** — 2,000 tasks wait that nobody online may take
  (a language nobody speaks, the clock held still so it never relaxes) while
  officers are free: each new task is enqueued and offered at once. Measured
  from the call to the offer committed in the store ("decided") and, for Redis,
  to the offer event reaching a console listener in this process ("delivered").
* **ceiling** — the raw rate of one trivial Lua call (EVALSHA ``return 1``) from
  this process, sequential and 16 at once.

``python -m bench routing [--redis URL] [--quick]``; the Redis database is flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from queues import config as routing_config
from queues.config import RoutingConfig
from queues.events import Kind
from queues.memory_store import MemoryStore
from queues.model import OfficerProfile, Presence
from queues.redis_store import RedisStore
from queues.router import Contact, Router
from queues.store import Store

OFFICERS = 500
WAITING = 2000
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
"""The benchmarks' database (flushed); db 6 belongs to the signaling tests."""


def bench_config() -> RoutingConfig:
    text = routing_config.load_default_text()
    text = text.replace("timeout = 20 ", "timeout = 3000 ").replace("wrap_up = 30 ", "wrap_up = 0 ")
    text = text.replace("ttl = 900 ", "ttl = 86000 ")
    return routing_config.parse(text, "bench.toml")


class StillClock:
    """Time held still: nothing relaxes or expires during a run."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _router(kind: str, url: str) -> Router:
    config = bench_config()
    store: Store
    if kind == "memory":
        store = MemoryStore(config)
    else:
        client = aioredis.from_url(url)
        await client.flushdb()
        await client.aclose()
        store = RedisStore(config, url)
    router = Router(store, config, StillClock())
    await router.start(background=False)
    for n in range(1, OFFICERS + 1):
        await router.register(
            OfficerProfile(n, "female", frozenset({"women", "child"}), frozenset({"ur", "en"}))
        )
        await router.set_presence(n, Presence.AVAILABLE)
    return router


async def throughput(kind: str, url: str, assignments: int, workers: int) -> tuple[float, float]:
    """Full cycles per second, and assignments per second of time spent assigning."""
    router = await _router(kind, url)
    counter = iter(range(10**9))
    for _ in range(OFFICERS + WAITING):
        await router.enqueue(Contact(id=f"t{next(counter)}", line="women", channel="phone"))
    await router.sync()
    board = router.board
    assert sum(1 for o in board.officers.values() if o.offer) == OFFICERS
    for officer in list(board.officers.values()):  # every officer takes her first offer
        assert officer.offer is not None
        await router.accept(officer.offer, officer.id)
    share = assignments // workers

    async def worker(officer_ids: list[int]) -> None:
        clock = time.perf_counter
        for n in range(share):
            oid = officer_ids[n % len(officer_ids)]
            held = next(t for t in holding[oid])
            holding[oid].discard(held)
            began = clock()
            await router.complete(held, oid)
            assigning[0] += clock() - began
            await router.enqueue(Contact(id=f"t{next(counter)}", line="women", channel="phone"))
            offer = board.officers[oid].offer
            for _ in range(1000):  # with others at work, her offer may be on its way
                if offer is not None:
                    break
                await asyncio.sleep(0.001)
                offer = board.officers[oid].offer
            assert offer is not None, "the router offered her the next task"
            await router.accept(offer, oid)
            holding[oid].add(offer)

    assigning = [0.0]
    holding: dict[int, set[str]] = {o: set() for o in board.officers}
    for task in board.tasks.values():
        if task.officer is not None:
            holding[task.officer].add(task.id)
    ids = sorted(board.officers)
    gc.collect()
    started = time.perf_counter()
    await asyncio.gather(*(worker(ids[w::workers]) for w in range(workers)))
    elapsed = time.perf_counter() - started
    assert len(board.waiting("women")) == WAITING
    await router.stop()
    done = share * workers
    return done / elapsed, done / assigning[0]


async def drain(kind: str, url: str, rounds: int) -> float:
    """Assignments per second when 500 officers come free at once and 2,000 tasks wait.

    Each round the router plans and commits an offer for every officer (``sweep``),
    timed; then every officer declines (not timed), and the next round begins.
    """
    router = await _router(kind, url)
    store, now = router.store, router.clock().timestamp()
    for n in range(1, OFFICERS + 1):  # away while the line fills up
        await store.set_presence(n, Presence.BREAK, now, exclude_until=0.0)
    for n in range(OFFICERS + WAITING):
        await router.enqueue(Contact(id=f"d{n}", line="women", channel="phone"))
    for n in range(1, OFFICERS + 1):  # back all at once: nothing is offered until the sweep
        await store.set_presence(n, Presence.AVAILABLE, now, exclude_until=0.0)
    await router.sync()
    spent = 0.0
    made = 0
    rounds_made: list[int] = []
    gc.collect()
    for _ in range(rounds):
        started = time.perf_counter()
        got = await router.sweep()
        rounds_made.append(got)
        made += got
        spent += time.perf_counter() - started
        for officer in list(router.board.officers.values()):
            if officer.offer is not None:
                await store.release(
                    officer.offer,
                    officer.id,
                    now,
                    kind=Kind.DECLINED,
                    exclude_until=0.0,
                    no_answer_limit=3,
                )
    await router.stop()
    assert made >= rounds * OFFICERS * 0.99, rounds_made
    return made / spent


async def latency(kind: str, url: str, samples: int) -> tuple[list[float], list[float]]:
    """Enqueue-to-offer, decided and delivered (seconds)."""
    router = await _router(kind, url)
    for n in range(WAITING):  # nobody online speaks Punjabi, and the clock stands still
        await router.enqueue(Contact(id=f"pa{n}", line="women", channel="phone", language="pa"))
    await router.sync()
    assert len(router.board.waiting("women")) == WAITING
    decided: list[float] = []
    delivered: list[float] = []
    listener = router.listen()
    gc.collect()
    for n in range(samples):
        task_id = f"ur{n}"
        started = time.perf_counter()
        placement = await router.enqueue(
            Contact(id=task_id, line="women", channel="phone", language="ur")
        )
        decided.append(time.perf_counter() - started)
        while True:
            event = await listener.next()
            if event.kind == "offered" and event.task_id == task_id:
                break
        delivered.append(time.perf_counter() - started)
        officer = placement.officer_id
        assert officer is not None
        await router.accept(task_id, officer)
        await router.complete(task_id, officer)
        await router.sync()
        while not listener.queue.empty():
            listener.queue.get_nowait()
    listener.close()
    await router.stop()
    return decided, delivered


async def lua_ceiling(url: str, calls: int, workers: int) -> float:
    client = aioredis.from_url(url)
    script = client.register_script("return 1")
    await script()
    share = calls // workers

    async def loop() -> None:
        for _ in range(share):
            await script()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    await client.aclose()
    return share * workers / elapsed


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def run(url: str, quick: bool) -> None:
    scale = 0.2 if quick else 1.0
    results: dict[str, dict[str, Any]] = {}
    one_frees: dict[str, float] = {}
    for kind, count in (("memory", 30_000), ("redis", 6_000)):
        n = int(count * scale)
        drained = await drain(kind, url, max(2, int(20 * scale)))
        one, assign_one = await throughput(kind, url, n, 1)
        one_frees[kind] = assign_one
        many, _ = await throughput(kind, url, n, 16)
        decided, delivered = await latency(kind, url, int(2000 * scale))
        results[kind] = {
            "assignments/s (drain: all come free)": f"{drained:,.0f}",
            "assignments/s (one frees -> offer)": f"{assign_one:,.0f}",
            "full cycles/s (1 coroutine)": f"{one:,.0f}",
            "full cycles/s (16 at once)": f"{many:,.0f}",
            "enqueue-to-offer p50 (decided)": _ms(statistics.median(decided)),
            "enqueue-to-offer p99 (decided)": _ms(percentile(decided, 0.99)),
            "enqueue-to-offer p50 (delivered)": _ms(statistics.median(delivered)),
            "enqueue-to-offer p99 (delivered)": _ms(percentile(delivered, 0.99)),
        }
    ceiling_one = await lua_ceiling(url, int(30_000 * scale), 1)
    ceiling_many = await lua_ceiling(url, int(60_000 * scale), 16)
    print(f"routing: {OFFICERS} officers online, {WAITING} tasks waiting, one process")
    width = max(len(k) for k in results["memory"])
    print(f"{'':{width}}  {'in-process':>14}  {'redis':>14}")
    for key in results["memory"]:
        print(f"{key:{width}}  {results['memory'][key]:>14}  {results['redis'][key]:>14}")
    print(f"{'one Lua call/s (ceiling, 1)':{width}}  {'':>14}  {ceiling_one:>14,.0f}")
    print(f"{'one Lua call/s (ceiling, 16)':{width}}  {'':>14}  {ceiling_many:>14,.0f}")
    # The machine's load moves every figure; the share of the ceiling moves much less.
    share = one_frees["redis"] / ceiling_one
    print(f"{'one frees -> offer / ceiling (1)':{width}}  {'':>14}  {share:>14.0%}")


def main(argv: list[str], out: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench routing")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL (flushed)")
    parser.add_argument("--quick", action="store_true", help="a fifth of the work")
    args = parser.parse_args(argv)
    asyncio.run(run(args.redis, args.quick))
