"""What was kept, read from the database after a fault and its drain, against the ledger."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bench.faults.ledger import Ledger


@dataclass
class Kept:
    open_contacts: int
    """Contacts of the run (browser and phone) with no end state."""
    open_by_channel: dict[str, int]
    open_ids: list[tuple[str, str, str | None]]
    """(session, channel, CallSid) of each contact without an end state."""
    contacts: int
    dispositions: dict[str, int]
    callsids_doubled: int
    acked_chats: int
    chats_missing: int


async def read(
    database_url: str, since: datetime, ledger: Ledger, settle: float
) -> tuple[Kept, float]:
    """What the database holds of this run, once the sweeps had ``settle`` seconds to repair
    it (read again until nothing is missing, or the time is up); and how long that took."""
    from safecall.db import create_engine

    engine = create_engine(database_url)
    began = time.monotonic()
    try:
        while True:
            kept = await _read(engine, since, ledger)
            if (kept.open_contacts == 0 and kept.chats_missing == 0) or (
                time.monotonic() - began > settle
            ):
                return kept, time.monotonic() - began
            await asyncio.sleep(1.0)
    finally:
        await engine.dispose()


async def _read(engine: object, since: datetime, ledger: Ledger) -> Kept:
    from cases.models import ContactSession, Leg, TimelineEvent

    async with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = (
            await conn.execute(
                select(
                    ContactSession.id,
                    ContactSession.channel,
                    ContactSession.disposition,
                    ContactSession.ended_at,
                ).where(ContactSession.arrived_at >= since)
            )
        ).all()
        doubled = await conn.scalar(
            select(func.count()).select_from(
                select(Leg.external_id)
                .where(Leg.external_id.in_(list(ledger.calls)))
                .group_by(Leg.external_id)
                .having(func.count(func.distinct(Leg.session_id)) > 1)
                .subquery()
            )
        )
        sids = dict(
            (
                await conn.execute(
                    select(Leg.session_id, Leg.external_id).where(
                        Leg.session_id.in_([r[0] for r in rows if r[3] is None or r[2] is None])
                    )
                )
            ).all()
        )
        promised = {
            f"chat:{c.session_id}:{side}:{seq}"
            for c in ledger.contacts.values()
            for side, seq in c.acked_chats()
        }
        found: set[str] = set()
        keys = sorted(promised)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found |= set(
                (await conn.execute(select(TimelineEvent.key).where(TimelineEvent.key.in_(chunk))))
                .scalars()
                .all()
            )
    open_by: dict[str, int] = {}
    open_ids: list[tuple[str, str, str | None]] = []
    dispositions: dict[str, int] = {}
    for session_id, channel, disposition, ended_at in rows:
        if ended_at is None or disposition is None:
            open_by[channel] = open_by.get(channel, 0) + 1
            open_ids.append((session_id, channel, sids.get(session_id)))
        else:
            dispositions[disposition] = dispositions.get(disposition, 0) + 1
    return Kept(
        open_contacts=sum(open_by.values()),
        open_by_channel=open_by,
        open_ids=open_ids,
        contacts=len(rows),
        dispositions=dict(sorted(dispositions.items())),
        callsids_doubled=int(doubled or 0),
        acked_chats=len(promised),
        chats_missing=len(promised - found),
    )
