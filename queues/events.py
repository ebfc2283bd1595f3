"""Events: one for every transition of a task or an officer, each with a unique id.

An event's ``id`` is stable (the entity and its version after the change),
so a consumer that receives it twice can write it once. Events are kept in
an outbox (in-process store) or a Redis stream (Redis store) until every
consumer group has acknowledged them: delivered at least once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from queues.model import Task


class Kind(StrEnum):
    ENQUEUED = "enqueued"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    OFFER_TIMED_OUT = "offer_timed_out"
    OFFER_WITHDRAWN = "offer_withdrawn"  # she went on break or offline with an offer pending
    ABANDONED = "abandoned"
    MISSED = "missed"
    TRANSFERRED = "transferred"
    MOVED = "moved"  # a supervisor moved it
    RETURNED = "returned"  # the contact dropped mid-conversation and came back
    COMPLETED = "completed"
    OFFICER_STATE = "officer_state"
    SUPERVISOR_ALERT = "supervisor_alert"
    PAGE = "page"
    RESTORED = "restored"  # put back after Redis lost its state (waiting, or in conversation)


TASK_KINDS = frozenset(
    {
        Kind.ENQUEUED,
        Kind.OFFERED,
        Kind.ACCEPTED,
        Kind.DECLINED,
        Kind.OFFER_TIMED_OUT,
        Kind.OFFER_WITHDRAWN,
        Kind.ABANDONED,
        Kind.MISSED,
        Kind.TRANSFERRED,
        Kind.MOVED,
        Kind.RETURNED,
        Kind.COMPLETED,
        Kind.RESTORED,
    }
)
"""Kinds that belong on a session's timeline."""


@dataclass(slots=True)
class Event:
    """Treat as read-only (not frozen only because frozen instances are slow to make)."""

    id: str
    """Unique and stable: ``<task id>#<version>`` or ``officer-<id>#<version>``."""
    kind: str
    at: float
    """Seconds since the epoch, from the router's clock."""
    task_id: str | None = None
    session_id: str | None = None
    officer_id: int | None = None
    line: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    """Detail for consoles and statistics; never names or phone numbers."""


def task_event_id(task_id: str, version: int) -> str:
    return f"{task_id}#{version}"


def officer_event_id(officer_id: int, version: int) -> str:
    return f"officer-{officer_id}#{version}"


def arrival_data(task: Task) -> dict[str, Any]:
    """What a console or wallboard may show about a task (never who she is)."""
    return {
        "channel": task.channel,
        "priority": task.priority,
        "category": task.category,
        "language": task.language,
        "silent": task.silent,
        "callback": task.is_callback,
    }
