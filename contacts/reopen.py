"""The desk's part when Redis lost the routing state: its open contacts, put back.

The database knows every contact that is still open: those waiting in line
(queued, not answered) go back in line with their first arrival, those in
conversation go back to the officer who answered them (her capacity taken
again, so she is not offered a second call on top of hers). Each task is put
back once across processes (:meth:`queues.recovery.Recovery.put_back`). A
contact never queued (a callback ring, a video leg) is not the line's.

What only a channel knows about its contacts (a phone call's emergency, whether a
callback is safe) it adds through :attr:`Reopen.details` (the phone line does), so an
emergency goes back in line as an emergency.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
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
    emergency: bool = False
    callback_safe: bool = False

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
            emergency=self.emergency,
            callback_safe=self.callback_safe,
            arrived=self.arrived_at,
        )


@dataclass(frozen=True)
class Details:
    """What a channel knows of one of its contacts that the line needs."""

    emergency: bool = False
    callback_safe: bool = False


ChannelDetails = Callable[[Sequence[str]], Awaitable[dict[str, Details]]]
"""Given session ids of a channel's open contacts, what it knows of each."""


class Reopen:
    """The desk's open contacts, as the line needs them after Redis lost it."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.details: dict[str, ChannelDetails] = {}
        """Channel -> what it adds to its contacts (the phone line: emergency, callback)."""

    async def open_in_line(self) -> list[OpenContact]:
        found = await open_in_line(self.desk)
        for channel, details in self.details.items():
            ids = [c.id for c in found if c.channel == channel]
            if not ids:
                continue
            known = await details(ids)
            found = [
                dataclasses.replace(
                    c, emergency=known[c.id].emergency, callback_safe=known[c.id].callback_safe
                )
                if c.id in known
                else c
                for c in found
            ]
        return found


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


async def put_back(reopen: Reopen, recovery: Recovery) -> int:
    """Put the desk's open contacts back in the rebuilt line; how many this process did."""
    desk = reopen.desk
    held = []
    for found in await reopen.open_in_line():
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
