"""How long recordings are kept, legal holds, and purging what has expired.

A recording expires ``days`` after it closed, ``days`` taken from its case's
category (:attr:`RetentionPolicy.category_days`, else ``default_days``). A
case with an FIR keeps its recordings until the case is closed, and then for
``fir_days_after_close``. A legal hold keeps a recording whatever its age; an
open recording is never purged.

Purging removes the encrypted files and keeps the row and its hashes, marked
``purged_at``; each deletion is an audit event (``recording.purge``) and a
timeline event. The row is marked first, under a lock that sees a hold put
on meanwhile, then the files go, then the audit event is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.log import AuditLog
from cases.models import Case
from cases.timeline import record_event
from cases.vocabulary import CaseStatus
from recordings.models import Recording
from recordings.store import ChunkStore

FIR_STATUSES = frozenset(
    {
        CaseStatus.FIR_REGISTERED,
        CaseStatus.UNDER_INVESTIGATION,
        CaseStatus.FAST_TRACKED,
        CaseStatus.CHALLAN_SUBMITTED,
        CaseStatus.IN_TRIAL,
        CaseStatus.DECIDED,
    }
)


@dataclass(frozen=True)
class RetentionPolicy:
    default_days: int = 365
    """Kept this long after closing, unless the category says otherwise."""
    category_days: Mapping[str, int] = field(default_factory=dict)
    """Per case category, e.g. ``{"cyber_harassment": 730}``."""
    fir_days_after_close: int = 3 * 365
    """Cases with an FIR: kept until the case closes, then this long."""

    def __post_init__(self) -> None:
        days = [self.default_days, self.fir_days_after_close, *self.category_days.values()]
        if any(d < 1 for d in days):
            raise ValueError("retention periods must be at least one day")


def has_fir(case: Case) -> bool:
    return bool(case.fir_number) or case.status in FIR_STATUSES


def expires_at(recording: Recording, case: Case, policy: RetentionPolicy) -> datetime | None:
    """When the recording may be purged; None while it must be kept (hold, open, FIR open)."""
    if recording.legal_hold or recording.state == "open":
        return None
    if has_fir(case):
        if case.closed_at is None:
            return None
        return case.closed_at + timedelta(days=policy.fir_days_after_close)
    days = policy.category_days.get(case.category or "", policy.default_days)
    return (recording.closed_at or recording.started_at) + timedelta(days=days)


async def expired(
    db: async_sessionmaker[AsyncSession], policy: RetentionPolicy, now: datetime
) -> list[Recording]:
    async with db() as session:
        rows = (
            await session.execute(
                select(Recording, Case)
                .join(Case, Case.id == Recording.case_id)
                .where(Recording.purged_at.is_(None), Recording.state != "open")
                .order_by(Recording.started_at, Recording.id)
            )
        ).all()
    found = []
    for recording, case in rows:
        when = expires_at(recording, case, policy)
        if when is not None and when <= now:
            found.append(recording)
    return found


async def purge(
    db: async_sessionmaker[AsyncSession],
    store: ChunkStore,
    audit: AuditLog,
    policy: RetentionPolicy,
    now: datetime,
    *,
    progress: Callable[[int, int, Recording], None] = lambda done, total, r: None,
) -> list[str]:
    """Purge every expired recording; returns their ids."""
    due = await expired(db, policy, now)
    purged: list[str] = []
    for number, recording in enumerate(due, 1):
        async with db() as session, session.begin():
            row = await session.get(Recording, recording.id, with_for_update=True)
            if row is None or row.purged_at is not None or row.legal_hold:
                continue  # purged or put on hold meanwhile
            row.purged_at = now
            await record_event(
                session,
                key=f"recording:{row.id}:purged",
                kind="recording.purged",
                at=now,
                session_id=row.session_id,
                case_id=row.case_id,
                data={"recording_id": row.id, "sha256": row.sha256},
            )
        await store.delete(recording.id)
        await audit.record(
            actor_kind="system",
            officer_id=None,
            action="recording.purge",
            object_type="recording",
            object_id=recording.id,
            detail={
                "case_id": recording.case_id,
                "sha256": recording.sha256,
                "size": recording.size,
            },
        )
        purged.append(recording.id)
        progress(number, len(due), recording)
    return purged


async def set_hold(
    db: async_sessionmaker[AsyncSession],
    audit: AuditLog,
    case_id: int,
    *,
    hold: bool,
    reason: str | None,
    now: datetime,
) -> list[str]:
    """Put (or release) a legal hold on every recording of a case; audited per recording."""
    async with db() as session, session.begin():
        rows = list(
            (
                await session.scalars(
                    select(Recording).where(Recording.case_id == case_id).with_for_update()
                )
            ).all()
        )
        for row in rows:
            row.legal_hold = hold
            row.hold_reason = reason if hold else None
    for row in rows:
        await audit.record(
            actor_kind="system",
            officer_id=None,
            action="recording.hold" if hold else "recording.release",
            object_type="recording",
            object_id=row.id,
            detail={"case_id": case_id},
        )
    return [r.id for r in rows]
