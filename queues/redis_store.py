"""The Redis store: state in Redis, every step one Lua script; several processes share it.

Tasks and officers are hashes; each step is a script in ``queues/lua/`` that
checks its preconditions and changes what it must atomically, then appends
an event carrying the new state to one stream. Every process keeps a copy of
the state on its board: it loads a snapshot at :meth:`RedisStore.open`, then
follows the stream (and applies its own steps' results at once). Versions
make applying idempotent and never let an older copy replace a newer one.
A decision made on a stale copy is caught by the script, which refuses it and
returns the current state.

Redis may lose everything (restarted without persistence, or flushed): the store
writes an *epoch* (a random id) when it first opens and compares it now and then
(:meth:`RedisStore.lost_state`, and whenever a step is refused in a way only a
loss explains). Absent or different, the state is gone: :mod:`queues.recovery`
rebuilds it (:meth:`RedisStore.reload`, :meth:`RedisStore.restore`), and until it
is done every step but the rebuilding's own is refused with
:class:`~queues.store.Rebuilding` (503, try again).

The same stream serves consumer groups (the timeline writer): read with
XREADGROUP, acknowledged after writing, reclaimed from a dead consumer after
``redeliver_after`` seconds, trimmed only once every group is past.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError, ResponseError

from queues.board import Board
from queues.config import RoutingConfig
from queues.events import Event, Kind, arrival_data, officer_event_id, task_event_id
from queues.model import Officer, OfficerProfile, Presence, Task, TaskStatus
from queues.redis_codec import officer_from, profile_args, task_fields, task_from
from queues.stats import StatsKeeper
from queues.store import EventSink, Outcome, Rebuilding, Requeue, StoreError
from safecall.redis_client import redis_client

log = logging.getLogger(__name__)

PREFIX = "safecall:{queues}:"
"""Key prefix; the hash tag keeps every key in one Redis Cluster slot, as scripts need."""
SCRIPTS = (
    "register",
    "presence",
    "page",
    "enqueue",
    "reserve",
    "accept",
    "release",
    "end",
    "complete",
    "requeue",
    "restore",
)
_FEED_BLOCK = 0.1
"""Seconds one read of the stream waits for news (and the most a close waits for it)."""
_FEED_LINGER = 0.002
_FEED_BATCH = 100
_RETRIES = 5
_OWN_LIMIT = 100_000
_NOT_OWN = object()
"""Tries of a step whose script says another process changed who holds the task."""
_SUSPECT = frozenset({"unknown_officer", "unknown_task", "retry", "not_offered", "not_yours"})
"""Refusals that Redis losing its state would explain (the epoch is checked then)."""
REBUILDER: contextvars.ContextVar[bool] = contextvars.ContextVar("queues_rebuilder", default=False)
"""True in the task that rebuilds the state: its steps pass while others are refused."""


def load_scripts() -> dict[str, str]:
    """Each script's source with the shared helpers in front."""
    folder = resources.files("queues").joinpath("lua")
    lib = folder.joinpath("_lib.lua").read_text()
    return {name: lib + "\n" + folder.joinpath(f"{name}.lua").read_text() for name in SCRIPTS}


