"""The in-process store: the state is the board itself; one process, no Redis.

Each step runs to the end without awaiting, so on one event loop it is
atomic. Events go to the outbox (for consumer groups such as the timeline)
and to the process's listeners.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from queues import policy
from queues.board import Board
from queues.config import RoutingConfig
from queues.events import Event, Kind, arrival_data, officer_event_id, task_event_id
from queues.model import Officer, OfficerProfile, Presence, Task, TaskStatus
from queues.outbox import Outbox
from queues.stats import StatsKeeper
from queues.store import EventSink, Outcome, Requeue


class MemoryStore:
    def __init__(
        self,
        config: RoutingConfig,
        groups: Iterable[str] = (),
        redeliver_after: float = 30.0,
    ) -> None:
        self.config = config
        self.board = Board(config)
        self.remote = False
        self.outbox = Outbox(groups, redeliver_after)
        self.stats = StatsKeeper(config)
        self._sinks: list[EventSink] = []
        self._seq = itertools.count(1)

    async def open(self, now: float) -> None:
        pass

    async def close(self) -> None:
        pass

    async def sync(self) -> None:
        pass

    def on_events(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def _emit(self, events: list[Event]) -> None:
        self.outbox.append(events)
        self.stats.observe(events)
        for sink in self._sinks:
            sink(events)

    # --- officers ------------------------------------------------------------------

    async def register(self, profile: OfficerProfile, now: float) -> Officer:
        board = self.board
        officer = board.officers.get(profile.id)
        if officer is not None and officer.profile == profile:
            return officer
        if officer is None:
            officer = Officer(profile=profile, capacity=self.config.capacity_units, idle_since=now)
        else:
            officer = replace(officer, profile=profile)
        officer.version += 1
        board.put_officer(officer, now)
        self._emit(
            [_officer_event(officer, Kind.OFFICER_STATE, now, {"presence": officer.presence})]
        )
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
        board = self.board
        officer = board.officers.get(officer_id)
        if officer is None:
            return Outcome(False, "unknown_officer")
        if presence == officer.presence and not (
            presence == Presence.AVAILABLE and officer.wrap_until > now
        ):
            return Outcome(True, officer=officer)
        events: list[Event] = []
        task: Task | None = None
        if presence != Presence.AVAILABLE and officer.offer is not None:
            task = board.tasks[officer.offer]
            _back_in_line(task, officer.id, exclude_until)
            officer.offer = None
            events.append(_task_event(task, Kind.OFFER_WITHDRAWN, now, officer.id))
            board.refresh_task(task, now)
        if presence == Presence.AVAILABLE:
            if officer.presence != Presence.AVAILABLE and officer.load == 0:
                officer.idle_since = now
            officer.missed = 0
            officer.wrap_until = min(officer.wrap_until, now)
        officer.presence = presence
        officer.version += 1
        events.append(_officer_event(officer, Kind.OFFICER_STATE, now, {"presence": presence}))
        offered = self._offer_next(next_task, officer, now, expires, events)
        board.refresh_officer(officer, now)
        self._emit(events)
        return Outcome(True, task=task, officer=officer, events=events, offered=offered)

    async def page(self, officer_id: int, now: float, data: dict[str, object]) -> Outcome:
        officer = self.board.officers.get(officer_id)
        if officer is None:
            return Outcome(False, "unknown_officer")
        officer.version += 1
        events = [_officer_event(officer, Kind.PAGE, now, data)]
        self._emit(events)
        return Outcome(True, officer=officer, events=events)

    # --- tasks ---------------------------------------------------------------------

    async def enqueue(self, task: Task, now: float) -> Outcome:
        board = self.board
        existing = board.tasks.get(task.id)
        if existing is not None or task.id in board.ended:
            return Outcome(False, "exists", task=existing)
        # The task is the caller's fresh object: the store takes it over.
        task.excluded = {}
        task.status = TaskStatus.WAITING
        task.officer = None
        task.seq = next(self._seq)
        task.version = 1
        board.put_task(task, now)
        events = [_task_event(task, Kind.ENQUEUED, now, None, arrival_data(task))]
        self._emit(events)
        return Outcome(True, task=task, events=events)

    async def reserve(self, task_id: str, officer_id: int, now: float, expires: float) -> Outcome:
        board = self.board
        task = board.tasks.get(task_id)
        officer = board.officers.get(officer_id)
        if task is None:
            return Outcome(False, "unknown_task")
        if officer is None:
            return Outcome(False, "unknown_officer", task=task)
        refused = policy.refusal(officer, task, now)
        if refused is not None:
            return Outcome(False, refused, task=task, officer=officer)
        events = [self._offer(task, officer, now, expires)]
        board.refresh_officer(officer, now)
        self._emit(events)
        return Outcome(True, task=task, officer=officer, events=events)

    def _offer(self, task: Task, officer: Officer, now: float, expires: float) -> Event:
        """Make the offer (already checked); the caller re-files the officer and emits."""
        task.status = TaskStatus.OFFERED
        task.officer = officer.id
        task.offer_expires = expires
        task.version += 1
        officer.offer = task.id
        officer.version += 1
        self.board.refresh_task(task, now)
        return _task_event(task, Kind.OFFERED, now, officer.id, _offer_data(task, now))

    def _offer_next(
        self, task_id: str | None, officer: Officer, now: float, expires: float, events: list[Event]
    ) -> Task | None:
        """Offer ``task_id`` to an officer a step has just freed, if the rules allow."""
        if task_id is None:
            return None
        task = self.board.tasks.get(task_id)
        if task is None or policy.refusal(officer, task, now) is not None:
            return None
        events.append(self._offer(task, officer, now, expires))
        return task

    async def reserve_many(
        self, pairs: Sequence[tuple[str, int]], now: float, expires: float
    ) -> list[Outcome]:
        return [await self.reserve(t, o, now, expires) for t, o in pairs]

    async def accept(self, task_id: str, officer_id: int, now: float) -> Outcome:
        board = self.board
        task = board.tasks.get(task_id)
        officer = board.officers.get(officer_id)
        if task is None or officer is None:
            return Outcome(False, "not_offered", task=task)
        if task.status != TaskStatus.OFFERED or task.officer != officer_id:
            return Outcome(False, "not_offered", task=task, officer=officer)
        if task.offer_expires <= now:
            return Outcome(False, "offer_expired", task=task, officer=officer)
        task.status = TaskStatus.ASSIGNED
        task.answered_at = now
        task.version += 1
        officer.offer = None
        officer.load += task.cost
        officer.missed = 0
        officer.version += 1
        board.refresh_task(task, now)
        board.refresh_officer(officer, now)
        events = [_task_event(task, Kind.ACCEPTED, now, officer_id, {"wait": now - task.arrived})]
        self._emit(events)
        return Outcome(True, task=task, officer=officer, events=events)

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
        board = self.board
        task = board.tasks.get(task_id)
        officer = board.officers.get(officer_id)
        if task is None or officer is None:
            return Outcome(False, "not_offered", task=task)
        if task.status != TaskStatus.OFFERED or task.officer != officer_id:
            return Outcome(False, "not_offered", task=task, officer=officer)
        timeout = kind == Kind.OFFER_TIMED_OUT
        if timeout and task.offer_expires > now:
            return Outcome(False, "not_due", task=task, officer=officer)
        _back_in_line(task, officer_id, exclude_until)
        officer.offer = None
        officer.missed = officer.missed + 1 if timeout else 0
        officer.version += 1
        events = [_task_event(task, kind, now, officer_id)]
        if timeout and officer.missed >= no_answer_limit and officer.presence == Presence.AVAILABLE:
            officer.presence = Presence.BREAK
            alert = {"reason": "no_answer", "missed": officer.missed, "presence": "break"}
            events.append(_officer_event(officer, Kind.SUPERVISOR_ALERT, now, alert))
        board.refresh_task(task, now)
        offered = self._offer_next(next_task, officer, now, expires, events)
        board.refresh_officer(officer, now)
        self._emit(events)
        return Outcome(True, task=task, officer=officer, events=events, offered=offered)

    async def end(
        self, task_id: str, now: float, *, status: TaskStatus, callback: Task | None
    ) -> Outcome:
        board = self.board
        task = board.tasks.get(task_id)
        if task is None:
            return Outcome(False, "ended" if task_id in board.ended else "unknown_task")
        if task.status == TaskStatus.ASSIGNED:
            return Outcome(False, "answered", task=task)
        if status == TaskStatus.MISSED and task.ttl_at > now:
            return Outcome(False, "not_due", task=task)
        officer = None
        if task.status == TaskStatus.OFFERED and task.officer is not None:
            officer = board.officers[task.officer]
            officer.offer = None
            officer.version += 1
        data: dict[str, Any] = {"wait": now - task.arrived}
        made: Task | None = None
        if (
            callback is not None
            and callback.id not in board.tasks
            and callback.id not in board.ended
        ):
            made = replace(callback, excluded={}, status=TaskStatus.WAITING, officer=None)
            made.seq = next(self._seq)
            made.version = 1
            data["callback_task"] = made.id
        task.status = status
        task.officer = None
        task.version += 1
        kind = {
            TaskStatus.ABANDONED: Kind.ABANDONED,
            TaskStatus.MISSED: Kind.MISSED,
        }.get(status, Kind.TRANSFERRED)
        if kind == Kind.TRANSFERRED:
            data["to"] = "callback"
        events = [_task_event(task, kind, now, officer.id if officer else None, data)]
        board.put_task(task, now)
        if officer is not None:
            board.refresh_officer(officer, now)
        if made is not None:
            board.put_task(made, now)
            events.append(_task_event(made, Kind.ENQUEUED, now, None, arrival_data(made)))
        self._emit(events)
        return Outcome(True, task=task, officer=officer, events=events, callback=made)

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
        board = self.board
        task = board.tasks.get(task_id)
        officer = board.officers.get(officer_id)
        if task is None or officer is None:
            return Outcome(False, "not_yours", task=task)
        if task.status != TaskStatus.ASSIGNED or task.officer != officer_id:
            return Outcome(False, "not_yours", task=task, officer=officer)
        task.status = TaskStatus.COMPLETED
        task.version += 1
        _free_capacity(officer, task.cost, wrap_until)
        officer.version += 1
        data = {"handle": now - task.answered_at, "wait": task.answered_at - task.arrived}
        events = [_task_event(task, Kind.COMPLETED, now, officer_id, data)]
        board.put_task(task, now)
        offered = self._offer_next(next_task, officer, now, expires, events)
        board.refresh_officer(officer, now)
        self._emit(events)
        return Outcome(True, task=task, officer=officer, events=events, offered=offered)

    async def requeue(self, task_id: str, now: float, change: Requeue) -> Outcome:
        board = self.board
        task = board.tasks.get(task_id)
        if task is None:
            return Outcome(False, "ended" if task_id in board.ended else "unknown_task")
        holder = change.holder
        if holder is not None and (task.status != TaskStatus.ASSIGNED or task.officer != holder):
            return Outcome(False, "not_yours", task=task)
        officer = board.officers.get(task.officer) if task.officer is not None else None
        if officer is not None:
            if task.status == TaskStatus.ASSIGNED:
                _free_capacity(officer, task.cost, change.wrap_until)
            else:
                officer.offer = None
            officer.version += 1
        task.status = TaskStatus.WAITING
        task.officer = None
        task.line = change.line
        task.female_only = change.female_only
        task.priority = change.priority
        task.ttl_at = change.ttl_at
        task.known_officer = change.known_officer
        task.known_until = change.known_until
        task.version += 1
        officer_id = officer.id if officer else None
        events = [_task_event(task, change.kind, now, officer_id, dict(change.data))]
        board.put_task(task, now)
        if officer is not None:
            board.refresh_officer(officer, now)
        self._emit(events)
        return Outcome(True, task=task, officer=officer, events=events)

    # --- events and state ----------------------------------------------------------

    async def read_events(self, group: str, consumer: str, count: int, block: float) -> list[Event]:
        return await self.outbox.read(group, count, block)

    async def ack(self, group: str, event_ids: Sequence[str]) -> None:
        self.outbox.ack(group, event_ids)

    async def snapshot(self) -> tuple[dict[str, Task], dict[int, Officer]]:
        tasks = {tid: replace(t, excluded=dict(t.excluded)) for tid, t in self.board.tasks.items()}
        officers = {oid: replace(o) for oid, o in self.board.officers.items()}
        return tasks, officers


def _back_in_line(task: Task, officer_id: int, exclude_until: float) -> None:
    task.status = TaskStatus.WAITING
    task.officer = None
    task.offer_expires = 0.0
    if exclude_until > 0:
        task.excluded[officer_id] = exclude_until
    task.version += 1


def _free_capacity(officer: Officer, cost: int, wrap_until: float) -> None:
    officer.load -= cost
    officer.wrap_until = max(officer.wrap_until, wrap_until)
    if officer.load == 0:
        officer.idle_since = officer.wrap_until


def _offer_data(task: Task, now: float) -> dict[str, Any]:
    return {
        "channel": task.channel,
        "priority": task.priority,
        "category": task.category,
        "language": task.language,
        "silent": task.silent,
        "callback": task.is_callback,
        "expires": task.offer_expires,
        "wait": now - task.arrived,
    }


def _task_event(
    task: Task, kind: Kind, now: float, officer_id: int | None, data: dict[str, Any] | None = None
) -> Event:
    return Event(
        id=task_event_id(task.id, task.version),
        kind=kind,
        at=now,
        task_id=task.id,
        session_id=task.session_id,
        officer_id=officer_id,
        line=task.line,
        data=data or {},
    )


def _officer_event(officer: Officer, kind: Kind, now: float, data: dict[str, Any]) -> Event:
    return Event(
        id=officer_event_id(officer.id, officer.version),
        kind=kind,
        at=now,
        officer_id=officer.id,
        data=data,
    )
