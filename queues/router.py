"""The router: the public face of the routing engine.

A contact becomes a task with :meth:`Router.enqueue`; officers come and go
with :meth:`Router.set_presence`; offers reach consoles as ``offered`` events
through :meth:`Router.listen`; officers answer with :meth:`Router.accept` or
:meth:`Router.decline` and finish with :meth:`Router.complete`. Every method
runs the timers that are due first (offer timeouts, time-to-live, relaxation,
wrap-up), and :meth:`Router.start` runs them in the background too.

The router decides *who* (with :mod:`queues.policy` over the store's board)
and asks the store to do it atomically; a step the store refuses because
another process got there first is simply retried with fresh state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from queues import metrics, policy
from queues.board import Due
from queues.config import RoutingConfig
from queues.events import Event, Kind
from queues.model import CHANNEL_KINDS, Officer, OfficerProfile, Presence, Task, TaskStatus
from queues.policy import hard_ok, offerable
from queues.stats import LineStats
from queues.store import Outcome, Rebuilding, Requeue, Store
from safecall.refusals import Conflict, Invalid, NotFound, Refusal

log = logging.getLogger(__name__)

_ATTEMPTS = 8
"""Tries of one offer when other processes keep taking the chosen officer or task first."""
CALLBACK_SUFFIX = "~callback"
WARM_SUFFIX = "~warm"
"""A warm transfer's task: ``<session>~<random>~warm`` (a task id is never used twice),
offered to the colleague while the officer who asked keeps the contact
(:meth:`Router.warm_transfer`)."""


class Refused(Refusal):
    """The queues will not do this: a stable ``code`` and a ``message`` a person can act on
    (an unknown task is not found, an unknown line is invalid, the rest conflict with the
    task's or the officer's state)."""


_MESSAGES = {
    "unknown_task": "There is no such contact in the queues.",
    "ended": "This contact has already ended.",
    "answered": "This contact has already been answered.",
    "not_offered": "This contact is not offered to you (it may have gone to someone else).",
    "offer_expired": "The offer has expired; the contact went back in line.",
    "not_yours": "You are not handling this contact.",
    "unknown_officer": "Go available on the queue console first.",
    "hard_rule": "That officer may not take this contact (service line or women's line rule).",
    "officer_not_free": "That officer cannot take a contact right now.",
    "female_only_line": "She came to a line answered by women only: pass her to a line that "
    "is, or to a female colleague by name (for a child's matter, file it on a child-line case).",
    "not_callback_safe": "She did not say it is safe to call her back.",
    "transfer_pending": "A warm transfer of this contact is waiting already; cancel it first.",
    "no_transfer": "There is no warm transfer of this contact waiting.",
    "transfer_accepted": "Your colleague has accepted the transfer already.",
}


_KINDS: dict[str, type[Refused]] = {
    "unknown_task": type("UnknownTask", (Refused, NotFound), {}),
    "unknown_line": type("UnknownLine", (Refused, Invalid), {}),
}
_CONFLICT: type[Refused] = type("QueuesConflict", (Refused, Conflict), {})


def refused(code: str, message: str | None = None) -> Refused:
    kind = _KINDS.get(code, _CONFLICT)
    return kind(code, message or _MESSAGES.get(code, "The queues refused this; try again."))


@dataclass(frozen=True)
class Contact:
    """A contact to route (what :meth:`Router.enqueue` takes)."""

    id: str
    """The contact session's id; it becomes the task's id."""
    line: str
    channel: str
    category: str | None = None
    language: str | None = None
    district: str | None = None
    emergency: bool = False
    silent: bool = False
    callback_safe: bool = False
    known_officer: int | None = None
    """The officer who handled her case before (from her tracking code)."""
    priority: int | None = None
    """Overrides the priority of her category (a number often marked irrelevant: lower);
    from 0 to just below the emergency priority, and ignored for an emergency."""
    arrived: datetime | None = None
    """When she arrived (defaults to now); her place in line."""


@dataclass(frozen=True)
class Placement:
    """Where a task stands."""

    task_id: str
    status: str
    position: int | None
    """1 is next in line; None once offered, answered or ended."""
    estimated_wait: float | None
    """Seconds; None when offered, answered, ended, or nobody who may answer is present."""
    officer_id: int | None


class Listener:
    """Events as they happen in this process (all of them, or one officer's)."""

    def __init__(self, router: Router, officer_id: int | None) -> None:
        self._router = router
        self.officer_id = officer_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    def deliver(self, event: Event) -> None:
        if self.officer_id is None or event.officer_id == self.officer_id:
            self.queue.put_nowait(event)

    async def next(self) -> Event:
        """The next event (wrap in ``asyncio.timeout`` to bound the wait)."""
        return await self.queue.get()

    def close(self) -> None:
        self._router._listeners.discard(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class Router:
    def __init__(
        self,
        store: Store,
        config: RoutingConfig,
        clock: Callable[[], datetime],
        *,
        sweep_every: float = 1.0,
    ) -> None:
        self.store = store
        self.config = config
        self.board = store.board
        self.clock = clock
        self.sweep_every = sweep_every
        self.stats_keeper = store.stats
        self._listeners: set[Listener] = set()
        self._loop: asyncio.Task[None] | None = None
        self._started = False
        self._busy_tasks: set[str] = set()
        self._busy_officers: set[int] = set()
        self._wake = asyncio.Event()
        self.asked: dict[int, Presence] = {}
        """Officers asked to confirm their presence after Redis lost the state (their
        presence before it), kept by :mod:`queues.recovery`; empty otherwise."""
        store.on_events(self._fan_out)

    # --- life ----------------------------------------------------------------------

    async def start(self, *, background: bool = True) -> None:
        """Open the store and (unless ``background`` is False) run timers in the background."""
        await self.store.open(self._now())
        self._started = True
        if background:
            self._loop = asyncio.create_task(self._run(), name="queues-router")
        metrics.watch(self)

    async def stop(self) -> None:
        """Stop the background loop and close the store; safe to call twice."""
        metrics.unwatch(self)
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        if self._started:
            self._started = False
            await self.store.close()

    async def sync(self) -> None:
        """Return once this process has seen (board, listeners) every step committed so far."""
        await self.store.sync()

    async def _run(self) -> None:
        last_sweep = 0.0
        while True:
            try:
                now = self._now()
                await self._catch_up(now)
                if now - last_sweep >= self.sweep_every:
                    last_sweep = now
                    await self.sweep()
                due = self.board.next_due()
                wait = self.sweep_every if due is None else min(self.sweep_every, due - now)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(wait, 0.01))
            except asyncio.CancelledError:
                raise
            except Rebuilding:
                await asyncio.sleep(0.2)  # queues.recovery rebuilds; then the loop goes on
            except Exception:
                log.exception("router loop failed; retrying")
                await asyncio.sleep(0.5 + random.random())

    def _now(self) -> float:
        return self.clock().timestamp()

    def wake(self) -> None:
        """Look at the timers and sweep now (the state was rebuilt)."""
        self._wake.set()

    def tell(self, event: Event) -> None:
        """Pass an event that is no store step's to this process's listeners (the consoles
        look again: after a rebuild, who is asked to confirm changed)."""
        self._fan_out([event])

    def _fan_out(self, events: Sequence[Event]) -> None:
        if self._listeners:
            for listener in list(self._listeners):
                for event in events:
                    listener.deliver(event)

    def listen(self, officer_id: int | None = None) -> Listener:
        """Events from now on: all of them, or those about one officer (her offers).

        An officer's console waits here for ``offered`` events (``event.task_id``,
        ``event.data``: channel, language, silent, expires). Close it when done.
        """
        listener = Listener(self, officer_id)
        self._listeners.add(listener)
        return listener

    # --- contacts ------------------------------------------------------------------

    async def enqueue(self, contact: Contact) -> Placement:
        """Put a contact in line and offer it at once if someone fits. Idempotent on the id."""
        task = self._task_for(contact)
        now = self._now()
        await self._catch_up(now)
        outcome = await self.store.enqueue(task, now)
        if outcome.ok:
            await self._offer_task(task.id, now)
        return self.placement(task.id)

    def _task_for(self, contact: Contact) -> Task:
        config = self.config
        if not contact.id or len(contact.id) > 64 or "#" in contact.id or "~" in contact.id:
            raise ValueError("a task id is 1 to 64 characters without '#' or '~'")
        if contact.line not in config.lines:
            raise ValueError(f"unknown service line {contact.line!r}")
        kind = CHANNEL_KINDS.get(contact.channel)
        if kind is None:
            raise ValueError(f"unknown channel {contact.channel!r}")
        now = self._now()
        arrived = now if contact.arrived is None else min(contact.arrived.timestamp(), now)
        task = Task(
            id=contact.id,
            session_id=contact.id,
            line=contact.line,
            channel=contact.channel,
            kind=kind,
            cost=config.cost(kind),
            priority=self._priority_of(contact),
            arrived=arrived,
            ttl_at=arrived + config.ttl,
            female_only=config.female_only(contact.line),
            category=contact.category,
            language=contact.language,
            district=contact.district,
            silent=contact.silent,
            callback_safe=contact.callback_safe,
        )
        known = self.board.officers.get(contact.known_officer or -1)
        if (
            known is not None
            and known.presence != Presence.OFFLINE
            and hard_ok(known.profile, task)
        ):
            task.known_officer = known.id
            task.known_until = now + config.known_officer
        return task

    def _priority_of(self, contact: Contact) -> int:
        """Her category's priority, or the override; an emergency never loses its priority."""
        config = self.config
        if contact.priority is not None and not 0 <= contact.priority < config.emergency_priority:
            raise ValueError(
                f"a priority override is a whole number from 0 to {config.emergency_priority - 1}"
            )
        if contact.emergency or contact.priority is None:
            return config.priority_of(contact.category, emergency=contact.emergency)
        return contact.priority

    async def cancel(self, task_id: str, *, callback: bool = True) -> Task | None:
        """She left before an officer answered: the task ends ``abandoned`` wherever it is.

        When she said a callback is safe (and ``callback``), a callback task is created (and
        returned). A contact whose page never came gets none: nobody was there.
        """
        now = self._now()
        await self._catch_up(now)
        outcome = await self._end(task_id, now, TaskStatus.ABANDONED, callback=callback)
        return outcome.callback

    async def returned(self, task_id: str) -> Placement:
        """The contact dropped mid-conversation and came back: offered first to the same officer."""
        now = self._now()
        await self._catch_up(now)
        task = self._known_task(task_id)
        if task.status != TaskStatus.ASSIGNED or task.officer is None:
            raise refused("not_yours")
        await self._requeue(
            task,
            now,
            kind=Kind.RETURNED,
            holder=task.officer,
            known_officer=task.officer,
            known_until=now + self.config.returning,
            wrap_until=0.0,
            data={"officer": task.officer},
        )
        return self.placement(task_id)

    def restored_task(self, contact: Contact) -> Task:
        """The task a contact becomes, to put back after the store lost it (its first
        arrival kept; nobody known: whoever confirms first may take it)."""
        return self._task_for(replace(contact, known_officer=None))

    async def offer_now(self, task_id: str) -> None:
        """Offer a waiting task to the best officer free for it, if any."""
        await self._offer_task(task_id, self._now())

    def placement(self, task_id: str) -> Placement:
        """Her place in line and an honest estimate of her wait."""
        task = self.board.tasks.get(task_id)
        if task is None:
            ended = self.board.ended.get(task_id)
            status = ended[0] if ended else "unknown"
            return Placement(task_id, status, None, None, None)
        if task.status != TaskStatus.WAITING:
            return Placement(task_id, task.status, None, None, task.officer)
        now = self._now()
        position = self.board.position(task_id) or 1
        keeper = self.stats_keeper
        estimate = keeper.estimate(
            position, self.board.staffed(task.line), keeper.handle_time(task.line, now)
        )
        return Placement(task_id, task.status, position, estimate, None)

    # --- officers ------------------------------------------------------------------

    async def register(self, profile: OfficerProfile) -> Officer:
        """Make an officer known (or update her profile); she starts offline."""
        return await self.store.register(profile, self._now())

    async def set_presence(self, officer_id: int, presence: Presence) -> Officer:
        """Available (also ends wrap-up), on break, or offline. Going away withdraws her offer."""
        now = self._now()
        await self._catch_up(now)
        officer = self.board.officers.get(officer_id)
        next_task = None
        if (  # she comes back (or ends her wrap-up) with no offer pending
            presence == Presence.AVAILABLE
            and officer is not None
            and (officer.presence != presence or officer.wrap_until > now)
            and officer.offer is None
        ):
            next_task = self._next_for(officer, officer.capacity - officer.load, now)
        expires = now + self.config.offer_timeout
        outcome = await self._then_offer(
            officer_id,
            next_task,
            self.store.set_presence(
                officer_id,
                presence,
                now,
                exclude_until=now + self.config.reoffer_after,
                next_task=next_task,
                expires=expires,
            ),
        )
        if not outcome.ok:
            raise refused(outcome.reason or "unknown_officer")
        if outcome.task is not None:
            await self._offer_task(outcome.task.id, now)
        if presence == Presence.AVAILABLE and outcome.offered is None:
            await self._offer_officer(officer_id, now)
        assert outcome.officer is not None
        return outcome.officer

    async def accept(self, task_id: str, officer_id: int) -> Task:
        now = self._now()
        await self._catch_up(now)
        outcome = await self.store.accept(task_id, officer_id, now)
        if not outcome.ok:
            raise refused(outcome.reason or "not_offered")
        await self._offer_officer(officer_id, now)  # she may have room for another chat
        assert outcome.task is not None
        return outcome.task

    async def decline(self, task_id: str, officer_id: int) -> None:
        now = self._now()
        await self._catch_up(now)
        exclude_until = now + self.config.reoffer_after
        officer = self.board.officers.get(officer_id)
        task = self.board.tasks.get(task_id)
        next_task = None
        # Her next task is known now only when the declined one cannot be it (she is
        # shut out of it for a while); otherwise both are offered after the step.
        if officer is not None and task is not None and exclude_until > now:
            if (
                task.status == TaskStatus.OFFERED
                and officer.offer == task_id
                and officer.presence == Presence.AVAILABLE
                and officer.wrap_until <= now
            ):
                next_task = self._next_for(officer, officer.capacity - officer.load, now)
        outcome = await self._then_offer(
            officer_id,
            next_task,
            self.store.release(
                task_id,
                officer_id,
                now,
                kind=Kind.DECLINED,
                exclude_until=exclude_until,
                no_answer_limit=self.config.no_answer_limit,
                next_task=next_task,
                expires=now + self.config.offer_timeout,
            ),
        )
        if not outcome.ok:
            raise refused(outcome.reason or "not_offered")
        if outcome.offered is None:
            await self._dispatch([officer_id], [task_id], now)
        else:
            await self._offer_task(task_id, now)

    async def complete(self, task_id: str, officer_id: int) -> None:
        """She finished: the task ends, her wrap-up starts (and, without wrap-up, her next
        offer is made in the same store step)."""
        now = self._now()
        await self._catch_up(now)
        wrap_until = now + self.config.wrap_up
        next_task = None
        if wrap_until <= now:
            officer = self.board.officers.get(officer_id)
            task = self.board.tasks.get(task_id)
            if officer is not None and task is not None and task.officer == officer_id:
                if (
                    task.status == TaskStatus.ASSIGNED
                    and officer.presence == Presence.AVAILABLE
                    and officer.offer is None
                    and officer.wrap_until <= now
                ):
                    room = officer.capacity - officer.load + task.cost
                    next_task = self._next_for(officer, room, now)
        outcome = await self._then_offer(
            officer_id,
            next_task,
            self.store.complete(
                task_id,
                officer_id,
                now,
                wrap_until,
                next_task=next_task,
                expires=now + self.config.offer_timeout,
            ),
        )
        if not outcome.ok:
            raise refused(outcome.reason or "not_yours")
        if outcome.offered is None:
            await self._offer_officer(officer_id, now)

    async def transfer(
        self,
        task_id: str,
        officer_id: int,
        *,
        line: str | None = None,
        to_officer: int | None = None,
    ) -> Placement:
        """The officer holding it passes it to another service line or a named officer."""
        now = self._now()
        await self._catch_up(now)
        task = self._known_task(task_id)
        if task.status != TaskStatus.ASSIGNED or task.officer != officer_id:
            raise refused("not_yours")
        await self._redirect(
            task, now, kind=Kind.TRANSFERRED, line=line, to_officer=to_officer, holder=officer_id
        )
        return self.placement(task_id)

    async def warm_transfer(
        self,
        task_id: str,
        officer_id: int,
        *,
        line: str | None = None,
        to_officer: int | None = None,
    ) -> Placement:
        """The officer holding it asks a colleague (a named officer, or whoever is free next on
        a line) to join her: she keeps it, and a task of its own (``<id>~warm``) is offered
        to the colleague with the same hard rules. The placement of that task."""
        now = self._now()
        await self._catch_up(now)
        task = self._known_task(task_id)
        if task.status != TaskStatus.ASSIGNED or task.officer != officer_id:
            raise refused("not_yours")
        if self.warm_of(task.session_id) is not None:
            raise refused("transfer_pending")
        warm_id = f"{task_id}~{secrets.token_hex(4)}{WARM_SUFFIX}"
        new_line = task.line if line is None else line
        if new_line not in self.config.lines:
            raise refused("unknown_line", f"There is no service line {new_line!r}.")
        warm = self._task_for(
            Contact(
                id=task_id,
                line=new_line,
                channel=task.channel,
                category=task.category,
                language=task.language,
                district=task.district,
                silent=task.silent,
            )
        )
        warm.id, warm.session_id = warm_id, task.session_id
        # Her place in line is kept (her priority, her first arrival), as on a cold transfer.
        warm.priority, warm.arrived, warm.ttl_at = (
            task.priority,
            task.arrived,
            now + self.config.ttl,
        )
        if to_officer is not None:
            target = self.board.officers.get(to_officer)
            if target is None:
                raise refused("unknown_officer")
            if not hard_ok(target.profile, warm):
                raise refused("hard_rule")
            if not offerable(target, warm.cost, now) or to_officer == officer_id:
                raise refused("officer_not_free")
            # Asked by name: offered to her alone, until it is missed or called off.
            warm.known_officer, warm.known_until = to_officer, warm.ttl_at
        else:
            warm.known_officer, warm.known_until = None, 0.0
        if (await self.store.enqueue(warm, now)).ok:
            if to_officer is None:
                await self._keep_from(warm, officer_id, now)
            await self._offer_task(warm_id, now)
        return self.placement(warm_id)

    def warm_of(self, session_id: str) -> Task | None:
        """The warm transfer of this contact waiting, offered or accepted, if any."""
        for task in self.board.tasks.values():
            if task.session_id == session_id and task.id.endswith(WARM_SUFFIX):
                return task
        return None

    async def _keep_from(self, task: Task, officer_id: int, now: float) -> None:
        """Whoever is free next on the line, never the officer who asked (she holds the
        contact): she is shut out of the task for its whole life, as by a decline."""
        expires = now + self.config.offer_timeout
        if (await self.store.reserve(task.id, officer_id, now, expires)).ok:
            await self.store.release(
                task.id,
                officer_id,
                now,
                kind=Kind.DECLINED,
                exclude_until=task.ttl_at,
                no_answer_limit=self.config.no_answer_limit,
            )

    async def cancel_warm(self, task_id: str, officer_id: int) -> None:
        """The officer who asked a colleague to join calls it off before the colleague
        accepted: the contact stays hers."""
        now = self._now()
        await self._catch_up(now)
        task = self._known_task(task_id)
        if task.status != TaskStatus.ASSIGNED or task.officer != officer_id:
            raise refused("not_yours")
        warm = self.warm_of(task.session_id)
        if warm is None:
            raise refused("no_transfer")
        if warm.status == TaskStatus.ASSIGNED:
            raise refused("transfer_accepted")
        try:
            await self._end(warm.id, now, TaskStatus.ABANDONED, callback=False)
        except Refused as refusal:
            if refusal.code == "answered":
                raise refused("transfer_accepted") from None
            raise

    async def move(
        self,
        task_id: str,
        *,
        by: int,
        line: str | None = None,
        to_officer: int | None = None,
        priority: int | None = None,
    ) -> Placement:
        """A supervisor moves a task not yet answered: another line, a named officer, a priority."""
        now = self._now()
        await self._catch_up(now)
        task = self._known_task(task_id)
        if task.status == TaskStatus.ASSIGNED:
            raise refused("answered")
        await self._redirect(
            task,
            now,
            kind=Kind.MOVED,
            line=line,
            to_officer=to_officer,
            holder=None,
            priority=priority,
            data={"by": by},
        )
        return self.placement(task_id)

    async def to_callback(self, task_id: str, *, by: int) -> Task:
        """A supervisor moves a waiting contact to a callback (only when she said it is safe)."""
        now = self._now()
        await self._catch_up(now)
        task = self._known_task(task_id)
        if task.status == TaskStatus.ASSIGNED:
            raise refused("answered")
        if not task.callback_safe or task.is_callback:
            raise refused("not_callback_safe")
        outcome = await self._end(task_id, now, TaskStatus.TRANSFERRED)
        assert outcome.callback is not None
        return outcome.callback

    async def callback_again(self, contact: Contact, *, attempt: int) -> Placement:
        """Put her callback back in line for ring ``attempt`` (an earlier ring went unanswered),
        offered to whoever is free. Each ring is its own task, ``<session>~<attempt>~callback``
        (a task id is never used twice); idempotent on it. Attempt 1 is the first ring's
        task, ``<session>~callback``: a callback she asked for after her contact was in line.
        """
        now = self._now()
        await self._catch_up(now)
        origin = self._task_for(replace(contact, callback_safe=True, known_officer=None))
        task = self._callback_for(origin, now)
        assert task is not None
        if attempt > 1:
            task.id = f"{contact.id}~{attempt}{CALLBACK_SUFFIX}"
        if (await self.store.enqueue(task, now)).ok:
            await self._offer_task(task.id, now)
        return self.placement(task.id)

    async def page(self, officer_id: int, *, by: int) -> None:
        """Ask an officer (on her console) to come to the queue."""
        outcome = await self.store.page(officer_id, self._now(), {"by": by})
        if not outcome.ok:
            raise refused(outcome.reason or "unknown_officer")

    # --- reading -------------------------------------------------------------------

    def stats(self, *, with_tasks: bool = False) -> list[LineStats]:
        now = self._now()
        return [
            self.stats_keeper.line(self.board, line, now, with_tasks=with_tasks)
            for line in self.config.lines
        ]

    def officer(self, officer_id: int) -> Officer | None:
        return self.board.officers.get(officer_id)

    # --- time ----------------------------------------------------------------------

    async def tick(self) -> None:
        """Run what is due now (tests call this after moving the clock)."""
        await self._catch_up(self._now())

    async def _catch_up(self, now: float) -> None:
        board = self.board
        due = board.next_due()
        if due is None or due > now:
            return
        # Make every change that is due first, then offer: so that tasks freed or relaxed at
        # the same moment are offered in their order in line.
        officers: list[int] = []
        tasks: list[str] = []
        for action in board.due(now):
            if action.due == Due.OFFER and action.task_id and action.officer_id is not None:
                outcome = await self.store.release(
                    action.task_id,
                    action.officer_id,
                    now,
                    kind=Kind.OFFER_TIMED_OUT,
                    exclude_until=now + self.config.reoffer_after,
                    no_answer_limit=self.config.no_answer_limit,
                )
                if outcome.ok:
                    officers.append(action.officer_id)
                    tasks.append(action.task_id)
            elif action.due == Due.TTL and action.task_id:
                outcome = await self._end(action.task_id, now, TaskStatus.MISSED, dispatch=False)
                if outcome.officer is not None:
                    officers.append(outcome.officer.id)
                if outcome.callback is not None:
                    tasks.append(outcome.callback.id)
            elif action.due == Due.WRAP and action.officer_id is not None:
                officers.append(action.officer_id)
            elif action.task_id:
                tasks.append(action.task_id)
        await self._dispatch(officers, tasks, now)

    async def sweep(self) -> int:
        """Offer whatever can be offered now; the number of offers made.

        Catches work another process left undone, and drains a backlog when many
        officers come free at once (a shift starts). The plan is made first, greedy in
        line order (each task in turn to the best officer still free), then the offers
        are committed together; what another process took meanwhile is planned again.
        """
        now = self._now()
        board = self.board
        expires = now + self.config.offer_timeout
        made = 0
        if not self.store.remote:
            # Each step lands on the board at once: offer one after the other.
            free = sum(1 for _ in board.free_officers())
            for task in board.waiting_in_order(now):
                if made == free:
                    break
                officer = board.best_officer(task, now)
                if officer is not None:
                    made += (await self.store.reserve(task.id, officer.id, now, expires)).ok
            return made
        for _ in range(_ATTEMPTS):
            if not any(True for _ in board.free_officers()):
                return made
            plan: list[tuple[str, int]] = []
            claimed: set[int] = set(self._busy_officers)
            free = sum(1 for _ in board.free_officers())
            for task in board.waiting_in_order(now):
                if task.id in self._busy_tasks:
                    continue
                officer = board.best_officer(task, now, claimed)
                if officer is not None:
                    plan.append((task.id, officer.id))
                    claimed.add(officer.id)
                    if len(claimed) == free:
                        break
            if not plan:
                return made
            outcomes = await self.store.reserve_many(plan, now, expires)
            done = sum(1 for outcome in outcomes if outcome.ok)
            made += done
            if done == len(plan):
                return made
        return made

    # --- steps ---------------------------------------------------------------------

    def _known_task(self, task_id: str) -> Task:
        task = self.board.tasks.get(task_id)
        if task is None:
            raise refused("ended" if task_id in self.board.ended else "unknown_task")
        return task

    def _callback_for(self, task: Task, now: float) -> Task | None:
        if not task.callback_safe or task.is_callback:
            return None
        config = self.config
        return Task(
            id=task.id + CALLBACK_SUFFIX,
            session_id=task.session_id,
            line=task.line,
            channel="phone",
            kind=CHANNEL_KINDS["phone"],
            cost=config.cost(CHANNEL_KINDS["phone"]),
            # Live contacts come first, except that an emergency stays an emergency.
            priority=max(task.priority, config.callback_priority)
            if task.priority >= config.emergency_priority
            else config.callback_priority,
            arrived=now,
            ttl_at=now + config.callback_ttl,
            female_only=task.female_only,
            category=task.category,
            language=task.language,
            district=task.district,
            callback_safe=True,
            is_callback=True,
        )

    async def _end(
        self,
        task_id: str,
        now: float,
        status: TaskStatus,
        *,
        dispatch: bool = True,
        callback: bool = True,
    ) -> Outcome:
        task = self.board.tasks.get(task_id)
        callback_task = self._callback_for(task, now) if task is not None and callback else None
        outcome = await self.store.end(task_id, now, status=status, callback=callback_task)
        if not outcome.ok:
            if status == TaskStatus.MISSED:
                return outcome
            raise refused(outcome.reason or "unknown_task")
        if dispatch:
            await self._dispatch(
                [outcome.officer.id] if outcome.officer else [],
                [outcome.callback.id] if outcome.callback else [],
                now,
            )
        return outcome

    async def _redirect(
        self,
        task: Task,
        now: float,
        *,
        kind: Kind,
        line: str | None,
        to_officer: int | None,
        holder: int | None,
        priority: int | None = None,
        data: dict[str, object] | None = None,
    ) -> None:
        config = self.config
        new_line = task.line if line is None else line
        if new_line not in config.lines:
            raise refused("unknown_line", f"There is no service line {new_line!r}.")
        if task.female_only and not config.female_only(new_line):
            # She came to a female-only line: no transfer or move hands her to a man.
            raise refused("female_only_line")
        details: dict[str, object] = dict(data or {})
        details["to_line"] = new_line
        known_until = 0.0
        if to_officer is not None:
            target = self.board.officers.get(to_officer)
            if target is None:
                raise refused("unknown_officer")
            probe = replace(task, line=new_line, female_only=config.female_only(new_line))
            if not hard_ok(target.profile, probe):
                raise refused("hard_rule")
            if not offerable(target, task.cost, now) or to_officer == holder:
                raise refused("officer_not_free")
            details["to_officer"] = to_officer
            known_until = now + max(config.known_officer, config.offer_timeout)
        await self._requeue(
            task,
            now,
            kind=kind,
            line=new_line,
            holder=holder,
            priority=task.priority if priority is None else priority,
            known_officer=to_officer,
            known_until=known_until,
            wrap_until=now + config.wrap_up if holder is not None else 0.0,
            data=details,
        )

    async def _requeue(
        self,
        task: Task,
        now: float,
        *,
        kind: Kind,
        holder: int | None,
        known_officer: int | None,
        known_until: float,
        wrap_until: float,
        data: dict[str, object],
        line: str | None = None,
        priority: int | None = None,
    ) -> None:
        new_line = task.line if line is None else line
        change = Requeue(
            kind=kind,
            line=new_line,
            female_only=self.config.female_only(new_line),
            priority=task.priority if priority is None else priority,
            ttl_at=max(task.ttl_at, now + self.config.ttl),
            known_officer=known_officer,
            known_until=known_until,
            holder=holder,
            wrap_until=wrap_until,
            data=data,
        )
        outcome = await self.store.requeue(task.id, now, change)
        if not outcome.ok:
            raise refused(outcome.reason or "unknown_task")
        await self._dispatch([outcome.officer.id] if outcome.officer else [], [task.id], now)

    async def _dispatch(self, officers: list[int], tasks: list[str], now: float) -> None:
        """Offer what can be offered after a change that freed these officers and tasks.

        Greedy in line order: again and again, the first task in line that some free
        officer may take goes to the best of them. Only the freed officers and tasks need
        looking at: before the change nothing else could be matched.
        """
        board = self.board
        if not officers and len(tasks) == 1:  # the common case: one task, nothing else moved
            await self._offer_task(tasks[0], now)
            return
        if len(officers) == 1 and not tasks:  # one officer freed: her first task is hers
            await self._offer_officer(officers[0], now)
            return
        pending = set(tasks)
        for _ in range(len(officers) + len(tasks) + _ATTEMPTS):
            candidates: list[Task] = []
            for officer_id in officers:
                officer = board.officers.get(officer_id)
                first = board.first_task(officer, now) if officer is not None else None
                if first is not None:
                    candidates.append(first)
            for task_id in pending:
                task = board.tasks.get(task_id)
                if task is not None and board.best_officer(task, now) is not None:
                    candidates.append(task)
            if not candidates:
                return
            chosen = min(candidates, key=lambda task: policy.place(task, now, self.config))
            pending.discard(chosen.id)
            await self._offer_task(chosen.id, now)

    async def _offer_task(self, task_id: str, now: float) -> None:
        """Offer a waiting task to the best officer free for it, if any."""
        board = self.board
        expires = now + self.config.offer_timeout
        for _ in range(_ATTEMPTS):
            task = board.tasks.get(task_id)
            if task is None or task.status != TaskStatus.WAITING or task_id in self._busy_tasks:
                return
            officer = board.best_officer(task, now, self._busy_officers)
            if officer is None:
                return
            # She may have just come free, with older tasks in line that she may take:
            # those come first (another process may not have offered her one yet).
            first = board.first_task(officer, now, self._busy_tasks) or task
            if await self._reserve(first.id, officer.id, now, expires) and first is task:
                return

    async def _offer_officer(self, officer_id: int, now: float) -> None:
        """Offer a free officer the first task in line she may take, if any."""
        board = self.board
        expires = now + self.config.offer_timeout
        for _ in range(_ATTEMPTS):
            officer = board.officers.get(officer_id)
            if officer is None or officer_id in self._busy_officers:
                return
            task = board.first_task(officer, now, self._busy_tasks)
            if task is None:
                return
            if await self._reserve(task.id, officer_id, now, expires):
                return

    def _next_for(self, officer: Officer, room: int, now: float) -> str | None:
        """The task to offer ``officer`` next, once a step has left her free for an offer
        with ``room`` units of capacity, if any (the store re-checks it all)."""
        if officer.id in self._busy_officers:
            return None
        task = self.board.first_fitting(officer.profile, room, now, self._busy_tasks)
        return None if task is None else task.id

    async def _then_offer(
        self, officer_id: int, next_task: str | None, step: Awaitable[Outcome]
    ) -> Outcome:
        """Run a store step that frees an officer and then offers her ``next_task``."""
        if next_task is None:
            return await step
        self._busy_tasks.add(next_task)
        self._busy_officers.add(officer_id)
        try:
            return await step
        finally:
            self._busy_tasks.discard(next_task)
            self._busy_officers.discard(officer_id)

    async def _reserve(self, task_id: str, officer_id: int, now: float, expires: float) -> bool:
        # While this offer is on its way to the store, other dispatches of this process
        # leave the task and the officer alone (no racing ourselves).
        self._busy_tasks.add(task_id)
        self._busy_officers.add(officer_id)
        try:
            outcome = await self.store.reserve(task_id, officer_id, now, expires)
        finally:
            self._busy_tasks.discard(task_id)
            self._busy_officers.discard(officer_id)
        return outcome.ok
