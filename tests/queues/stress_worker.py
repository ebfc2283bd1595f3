"""One router process of the stress test: ``python -m tests.queues.stress_worker ...``.

It runs a real router on the Redis store and the real timeline writer, and
plays the part of its share of the officers (answering offers, talking,
finishing, sometimes declining, ignoring, dropping or transferring) and of its
share of the contacts (arriving on schedule, sometimes hanging up). It can be
killed at any moment and started again: it picks up from the shared state.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import time
from dataclasses import dataclass

from queues import config as routing_config
from queues.config import RoutingConfig
from queues.events import Kind
from queues.model import OfficerProfile, Presence, TaskStatus
from queues.redis_store import RedisStore
from queues.router import Contact, Refused, Router
from queues.store import StoreError
from queues.timeline_sink import GROUP, TimelineSink
from safecall.db import create_engine, session_factory, utcnow

WORKERS = 3


@dataclass(frozen=True)
class Arrival:
    task_id: str
    line: str
    channel: str
    language: str
    at: float
    """Seconds after the start."""
    hangs_up_after: float | None


def stress_config() -> RoutingConfig:
    text = routing_config.load_default_text()
    for old, new in (
        ("timeout = 20 ", "timeout = 1.5 "),
        ("no_answer_limit = 3 ", "no_answer_limit = 4 "),
        ("reoffer_after = 30 ", "reoffer_after = 0.5 "),
        ("ttl = 900 ", "ttl = 45 "),
        ("wrap_up = 30 ", "wrap_up = 0 "),
        ("known_officer = 30 ", "known_officer = 1 "),
        ("returning = 60 ", "returning = 1 "),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return routing_config.parse(text, "stress.toml")


def officers(seed: int, count: int) -> list[OfficerProfile]:
    rng = random.Random(f"officers-{seed}")
    result = []
    for n in range(1, count + 1):
        gender = "female" if rng.random() < 0.8 else "male"
        lines = {"women", "child"} if gender == "female" else {"child"}
        if gender == "female" and rng.random() < 0.2:
            lines = {"women"}
        languages = {"ur"} | ({"en"} if rng.random() < 0.5 else set())
        result.append(OfficerProfile(n, gender, frozenset(lines), frozenset(languages)))
    return result


def arrivals(seed: int, count: int, spread: float) -> list[Arrival]:
    rng = random.Random(f"tasks-{seed}")
    result = []
    for n in range(count):
        line = "women" if rng.random() < 0.7 else "child"
        channel = rng.choice(["chat", "chat", "phone", "browser_video"])
        language = "ur" if rng.random() < 0.8 else "en"
        hangs_up = rng.uniform(0.1, 4.0) if rng.random() < 0.08 else None
        result.append(
            Arrival(f"s{seed}-t{n}", line, channel, language, rng.uniform(0, spread), hangs_up)
        )
    return result


class Player:
    def __init__(self, router: Router, index: int, mine: set[int], rng: random.Random) -> None:
        self.router = router
        self.index = index
        self.mine = mine
        self.rng = rng
        self.busy: set[str] = set()
        self.jobs: set[asyncio.Task[None]] = set()

    def spawn(self, job: object) -> None:
        task = asyncio.ensure_future(job)  # type: ignore[arg-type]
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

    async def answer(self, task_id: str, officer_id: int) -> None:
        """An officer's console: accept (mostly), decline, or let it time out."""
        if task_id in self.busy:
            return
        self.busy.add(task_id)
        try:
            await asyncio.sleep(self.rng.uniform(0, 0.05))
            roll = self.rng.random()
            if roll < 0.1:
                await self.router.decline(task_id, officer_id)
                return
            if roll < 0.15:
                return  # she does not answer: it times out
            await self.router.accept(task_id, officer_id)
            await asyncio.sleep(self.rng.uniform(0.02, 0.25))
            roll = self.rng.random()
            if roll < 0.03:
                await self.router.returned(task_id)  # the line dropped; she comes back
            elif roll < 0.06:
                task = self.router.board.tasks.get(task_id)
                other = "child" if task is not None and task.line == "women" else "women"
                await self.router.transfer(task_id, officer_id, line=other)
            else:
                await self.router.complete(task_id, officer_id)
        except (Refused, StoreError):
            pass
        finally:
            self.busy.discard(task_id)

    async def hang_up(self, task_id: str, after: float) -> None:
        await asyncio.sleep(after)
        with contextlib.suppress(Refused, StoreError):
            await self.router.cancel(task_id)

    async def arrive(self, arrival: Arrival, start: float) -> None:
        await asyncio.sleep(max(0.0, start + arrival.at - time.time()))
        contact = Contact(
            id=arrival.task_id,
            line=arrival.line,
            channel=arrival.channel,
            language=arrival.language,
        )
        while True:  # as a contact's page would: try again until the queue has her
            try:
                await self.router.enqueue(contact)
                break
            except StoreError:
                await asyncio.sleep(0.2)
        if arrival.hangs_up_after is not None:
            self.spawn(self.hang_up(arrival.task_id, arrival.hangs_up_after))

    def look_around(self) -> None:
        """Pick up what this process's officers have in hand (after a restart, or a miss)."""
        for task in list(self.router.board.tasks.values()):
            if task.officer not in self.mine or task.id in self.busy:
                continue
            if task.status == TaskStatus.OFFERED:
                self.spawn(self.answer(task.id, task.officer))
            elif task.status == TaskStatus.ASSIGNED:
                self.spawn(self.finish(task.id, task.officer))

    async def finish(self, task_id: str, officer_id: int) -> None:
        if task_id in self.busy:
            return
        self.busy.add(task_id)
        try:
            await self.router.complete(task_id, officer_id)
        except (Refused, StoreError):
            pass
        finally:
            self.busy.discard(task_id)

    async def come_back(self) -> None:
        """Officers put on break for missed offers return to the queue."""
        for oid in self.mine:
            officer = self.router.board.officers.get(oid)
            if officer is not None and officer.presence != Presence.AVAILABLE:
                with contextlib.suppress(Refused, StoreError):
                    await self.router.set_presence(oid, Presence.AVAILABLE)


