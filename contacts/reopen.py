"""The desk's part when Redis lost the routing state: its open contacts, put back.

The database knows every contact that is still open: those waiting in line
(queued, not answered) go back in line with their first arrival, those in
conversation go back to the officer who answered them (her capacity taken
again, so she is not offered a second call on top of hers). Each task is put
back once across processes (:meth:`queues.recovery.Recovery.put_back`). A
contact never queued (a callback ring, a video leg) is not the line's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from cases.models import Case, ContactSession
from contacts.desk import Desk
from queues.recovery import Held, Recovery
from queues.router import Contact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenContact:
    """An open contact the line should hold, as the database has it."""

    id: str
    service_line: str
    channel: str
    language: str
    silent: bool
    arrived_at: datetime
    officer_id: int | None
    """The officer in conversation with her; None while she waits."""
    category: str | None
    district: str | None

    def contact(self) -> Contact:
        """What the router takes (her priority follows from her category)."""
        return Contact(
            id=self.id,
            line=self.service_line,
            channel=self.channel,
            category=self.category,
            language=self.language,
            district=self.district,
            silent=self.silent,
            arrived=self.arrived_at,
        )


async def open_in_line(desk: Desk) -> list[OpenContact]:
    """Every open contact that came through the line: waiting, or answered and going on."""
    async with desk.db() as session:
        rows = (
            await session.execute(
                select(
                    ContactSession.id,
                    ContactSession.service_line,
                    ContactSession.channel,
                    ContactSession.language,
                    ContactSession.silent,
                    ContactSession.arrived_at,
                    ContactSession.answered_at,
                    ContactSession.officer_id,
                    Case.category,
                    Case.district,
                )
                .join(Case, Case.id == ContactSession.case_id)
                .where(ContactSession.ended_at.is_(None), ContactSession.queued_at.is_not(None))
                .order_by(ContactSession.arrived_at)
            )
        ).all()
    return [
        OpenContact(
            id=row.id,
            service_line=row.service_line,
            channel=row.channel,
            language=row.language,
            silent=row.silent,
            arrived_at=row.arrived_at,
            officer_id=row.officer_id if row.answered_at is not None else None,
            category=row.category,
            district=row.district,
        )
        for row in rows
    ]


async def put_back(desk: Desk, recovery: Recovery) -> int:
    """Put the desk's open contacts back in the rebuilt line; how many this process did."""
    held = []
    for found in await open_in_line(desk):
        try:
            desk.router.restored_task(found.contact())  # the line and channel still exist
        except ValueError:
            log.warning("contacts: an open contact cannot go back in line (its line is gone)")
            continue
        held.append(Held(found.contact(), found.officer_id))
    done = await recovery.put_back(held)
    if done:
        log.warning("contacts: %d open contact(s) put back after Redis lost the line", done)
    return done
