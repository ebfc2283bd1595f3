"""Timeline events of sessions and cases: written once, read in order.

Every step of a contact (arrival, routing, answer, media, end) and every
change to a case (status, notes, links) is an event. Writers give each event
a ``key``; writing the same key again, even concurrently from another
connection, leaves exactly one event, so an event delivered twice appears
once.

Events the complainant may see carry ``complainant_visible=True``. Their
``data`` may still hold detail meant for officers: she is shown only fixed
words chosen from the event's kind (and, for ``case.status``, the coarse form
of ``data["to"]``), see :mod:`cases.public_view`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import ContactSession, TimelineEvent

_TABLE = cast(Table, TimelineEvent.__table__)
_INSERTS = {
    name: insert(_TABLE).on_conflict_do_nothing(index_elements=["key"]).returning(_TABLE.c.id)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
"""An event unless its key is taken, per dialect; built once (events are written often)."""


def _insert(session: AsyncSession) -> Any:
    return _INSERTS["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]


async def record_event(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    at: datetime,
    session_id: str | None = None,
    case_id: int | None = None,
    data: dict[str, Any] | None = None,
    officer_id: int | None = None,
    complainant_visible: bool = False,
) -> bool:
    """Write the event unless one with ``key`` exists; True when newly written.

    Runs in the caller's transaction (nothing is committed here). Pending ORM
    changes are flushed first so the event may refer to rows added just now.
    """
    if not key or len(key) > 128:
        raise ValueError("an event key is 1 to 128 characters")
    await session.flush()
    values = {
        "key": key,
        "kind": kind,
        "at": at,
        "session_id": session_id,
        "case_id": case_id,
        "data": dict(data or {}),
        "officer_id": officer_id,
        "complainant_visible": complainant_visible,
    }
    written = (await session.execute(_insert(session), values)).first()
    return written is not None


class EventRow(TypedDict):
    """One event for :func:`record_events` (the columns :func:`record_event` takes)."""

    key: str
    kind: str
    at: datetime
    session_id: str | None
    case_id: int | None
    data: dict[str, Any]
    officer_id: int | None
    complainant_visible: bool


async def record_events(session: AsyncSession, rows: Sequence[EventRow]) -> int:
    """Write, in one statement, each event whose key no event has; how many were new.

    The batch form of :func:`record_event` (same keys, same guarantee), for writers
    of many events at once; it runs in the caller's transaction and flushes nothing.
    """
    if not rows:
        return 0
    for row in rows:
        if not row["key"] or len(row["key"]) > 128:
            raise ValueError("an event key is 1 to 128 characters")
    # Parameters as a list: one statement (SQLAlchemy sends it as multi-row VALUES
    # batches), its RETURNING rows only those newly written.
    result = await session.execute(_insert(session), [dict(row) for row in rows])
    return len(result.all())


async def timeline(
    session: AsyncSession, *, case_id: int, complainant_only: bool = False
) -> list[TimelineEvent]:
    """The case's events and those of its sessions, oldest first (by time, then id).

    With ``complainant_only`` only the events she may see.
    """
    sessions_of_case = select(ContactSession.id).where(ContactSession.case_id == case_id)
    query = select(TimelineEvent).where(
        or_(
            TimelineEvent.case_id == case_id,
            (TimelineEvent.case_id.is_(None)) & TimelineEvent.session_id.in_(sessions_of_case),
        )
    )
    if complainant_only:
        query = query.where(TimelineEvent.complainant_visible.is_(True))
    query = query.order_by(TimelineEvent.at, TimelineEvent.id)
    return list((await session.execute(query)).scalars())
