"""Tasks and officers as the routing engine sees them: plain values, no database.

A :class:`Task` is one contact waiting for, offered to, or held by an officer;
its id is the contact session's id. An :class:`Officer` is an officer's
profile (from ``officers.models.Officer``) plus her routing state. Both carry
a ``version`` that goes up by one on every change, so a copy can tell whether
another copy is newer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class TaskStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    # Terminal: a task ends exactly once, in one of these.
    COMPLETED = "completed"
    ABANDONED = "abandoned"  # she left before an officer answered
    MISSED = "missed"  # nobody answered before the time-to-live
    TRANSFERRED = "transferred"  # moved to a callback


ENDED = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.ABANDONED, TaskStatus.MISSED, TaskStatus.TRANSFERRED}
)


class Presence(StrEnum):
    """What the officer chose (or was put on): whether she takes offers at all."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    BREAK = "break"


class OfficerState(StrEnum):
    """What a wallboard shows: presence, then what she is doing."""

    OFFLINE = "offline"
    BREAK = "break"
    OFFERED = "offered"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    AVAILABLE = "available"


CHANNEL_KINDS = {
    "chat": "chat",
    "browser_audio": "voice",
    "browser_video": "voice",
    "phone": "voice",
    "sms": "chat",
    "whatsapp": "chat",
}
"""Channel -> kind of capacity it uses."""


@dataclass(frozen=True)
class OfficerProfile:
    """What routing needs to know about an officer; built from ``officers.models.Officer``."""

    id: int
    gender: str
    """``female`` or ``male``."""
    lines: frozenset[str]
    """Service lines she answers."""
    languages: frozenset[str] = frozenset()
    skills: dict[str, int] = field(default_factory=dict)
    """Case category -> proficiency 1..5."""
    district: str | None = None

    def __post_init__(self) -> None:
        if self.gender not in ("female", "male"):
            raise ValueError(
                f"officer {self.id}: gender must be female or male, got {self.gender!r}"
            )
        for category, level in self.skills.items():
            if not isinstance(level, int) or not 1 <= level <= 5:
                raise ValueError(
                    f"officer {self.id}: skill {category!r} must be 1..5, got {level!r}"
                )


@dataclass(slots=True)
class Officer:
    """An officer's profile and routing state."""

    profile: OfficerProfile
    capacity: int
    """Her whole capacity in units (see ``RoutingConfig.capacity_units``)."""
    presence: Presence = Presence.OFFLINE
    offer: str | None = None
    """The task offered to her and not yet answered (one offer at a time)."""
    load: int = 0
    """Units of capacity taken by the tasks she holds."""
    wrap_until: float = 0.0
    """No new offer before this time (wrap-up after a contact)."""
    idle_since: float = 0.0
    """When she last became free of every task: longest idle is offered first."""
    missed: int = 0
    """Offers missed in a row."""
    version: int = 0

    @property
    def id(self) -> int:
        return self.profile.id

    def state(self, now: float) -> OfficerState:
        if self.presence == Presence.OFFLINE:
            return OfficerState.OFFLINE
        if self.presence == Presence.BREAK:
            return OfficerState.BREAK
        if self.offer is not None:
            return OfficerState.OFFERED
        if self.load > 0:
            return OfficerState.BUSY
        if self.wrap_until > now:
            return OfficerState.WRAP_UP
        return OfficerState.AVAILABLE


@dataclass(slots=True)
class Task:
    """One contact to route. ``id`` is the contact session's id (a callback's is derived)."""

    id: str
    session_id: str
    """The contact session the task belongs to (a callback's is the original session)."""
    line: str
    channel: str
    kind: str
    """``voice`` or ``chat`` (from the channel)."""
    cost: int
    """Units of an officer's capacity the task takes."""
    priority: int
    arrived: float
    """Its place in line: kept through declines, timeouts, transfers and returns."""
    ttl_at: float
    """Missed when not answered by then."""
    female_only: bool
    """Hard rule carried with the task: answered by a female officer only."""
    category: str | None = None
    language: str | None = None
    district: str | None = None
    silent: bool = False
    """She cannot speak: the officer must start with text."""
    callback_safe: bool = False
    """She said it is safe to call her back."""
    is_callback: bool = False
    known_officer: int | None = None
    """The officer who handled her before; offered it alone until ``known_until``."""
    known_until: float = 0.0
    seq: int = 0
    """Breaks ties between equal arrival times; set by the store."""
    status: TaskStatus = TaskStatus.WAITING
    officer: int | None = None
    """The officer it is offered to or held by."""
    offer_expires: float = 0.0
    answered_at: float = 0.0
    """When an officer accepted it (0 until then)."""
    excluded: dict[int, float] = field(default_factory=dict)
    """Officer -> time before which she is not offered it again (after a decline or miss)."""
    version: int = 0

    @property
    def order(self) -> tuple[int, float, int]:
        """Higher priority first, then earlier arrival, before aging (the line itself is in
        the order of :func:`queues.policy.standing`, where waiting raises the priority)."""
        return (-self.priority, self.arrived, self.seq)