class RedisStore:
    def __init__(
        self,
        config: RoutingConfig,
        url: str,
        *,
        prefix: str = PREFIX,
        groups: Iterable[str] = (),
        redeliver_after: float = 30.0,
        ended_ttl: int = 7 * 86400,
        follow: bool = True,
    ) -> None:
        self.config = config
        self.url = url
        self.prefix = prefix
        self.groups = tuple(groups)
        self.redeliver_after = redeliver_after
        self.ended_ttl = ended_ttl
        self.follow = follow
        self.board = Board(config)
        self.remote = True
        self.stats = StatsKeeper(config)
        # A bounded pool that makes a burst wait for a connection instead of failing.
        self.redis: aioredis.Redis = redis_client(
            url, max_connections=256, wait=10, decode_responses=True
        )
        self._sinks: list[EventSink] = []
        self._scripts: dict[str, AsyncScript] = {}
        self._feed: asyncio.Task[None] | None = None
        self._stopping = False
        self._advanced = asyncio.Event()
        self._own: dict[str, Task | None] = {}
        """Events written by this process's own steps, not yet seen on the stream."""
        self._feed_redis: aioredis.Redis | None = None
        self._last_id = "0-0"
        self._stream_ids: dict[str, dict[str, str]] = {g: {} for g in self.groups}
        self.events_key = prefix + "events"
        self.tasks_key = prefix + "tasks"
        self.officers_key = prefix + "officers"
        self.seq_key = prefix + "seq"
        self.window_key = prefix + "outcomes"
        """The statistics window: outcomes scored by time (the scripts add and trim)."""
        self._none = prefix + "none"
        """Passed where a script takes a key it will not touch this time."""
        self.epoch_key = prefix + "epoch"
        """A random id written when the state was first made: gone or changed, it was lost."""
        self.confirm_key = prefix + "confirm"
        """Officers asked to confirm their presence after a loss: id -> presence before it."""
        self.epoch: str | None = None
        self.rebuilding = False
        """Set from a loss's discovery until the state is rebuilt: other steps are refused."""
        self.on_lost: list[Callable[[], None]] = []
        """Called when a step finds the state lost (:mod:`queues.recovery` rebuilds it)."""

    def task_key(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    def officer_key(self, officer_id: int | str) -> str:
        return f"{self.prefix}officer:{officer_id}"

    # --- life ----------------------------------------------------------------------

    async def open(self, now: float) -> None:
        """Load the scripts and the state, create the consumer groups, follow the stream."""
        for name, source in load_scripts().items():
            self._scripts[name] = self.redis.register_script(source)
        self.epoch = await self._adopt_epoch()
        for group in self.groups:
            await self.ensure_group(group)
        await self._load(now)
        if self.follow:
            self._feed_redis = redis_client(self.url, decode_responses=True)
            self._feed = asyncio.create_task(self._follow(), name="queues-redis-feed")

    async def close(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            # A blocked XREAD does not always give way to cancellation: ask the loop to
            # stop after its current (short) read, and cancel only if it does not.
            self._stopping = True
            try:
                await asyncio.wait_for(asyncio.shield(feed), _FEED_BLOCK * 5)
            except TimeoutError:
                feed.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(feed, 1.0)
        if self._feed_redis is not None:
            await self._feed_redis.aclose()
            self._feed_redis = None
        await self.redis.aclose()

    async def sync(self) -> None:
        """Wait until the stream has been followed up to its current end."""
        last: Any = await self.redis.xrevrange(self.events_key, count=1)
        if not last or self._feed is None:
            return
        target = _entry_id(last[0][0])
        while _entry_id(self._last_id) < target:
            self._advanced.clear()
            try:
                await asyncio.wait_for(self._advanced.wait(), 10)
            except TimeoutError:
                raise StoreError("the events stream is not being followed") from None

    async def ensure_group(self, group: str) -> None:
        """A consumer group that receives every event from the start of the stream."""
        self._stream_ids.setdefault(group, {})
        try:
            await self.redis.xgroup_create(self.events_key, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def on_events(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    # --- losing the state ----------------------------------------------------------

    async def _adopt_epoch(self) -> str:
        """The epoch in Redis, written first when there is none."""
        await self.redis.set(self.epoch_key, secrets.token_hex(8), nx=True)
        epoch: Any = await self.redis.get(self.epoch_key)
        if epoch is None:  # flushed again in between: the next check finds it
            return ""
        return str(epoch)

    async def lost_state(self) -> bool:
        """Redis no longer holds the state this process has followed: its epoch is gone or
        another (restarted empty, flushed), or the events stream ends before what this
        process has read from it (it came back older: the last writes were lost). One
        round trip; raises RedisError while Redis cannot be reached."""
        if self.epoch is None:
            return False
        seen = self._last_id if self._feed is not None else "0-0"  # read before Redis is
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.epoch_key)
            pipe.xrevrange(self.events_key, count=1)
            epoch, last = await pipe.execute()
        if epoch != self.epoch:
            return True
        end = last[0][0] if last else "0-0"
        return _entry_id(end) < _entry_id(seen)

    async def _suspect(self) -> None:
        """A step was refused in a way a loss would explain: when it is one, say so (the
        rebuild starts) and refuse the step with :class:`Rebuilding`. Nothing is checked
        when nobody would rebuild (a store used on its own, as tests and benches do)."""
        if not self.on_lost:
            return
        try:
            lost = await self.lost_state()
        except RedisError:
            return
        if lost:
            self._lost()

    def _lost(self) -> None:
        self.rebuilding = True
        for hear in self.on_lost:
            hear()
        raise Rebuilding()

    async def reload(self, now: float) -> dict[int, Officer]:
        """After a loss: take the new epoch (or the one another process wrote), forget the
        board and load it again from Redis; the officers as the board had them before."""
        before = dict(self.board.officers)
        self.epoch = await self._adopt_epoch()
        self.board.clear()
        self._own.clear()
        self._last_id = "0-0"
        for group in self.groups:
            await self.ensure_group(group)
        await self._load(now)
        return before

    async def ask_to_confirm(self, asked: dict[int, Presence]) -> None:
        """Remember the officers asked to confirm their presence (first word kept)."""
        if not asked:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for officer_id, presence in asked.items():
                pipe.hsetnx(self.confirm_key, str(officer_id), presence.value)
            await pipe.execute()

    async def asked(self) -> dict[int, Presence]:
        """The officers asked to confirm their presence, with their presence before the loss."""
        raw: Any = await self.redis.hgetall(self.confirm_key)
        known = {p.value for p in Presence}
        return {int(k): Presence(v) for k, v in raw.items() if k.isdigit() and v in known}

    async def confirmed(self, officer_id: int) -> Presence | None:
        """She answered (or chose a state): no longer asked; her presence before the loss."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.confirm_key, str(officer_id))
            pipe.hdel(self.confirm_key, str(officer_id))
            before, _ = await pipe.execute()
        return Presence(before) if before in {p.value for p in Presence} else None

    async def restore(
        self, task: Task, now: float, *, officer_id: int | None, version: int
    ) -> Outcome:
        """Put back a task Redis lost: waiting (with its first arrival), or held by
        ``officer_id`` (her capacity taken again); refused ``exists`` when it is there."""
        data = arrival_data(task)
        data["status"] = "waiting" if officer_id is None else "assigned"
        reply = await self._call(
            "restore",
            [
                self.task_key(task.id),
                self.tasks_key,
                self.seq_key,
                self.events_key,
                self.officer_key(officer_id) if officer_id is not None else self._none,
            ],
            [
                task.id,
                repr(now),
                json.dumps(data),
                "" if officer_id is None else officer_id,
                version,
                *task_fields(task),
            ],
        )
        return self._outcome(reply, now)

    async def _load(self, now: float) -> None:
        """Copy the whole state onto the board, then follow the stream from before the copy.

        The statistics window is read together with the stream's end (one transaction):
        the outcomes up to there come from the window, the later ones from the stream."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xrevrange(self.events_key, count=1)
            since = now - self.config.stats_window
            pipe.zrangebyscore(self.window_key, since, "+inf", withscores=True)
            last, recent = await pipe.execute()
        self._last_id = last[0][0] if last else "0-0"
        self.stats.observe([_outcome_event(member, at) for member, at in recent])
        tasks, officers = await self.snapshot()
        for officer in officers.values():
            self._apply_officer(officer, now)
        for task in tasks.values():
            self._apply_task(task, now)

    async def snapshot(self) -> tuple[dict[str, Task], dict[int, Officer]]:
        task_ids: Any = await self.redis.smembers(self.tasks_key)
        officer_ids: Any = await self.redis.smembers(self.officers_key)
        async with self.redis.pipeline(transaction=False) as pipe:
            for tid in task_ids:
                pipe.hgetall(self.task_key(tid))
            for oid in officer_ids:
                pipe.hgetall(self.officer_key(oid))
            rows: list[dict[str, str]] = await pipe.execute()
        tasks = {}
        officers = {}
        for row in rows[: len(task_ids)]:
            if row:
                task = task_from(row)
                tasks[task.id] = task
        for row in rows[len(task_ids) :]:
            if row:
                officer = officer_from(row)
                officers[officer.id] = officer
        return tasks, officers

    async def _follow(self) -> None:
        """Apply every event of the stream to the board and pass it to the sinks."""
        assert self._feed_redis is not None
        while not self._stopping:
            try:
                reply: Any = await self._feed_redis.xread(
                    {self.events_key: self._last_id}, count=500, block=int(_FEED_BLOCK * 1000)
                )
            except asyncio.CancelledError:
                raise
            except RedisError:
                log.warning("lost the events stream; reconnecting", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if not reply:
                continue
            for _stream, entries in reply:
                events = []
                for entry_id, fields in entries:
                    self._last_id = entry_id
                    events.append(self._take_entry(fields))
                self.stats.observe(events)
                for sink in self._sinks:
                    sink(events)
            self._advanced.set()
            if sum(len(entries) for _stream, entries in reply) < _FEED_BATCH:
                # Let a few more events gather: one read for many, at a cost of a few ms.
                await asyncio.sleep(_FEED_LINGER)

    def _take_entry(self, fields: dict[str, str]) -> Event:
        own = self._own.pop(fields["i"], _NOT_OWN)
        if own is not _NOT_OWN:
            # This process made the step and has applied its answer: only the event is new.
            task_id = own.id if isinstance(own, Task) else None
            oid = fields.get("oid") or ""
            return Event(
                id=fields["i"],
                kind=fields["k"],
                at=float(fields["at"]),
                task_id=task_id,
                session_id=own.session_id if isinstance(own, Task) else None,
                officer_id=int(oid) if oid else None,
                line=own.line if isinstance(own, Task) else None,
                data=json.loads(fields.get("d") or "{}"),
            )
        at = float(fields["at"])
        task = task_from(json.loads(fields["t"])) if fields.get("t") else None
        officer = officer_from(json.loads(fields["o"])) if fields.get("o") else None
        if officer is not None:
            self._apply_officer(officer, at)
        if task is not None:
            self._apply_task(task, at)
        return _event(fields, task)

    # --- applying state ------------------------------------------------------------

    def _apply_task(self, task: Task, now: float) -> Task:
        if task.version > self.board.known_version(task.id):
            self.board.put_task(task, now)
            return task
        return self.board.tasks.get(task.id, task)

    def _apply_officer(self, officer: Officer, now: float) -> Officer:
        current = self.board.officers.get(officer.id)
        if current is None or officer.version > current.version:
            self.board.put_officer(officer, now)
            return officer
        return current

    def _outcome(self, reply: list[Any], now: float) -> Outcome:
        status, reason, task_json, officer_json = reply[0], reply[1], reply[2], reply[3]
        task = self._apply_task(task_from(json.loads(task_json)), now) if task_json else None
        officer = (
            self._apply_officer(officer_from(json.loads(officer_json)), now)
            if officer_json
            else None
        )
        callback = offered = None
        if len(reply) > 4 and reply[4]:
            callback = self._apply_task(task_from(json.loads(reply[4])), now)
        if len(reply) > 5 and reply[5]:
            # The task asked to be offered next, as it is now: offered, or why not.
            offered = self._apply_task(task_from(json.loads(reply[5])), now)
            if reply[6]:
                offered = None
        if status == "ok" and self._feed is not None and reason != "unchanged":
            # Remember the events this step wrote, so the feed need not decode them again.
            own = self._own
            if task is not None:
                own[task_event_id(task.id, task.version)] = task
            elif officer is not None and offered is None:
                own[officer_event_id(officer.id, officer.version)] = None
            if offered is not None:
                own[task_event_id(offered.id, offered.version)] = offered
            if len(own) > _OWN_LIMIT:
                own.clear()
        return Outcome(
            status == "ok", reason or None, task, officer, callback=callback, offered=offered
        )

    def _next_offer(self, task_id: str | None, now: float, expires: float) -> list[Any]:
        """ARGV of the offer a freeing step makes next: task id, expiry, detail JSON."""
        if task_id is None:
            return ["", "0", "{}"]
        return [task_id, repr(expires), json.dumps(self._offer_detail(task_id, now, expires))]

    def _offer_detail(self, task_id: str, now: float, expires: float) -> dict[str, Any]:
        task = self.board.tasks.get(task_id)
        data = arrival_data(task) if task is not None else {}
        data["expires"] = expires
        if task is not None:
            data["wait"] = now - task.arrived
        return data

    def _forget_before(self, now: float) -> str:
        return repr(now - self.config.stats_window)

    async def _call(self, name: str, keys: list[str], args: list[Any]) -> list[Any]:
        if self.rebuilding and not REBUILDER.get():
            raise Rebuilding()
        try:
            reply: list[Any] = await self._scripts[name](keys=keys, args=args)
        except RedisError as exc:
            raise StoreError(f"redis step {name} failed: {exc}") from exc
        if reply[0] == "refused" and reply[1] in _SUSPECT and not REBUILDER.get():
            await self._suspect()
        return reply

    # --- officers ------------------------------------------------------------------

    async def register(self, profile: OfficerProfile, now: float) -> Officer:
        reply = await self._call(
            "register",
            [self.officer_key(profile.id), self.officers_key, self.events_key],
            [profile.id, repr(now), self.config.capacity_units, *profile_args(profile)],
        )
        officer = self._outcome(reply, now).officer
        assert officer is not None
        return officer

    async def set_presence(
        self,
        officer_id: int,
        presence: Presence,
        now: float,
        *,
        exclude_until: float,
        next_task: str | None = None,
        expires: float = 0.0,
    ) -> Outcome:
        officer = self.board.officers.get(officer_id)
        offer = officer.offer if officer is not None else None
        then = self._next_offer(next_task, now, expires)
        for _ in range(_RETRIES):
            reply = await self._call(
                "presence",
                [
                    self.officer_key(officer_id),
                    self.task_key(offer) if offer else self._none,
                    self.events_key,
                    self.task_key(next_task) if next_task else self._none,
                ],
                [officer_id, presence.value, repr(now), repr(exclude_until), offer or "", *then],
            )
            outcome = self._outcome(reply, now)
            if outcome.reason != "retry":
                return outcome
            offer = outcome.officer.offer if outcome.officer is not None else None
        await self._suspect()
        raise StoreError("presence kept changing under us")

    async def page(self, officer_id: int, now: float, data: dict[str, object]) -> Outcome:
        reply = await self._call(
            "page",
            [self.officer_key(officer_id), self.events_key],
            [officer_id, repr(now), json.dumps(data)],
        )
        return self._outcome(reply, now)

    # --- tasks ---------------------------------------------------------------------

    async def enqueue(self, task: Task, now: float) -> Outcome:
        reply = await self._call(
            "enqueue",
            [self.task_key(task.id), self.tasks_key, self.seq_key, self.events_key],
            [task.id, repr(now), json.dumps(arrival_data(task)), *task_fields(task)],
        )
        return self._outcome(reply, now)

    async def reserve(self, task_id: str, officer_id: int, now: float, expires: float) -> Outcome:
        data = self._offer_detail(task_id, now, expires)
        reply = await self._call(
            "reserve",
            [self.task_key(task_id), self.officer_key(officer_id), self.events_key],
            [task_id, officer_id, repr(now), repr(expires), json.dumps(data)],
        )
        return self._outcome(reply, now)

    async def reserve_many(
        self, pairs: Sequence[tuple[str, int]], now: float, expires: float
    ) -> list[Outcome]:
        """:meth:`reserve` for each (task, officer) pair, sent together in one round trip."""
        if not pairs:
            return []
        if self.rebuilding and not REBUILDER.get():
            raise Rebuilding()
        script = self._scripts["reserve"]
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for task_id, officer_id in pairs:
                    data = self._offer_detail(task_id, now, expires)
                    await script(
                        keys=[
                            self.task_key(task_id),
                            self.officer_key(officer_id),
                            self.events_key,
                        ],
                        args=[task_id, officer_id, repr(now), repr(expires), json.dumps(data)],
                        client=pipe,
                    )
                replies: list[Any] = await pipe.execute()
        except RedisError as exc:
            raise StoreError(f"redis step reserve failed: {exc}") from exc
        return [self._outcome(reply, now) for reply in replies]

    async def accept(self, task_id: str, officer_id: int, now: float) -> Outcome:
        reply = await self._call(
            "accept",
            [
                self.task_key(task_id),
                self.officer_key(officer_id),
                self.events_key,
                self.window_key,
            ],
            [task_id, officer_id, repr(now), self._forget_before(now)],
        )
        return self._outcome(reply, now)

    async def release(
        self,
        task_id: str,
        officer_id: int,
        now: float,
        *,
        kind: Kind,
        exclude_until: float,
        no_answer_limit: int,
        next_task: str | None = None,
        expires: float = 0.0,
    ) -> Outcome:
        reply = await self._call(
            "release",
            [
                self.task_key(task_id),
                self.officer_key(officer_id),
                self.events_key,
                self.task_key(next_task) if next_task else self._none,
            ],
            [
                task_id,
                officer_id,
                repr(now),
                kind.value,
                repr(exclude_until),
                no_answer_limit,
                *self._next_offer(next_task, now, expires),
            ],
        )
        return self._outcome(reply, now)

    async def end(
        self, task_id: str, now: float, *, status: TaskStatus, callback: Task | None
    ) -> Outcome:
        kind = {
            TaskStatus.ABANDONED: Kind.ABANDONED,
            TaskStatus.MISSED: Kind.MISSED,
        }.get(status, Kind.TRANSFERRED)
        task = self.board.tasks.get(task_id)
        holder = task.officer if task is not None else None
        for _ in range(_RETRIES):
            extra: list[str] = []
            if callback is not None:
                extra = [json.dumps(arrival_data(callback)), *task_fields(callback)]
            reply = await self._call(
                "end",
                [
                    self.task_key(task_id),
                    self.officer_key(holder) if holder is not None else self._none,
                    self.tasks_key,
                    self.task_key(callback.id) if callback is not None else self._none,
                    self.seq_key,
                    self.events_key,
                    self.window_key,
                ],
                [
                    task_id,
                    repr(now),
                    status.value,
                    kind.value,
                    "" if holder is None else holder,
                    "" if callback is None else callback.id,
                    self.ended_ttl,
                    extra[0] if extra else "{}",
                    self._forget_before(now),
                    *extra[1:],
                ],
            )
            outcome = self._outcome(reply, now)
            if outcome.reason != "retry":
                return outcome
            holder = outcome.task.officer if outcome.task is not None else None
        await self._suspect()
        raise StoreError("the task kept changing hands under us")

    async def complete(
        self,
        task_id: str,
        officer_id: int,
        now: float,
        wrap_until: float,
        *,
        next_task: str | None = None,
        expires: float = 0.0,
    ) -> Outcome:
        reply = await self._call(
            "complete",
            [
                self.task_key(task_id),
                self.officer_key(officer_id),
                self.tasks_key,
                self.events_key,
                self.task_key(next_task) if next_task else self._none,
                self.window_key,
            ],
            [
                task_id,
                officer_id,
                repr(now),
                repr(wrap_until),
                self.ended_ttl,
                *self._next_offer(next_task, now, expires),
                self._forget_before(now),
            ],
        )
        return self._outcome(reply, now)

    async def requeue(self, task_id: str, now: float, change: Requeue) -> Outcome:
        task = self.board.tasks.get(task_id)
        current = task.officer if task is not None else None
        for _ in range(_RETRIES):
            reply = await self._call(
                "requeue",
                [
                    self.task_key(task_id),
                    self.officer_key(current) if current is not None else self._none,
                    self.events_key,
                ],
                [
                    task_id,
                    repr(now),
                    change.kind.value,
                    change.line,
                    "1" if change.female_only else "0",
                    change.priority,
                    repr(change.ttl_at),
                    "" if change.known_officer is None else change.known_officer,
                    repr(change.known_until),
                    "" if change.holder is None else change.holder,
                    repr(change.wrap_until),
                    "" if current is None else current,
                    json.dumps(change.data),
                ],
            )
            outcome = self._outcome(reply, now)
            if outcome.reason != "retry":
                return outcome
            current = outcome.task.officer if outcome.task is not None else None
        await self._suspect()
        raise StoreError("the task kept changing hands under us")

    # --- consumer groups -----------------------------------------------------------

    async def read_events(self, group: str, consumer: str, count: int, block: float) -> list[Event]:
        """Events for ``group``: first any left unacknowledged by a consumer for too long."""
        try:
            return await self._read_group(group, consumer, count, block)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group(group)  # Redis lost it (restarted empty, or flushed)
            return await self._read_group(group, consumer, count, block)

    async def _read_group(self, group: str, consumer: str, count: int, block: float) -> list[Event]:
        ids = self._stream_ids.setdefault(group, {})
        stale: Any = await self.redis.xautoclaim(
            self.events_key,
            group,
            consumer,
            min_idle_time=int(self.redeliver_after * 1000),
            start_id="0-0",
            count=count,
        )
        entries: list[tuple[str, dict[str, str]]] = [e for e in stale[1] if e[1]]
        if not entries:
            reply: Any = await self.redis.xreadgroup(
                group,
                consumer,
                {self.events_key: ">"},
                count=count,
                block=max(1, int(block * 1000)) if block > 0 else None,
            )
            for _stream, found in reply or []:
                entries.extend(found)
        events = []
        for entry_id, fields in entries:
            event = _event(fields, None)
            ids[event.id] = entry_id
            events.append(event)
        return events

    async def ack(self, group: str, event_ids: Sequence[str]) -> None:
        ids = self._stream_ids.setdefault(group, {})
        entry_ids = [ids.pop(e) for e in event_ids if e in ids]
        if entry_ids:
            await self.redis.xack(self.events_key, group, *entry_ids)

    async def trim(self, keep_without_groups: int = 100_000) -> None:
        """Drop events every consumer group is done with (all but the last ones if none)."""
        try:
            groups = await self.redis.xinfo_groups(self.events_key)
        except ResponseError:
            return
        if not groups:
            await self.redis.xtrim(self.events_key, maxlen=keep_without_groups, approximate=True)
            return
        floor: str | None = None
        for group in groups:
            mark = group["last-delivered-id"]
            if group["pending"]:
                summary = await self.redis.xpending(self.events_key, group["name"])
                mark = summary["min"]
            if floor is None or _entry_id(mark) < _entry_id(floor):
                floor = mark
        if floor is not None and floor != "0-0":
            await self.redis.xtrim(self.events_key, minid=floor)


def _entry_id(entry: str) -> tuple[int, int]:
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)


def _event(fields: dict[str, str], task: Task | None) -> Event:
    raw_task = task
    if raw_task is None and fields.get("t"):
        raw_task = task_from(json.loads(fields["t"]))
    oid = fields.get("oid") or ""
    return Event(
        id=fields["i"],
        kind=fields["k"],
        at=float(fields["at"]),
        task_id=raw_task.id if raw_task else None,
        session_id=raw_task.session_id if raw_task else None,
        officer_id=int(oid) if oid else None,
        line=raw_task.line if raw_task else None,
        data=json.loads(fields.get("d") or "{}"),
    )


def _outcome_event(member: str, at: float) -> Event:
    """An outcome read back from the statistics window, as the event that recorded it."""
    raw = json.loads(member)
    key = "handle" if raw["k"] == Kind.COMPLETED else "wait"
    return Event(id=raw["i"], kind=raw["k"], at=at, line=raw["l"], data={key: raw["s"]})


def consumer_name() -> str:
    """A consumer name unique to this process."""
    return f"{os.uname().nodename}-{os.getpid()}"
