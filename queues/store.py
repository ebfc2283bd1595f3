"""What a store must provide: the few atomic steps the policy needs, and the events.

Two stores implement :class:`Store`: :class:`queues.memory_store.MemoryStore`
(one process, ``make run``) and :class:`queues.redis_store.RedisStore` (several
processes sharing one Redis). One contract test suite runs against both.

Each step is atomic and checks its own preconditions against the store's
state, whatever the caller believed: a step refused leaves nothing changed
and says why in :attr:`Outcome.reason`. No step decides *who*: that is the
policy's job (:mod:`queues.policy`, driven by :mod:`queues.router`). But
:meth:`Store.reserve` re-checks the hard rules itself, so no path into an
officer can break them.

Every change bumps the version of what changed and appends one event per
task (and one per officer, for officer-only changes).

The steps that free an officer (:meth:`Store.complete`, :meth:`Store.release`,
:meth:`Store.set_presence`) may be given the task to offer her next
(``next_task``, chosen by the policy on the board): the store then makes that
offer in the same atomic step, re-checking it exactly as :meth:`Store.reserve`
does, so the usual "she is free, offer her the next one" costs one step. An
offer it refuses leaves the first part done and ``Outcome.offered`` None.

The store also keeps the statistics window (:attr:`Store.stats`): every
process on one store reports the same figures, a restarted one included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from queues.board import Board
from queues.events import Event, Kind
from queues.model import Officer, OfficerProfile, Presence, Task, TaskStatus
from queues.stats import StatsKeeper
from safecall.refusals import Unavailable

EventSink = Callable[[Sequence[Event]], None]


@dataclass(slots=True)
class Outcome:
    """What a step did."""

    ok: bool
    reason: str | None = None
    """Why it was refused: a stable code (``task_not_waiting``, ``not_offered``, ...)."""
    task: Task | None = None
    """The task after the step (or as it is, when refused; None when unknown)."""
    officer: Officer | None = None
    events: list[Event] = field(default_factory=list)
    callback: Task | None = None
    """The callback task this step created, if any."""
    offered: Task | None = None
    """The task this step then offered the officer it freed (``next_task``), if it did."""


@dataclass(frozen=True, slots=True)
class Requeue:
    """How :meth:`Store.requeue` puts a task back in line (its arrival is kept)."""

    kind: Kind
    """``RETURNED`` (a drop), ``TRANSFERRED`` or ``MOVED`` (a supervisor)."""
    line: str
    female_only: bool
    """The hard rule of ``line``, carried with the task."""
    priority: int
    ttl_at: float
    known_officer: int | None
    """Offered to this officer alone until ``known_until`` (None: anyone)."""
    known_until: float
    holder: int | None
    """When given, the task must be held by this officer, whose capacity is freed."""
    wrap_until: float
    """The freed holder's wrap-up runs until then."""
    data: dict[str, object]
    """Detail for the event."""


class StoreError(RuntimeError):
    """The store cannot be reached or answered something it should not."""


class Rebuilding(Unavailable):
    """Redis lost the routing state (it restarted without persistence, or was flushed) and
    this process is rebuilding it (:mod:`queues.recovery`): try again in a moment."""

    def __init__(self) -> None:
        super().__init__(
            "redis_reset",
            "The queues are being rebuilt after a restart; try again in a moment.",
            retry_after=1,
        )


class Store(Protocol):
    board: Board
    """Every active task and officer, indexed (the state, or a copy that follows it)."""
    remote: bool
    """Steps travel to another server (worth sending together); False in-process."""
    stats: StatsKeeper
    """The statistics window: the outcomes of every process on this store within
    ``service_level.window`` (a Redis store loads it at :meth:`open`, then follows)."""

    async def open(self, now: float) -> None:
        """Connect and load the state (``now`` places waiting tasks in their rings)."""

    async def close(self) -> None: ...

    async def sync(self) -> None:
        """Return once the board and the listeners have seen every step committed so far."""

    def on_events(self, sink: EventSink) -> None:
        """Call ``sink`` with every event once in this process, in commit order."""

    async def register(self, profile: OfficerProfile, now: float) -> Officer:
        """Add an officer (offline) or update her profile; her state is kept."""

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
        """Available, on break or offline. Going away withdraws a pending offer (the task
        keeps its place); going available ends wrap-up and resets missed offers. When her
        presence changed, ``next_task`` is then offered to her (until ``expires``)."""

    async def enqueue(self, task: Task, now: float) -> Outcome:
        """Add a waiting task; refused with ``exists`` (and the task) if its id is known.

        The store may keep ``task`` itself: pass a fresh object and do not change it."""

    async def reserve(self, task_id: str, officer_id: int, now: float, expires: float) -> Outcome:
        """Offer the task to the officer if both are still free and the hard rules hold."""

    async def reserve_many(
        self, pairs: Sequence[tuple[str, int]], now: float, expires: float
    ) -> list[Outcome]:
        """:meth:`reserve` for each (task, officer) pair, each atomic on its own, in one go."""

    async def accept(self, task_id: str, officer_id: int, now: float) -> Outcome:
        """The officer takes the task offered to her: she is busy, the task assigned."""

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
        """A decline (``Kind.DECLINED``) or a timeout (``Kind.OFFER_TIMED_OUT``, only once
        due): the task goes back to its place; the officer is not offered it again before
        ``exclude_until``. A timeout counts as a miss; at ``no_answer_limit`` misses in a row
        she is put on break and a supervisor alert is raised. Then ``next_task`` is offered
        to her (until ``expires``)."""

    async def end(
        self, task_id: str, now: float, *, status: TaskStatus, callback: Task | None
    ) -> Outcome:
        """End a task not yet answered: abandoned, missed (only once its time-to-live is
        up) or transferred to a callback. A callback task, when given, is added with it."""

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
        """The officer finished the task; no new offer for her before ``wrap_until``. Then
        ``next_task`` is offered to her (until ``expires``)."""

    async def requeue(self, task_id: str, now: float, change: Requeue) -> Outcome:
        """Put a task back in line (keeping its arrival): after a drop, a transfer or a
        supervisor's move (:class:`Requeue`)."""

    async def page(self, officer_id: int, now: float, data: dict[str, object]) -> Outcome:
        """Tell an officer's console that a supervisor needs her."""

    async def read_events(self, group: str, consumer: str, count: int, block: float) -> list[Event]:
        """Events not yet acknowledged by ``group`` (redelivered when a consumer died)."""

    async def ack(self, group: str, event_ids: Sequence[str]) -> None: ...

    async def snapshot(self) -> tuple[dict[str, Task], dict[int, Officer]]:
        """The authoritative state, read fresh from the store (for checks and start-up)."""