async def main(args: argparse.Namespace) -> None:
    config = stress_config()
    store = RedisStore(config, args.redis, groups=(GROUP,), redeliver_after=1.0)
    router = Router(store, config, utcnow, sweep_every=0.5)
    await router.start()
    engine = create_engine(args.database)
    sink = TimelineSink(store, session_factory(engine), f"w{args.index}-{os.getpid()}", block=0.2)
    sink.start()
    rng = random.Random(f"{args.seed}-{args.index}-{os.getpid()}")
    profiles = [p for p in officers(args.seed, args.officers) if p.id % WORKERS == args.index]
    player = Player(router, args.index, {p.id for p in profiles}, rng)
    listener = router.listen()
    for profile in profiles:
        await router.register(profile)
        await router.set_presence(profile.id, Presence.AVAILABLE)
    for arrival in arrivals(args.seed, args.tasks, args.spread):
        if int(arrival.task_id.rsplit("t", 1)[1]) % WORKERS == args.index:
            player.spawn(player.arrive(arrival, args.start))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    player.look_around()
    last_look = time.monotonic()
    while not stop.is_set():
        try:
            async with asyncio.timeout(0.25):
                event = await listener.next()
        except TimeoutError:
            event = None
        if event is not None and event.kind == Kind.OFFERED and event.officer_id in player.mine:
            assert event.task_id is not None and event.officer_id is not None
            player.spawn(player.answer(event.task_id, event.officer_id))
        if time.monotonic() - last_look > 1.0:
            last_look = time.monotonic()
            player.look_around()
            await player.come_back()
    listener.close()
    await sink.stop()
    await router.stop()
    await engine.dispose()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--officers", type=int, required=True)
    parser.add_argument("--spread", type=float, required=True)
    parser.add_argument("--start", type=float, required=True)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
