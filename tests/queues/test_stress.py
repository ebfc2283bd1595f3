"""Three router processes on one real Redis, killed with SIGKILL at random, over several seeds.

Each seed: thousands of contacts arrive, hundreds of officers answer them
(``stress_worker.py``), and every second or two a random router process is
killed and started again. The outcome is checked against a ledger this test
keeps itself, from the raw events stream and the database (not the store's
own code or counters):

* no double assignment: replaying the stream, every offer goes to a task that
  is waiting and to an officer with no offer pending and room for it, every
  accept comes from the officer offered, and no officer ever holds more than
  her capacity; a female-only task only ever reaches a female officer;
* no lost task: every contact that arrived ends exactly once;
* every event once on the timeline: each routing event of a known session is
  in ``timeline_events`` exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from sqlalchemy import insert, select, text

from cases.models import Case, ContactSession, TimelineEvent
from queues.events import TASK_KINDS
from queues.model import CHANNEL_KINDS
from queues.redis_store import PREFIX
from safecall.db import create_engine, utcnow
from tests.queues.stress_worker import WORKERS, arrivals, officers, stress_config
from tests.support import redis_db

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
SEEDS = (11, 12, 13, 14, 15, 16) if LONG else (11, 12)
"""Each seed kills at least four routers; ``HYPOTHESIS_PROFILE=long`` runs more seeds."""
TASKS = 1000
OFFICERS = 150
SPREAD = 5.0
"""Seconds over which the contacts of one seed arrive."""
KILLING = 6.0
"""Seconds during which processes are killed."""
STALL = 20.0
"""Seconds without one more task ending (or timeline entry written) before the test gives
up waiting: a deadline on progress, so a loaded machine is slower but not a failure."""
CAP = 300.0
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


REDIS_URL = os.environ.get("SAFECALL_TEST_STRESS_REDIS", redis_db(7))
"""A database of its own: flushed at each seed."""
LOGS = Path(os.environ.get("SAFECALL_STRESS_LOGS", "/tmp"))


def _start(seed: int, index: int, database: str, start: float) -> subprocess.Popen[bytes]:
    log = open(LOGS / f"safecall-stress-{seed}-{index}.log", "ab")
    with log:  # the child keeps its own copy
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.queues.stress_worker",
                "--redis",
                REDIS_URL,
                "--database",
                database,
                "--index",
                str(index),
                "--seed",
                str(seed),
                "--tasks",
                str(TASKS),
                "--officers",
                str(OFFICERS),
                "--spread",
                str(SPREAD),
                "--start",
                str(start),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


async def _sessions(database: str, seed: int) -> None:
    engine = create_engine(database)
    now = utcnow()
    async with engine.begin() as conn:
        case_id = (
            await conn.execute(
                insert(Case)
                .values(tracking_code=f"STRESS{seed:04d}", service_line="women", created_at=now)
                .returning(Case.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(ContactSession),
            [
                {
                    "id": a.task_id,
                    "case_id": case_id,
                    "service_line": a.line,
                    "channel": a.channel,
                    "arrived_at": now,
                }
                for a in arrivals(seed, TASKS, SPREAD)
            ],
        )
    await engine.dispose()


async def _timeline_keys(database: str, seed: int) -> Counter[str]:
    engine = create_engine(database)
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(TimelineEvent.key).where(TimelineEvent.session_id.like(f"s{seed}-t%"))
        )
        keys = Counter(key for (key,) in rows if key.startswith("queue:"))
    await engine.dispose()
    return keys


class Ledger:
    """The test's own account of the stream, replayed entry by entry."""

    def __init__(self, seed: int) -> None:
        self.config = stress_config()
        self.female = {p.id for p in officers(seed, OFFICERS) if p.gender == "female"}
        self.state: dict[str, tuple[str, int | None]] = {}
        self.cost: dict[str, int] = {}
        self.offer: dict[int, str | None] = {}
        self.load: Counter[int] = Counter()
        self.ends: Counter[str] = Counter()
        self.ids: Counter[str] = Counter()
        self.timeline_ids: set[str] = set()
        self.problems: list[str] = []
        self.kinds: Counter[str] = Counter()

    def take(self, fields: dict[str, str]) -> None:
        kind, event_id = fields["k"], fields["i"]
        self.ids[event_id] += 1
        self.kinds[kind] += 1
        if kind not in TASK_KINDS:
            return
        task = json.loads(fields["t"])
        tid = task["id"]
        self.timeline_ids.add(event_id)
        oid = int(fields["oid"]) if fields.get("oid") else None
        state, holder = self.state.get(tid, ("new", None))
        problem = self._step(kind, tid, task, oid, state, holder)
        if problem:
            self.problems.append(f"{event_id} {kind}: {problem}")

    def _step(
        self,
        kind: str,
        tid: str,
        task: dict[str, str],
        oid: int | None,
        state: str,
        holder: int | None,
    ) -> str | None:
        capacity = self.config.capacity_units
        if kind == "enqueued":
            if state != "new":
                return "enqueued twice"
            self.cost[tid] = self.config.cost(CHANNEL_KINDS[task["ch"]])
            self.state[tid] = ("waiting", None)
        elif kind == "offered":
            assert oid is not None
            if state != "waiting":
                return f"offered while {state} (to {holder})"
            if self.offer.get(oid):
                return f"officer {oid} already has offer {self.offer[oid]}"
            if self.load[oid] + self.cost[tid] > capacity:
                return f"officer {oid} has no room"
            if task["fonly"] == "1" and oid not in self.female:
                return f"female-only task offered to officer {oid}"
            self.offer[oid] = tid
            self.state[tid] = ("offered", oid)
        elif kind == "accepted":
            if state != "offered" or holder != oid:
                return f"accepted by {oid} while {state} to {holder}"
            assert oid is not None
            self.offer[oid] = None
            self.load[oid] += self.cost[tid]
            if self.load[oid] > capacity:
                return f"officer {oid} over capacity"
            self.state[tid] = ("assigned", oid)
        elif kind in ("declined", "offer_timed_out", "offer_withdrawn"):
            if state != "offered" or holder != oid:
                return f"released by {oid} while {state} to {holder}"
            assert oid is not None
            self.offer[oid] = None
            self.state[tid] = ("waiting", None)
        elif kind == "completed":
            if state != "assigned" or holder != oid:
                return f"completed by {oid} while {state} to {holder}"
            assert oid is not None
            self.load[oid] -= self.cost[tid]
            self.state[tid] = ("ended", None)
            self.ends[tid] += 1
        elif kind in ("abandoned", "missed"):
            if state not in ("waiting", "offered"):
                return f"{kind} while {state}"
            if state == "offered" and holder is not None:
                self.offer[holder] = None
            self.state[tid] = ("ended", None)
            self.ends[tid] += 1
        elif kind in ("returned", "transferred", "moved"):
            if state == "assigned" and holder is not None:
                self.load[holder] -= self.cost[tid]
            elif state == "offered" and holder is not None:
                self.offer[holder] = None
            elif state != "waiting":
                return f"{kind} while {state}"
            self.state[tid] = ("waiting", None)
        return None


def _read_stream(client: redis.Redis, ledger: Ledger, last: str) -> str:
    while True:
        entries = client.xrange(PREFIX + "events", min=f"({last}", count=5000)
        if not entries:
            return last
        for entry_id, fields in entries:
            ledger.take(fields)
            last = entry_id


def _run_seed(seed: int, database: str) -> None:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.flushdb()
    asyncio.run(_sessions(database, seed))
    rng = random.Random(seed)
    start = time.time() + 1.0
    workers = [_start(seed, n, database, start) for n in range(WORKERS)]
    ledger = Ledger(seed)
    last = "0-0"
    kills = 0
    try:
        while time.time() < start + KILLING:
            time.sleep(rng.uniform(0.5, 1.5))
            victim = rng.randrange(WORKERS)
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.5))
            workers[victim] = _start(seed, victim, database, start)
            last = _read_stream(client, ledger, last)
        expected = {a.task_id for a in arrivals(seed, TASKS, SPREAD)}
        cap = time.time() + CAP
        progress, progress_at = (-1, -1), time.time()
        keys: Counter[str] = Counter()
        while time.time() < min(cap, progress_at + STALL):
            last = _read_stream(client, ledger, last)
            ended = {t for t, n in ledger.ends.items() if n}
            if os.environ.get("SAFECALL_STRESS_TRACE"):
                print(f"{time.time() - start:5.1f} s: {len(expected - ended)} open {ledger.kinds}")
            if expected <= ended:
                keys = asyncio.run(_timeline_keys(database, seed))
                if set(keys) >= {"queue:" + i for i in ledger.timeline_ids}:
                    break
            if (len(ended), len(keys)) != progress:
                progress, progress_at = (len(ended), len(keys)), time.time()
            time.sleep(0.3)
        for worker in workers:
            assert worker.poll() is None, f"a router process died (see {LOGS})"
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    last = _read_stream(client, ledger, last)
    keys = asyncio.run(_timeline_keys(database, seed))
    client.close()

    assert kills >= 4
    assert ledger.problems == [], ledger.problems[:10]
    duplicated = [i for i, n in ledger.ids.items() if n > 1]
    assert duplicated == [], duplicated[:10]
    missing = sorted(expected - {t for t, n in ledger.ends.items() if n})
    assert missing == [], f"{len(missing)} tasks never ended: {missing[:10]}"
    assert all(n == 1 for n in ledger.ends.values()), "a task ended twice"
    assert set(keys) == {"queue:" + i for i in ledger.timeline_ids}, "timeline differs from stream"
    assert all(n == 1 for n in keys.values())


def test_three_routers_killed_at_random_lose_nothing_and_assign_nothing_twice(
    postgres_url: str,
) -> None:
    for seed in SEEDS:
        began = time.monotonic()
        _run_seed(seed, postgres_url)
        print(f"seed {seed}: {time.monotonic() - began:.1f} s")  # shown with -s
        asyncio.run(_clear(postgres_url))


async def _clear(database: str) -> None:
    engine = create_engine(database)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM timeline_events WHERE key LIKE 'queue:s%'"))
    await engine.dispose()
