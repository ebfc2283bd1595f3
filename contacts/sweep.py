"""The reconciliation sweep: every open contact checked against the call and the line.

Nothing acknowledged is lost, even when a process dies between two steps or
a dependency was down when the step ran. Every few seconds (on every
process; each repair happens once) the open contacts older than a moment
are checked:

* its signaling session **ended** but the contact did not (the process that
  ended it died before it wrote the end, or the database was down): it ends
  now, as the session did;
* its signaling session is **gone** (never opened: a process died between
  the case log and the call; or a restarted in-process hub): it ends
  ``failed``, saying why; a phone call first asks its channel whether the
  call is still live (the hold loop puts a live one back);
* it waits with its session open but the **line lost it** (a router on an
  in-process store restarted, or Redis lost its data): it is put back in
  line with its first arrival.

While the queues are rebuilt after Redis lost its data, and a moment after
(``paused``), the sweep waits: the line and the hub are being given back what
they lost (:mod:`contacts.reopen`, :meth:`signaling.hub.Hub.restore`), and a
contact missing from them then is not lost.

Each repair is counted (``safecall_contacts_repaired_total{repair}``): in a
normal run every count stays at zero.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import select

from cases.models import Case, ContactSession
from contacts.desk import Desk
from queues.router import Contact

log = logging.getLogger(__name__)

REPAIRED = Counter(
    "safecall_contacts_repaired",
    "Open contacts the reconciliation sweep repaired, by what it found.",
    ["repair"],  # ended | lost | requeued | call_over
)

ChannelCheck = Callable[[str], Awaitable[bool]]
"""For a channel whose contacts outlive their signaling session (the phone: the hold loop
reopens it): given the session id, True when the contact was dealt with (the call is over
and was ended), False when it is live and left alone."""

OLDER_THAN = 20.0
"""Seconds a contact is left alone after it arrived (its opening may still be running)."""
BATCH = 500


@dataclass(frozen=True)
class _Open:
    """An open contact, as the sweep reads it."""

    id: str
    channel: str
    service_line: str
    language: str
    silent: bool
    arrived_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None
    category: str | None
    district: str | None


class Sweep:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.checks: dict[str, ChannelCheck] = {}
        """Channel -> how to tell whether a contact without a session is still live."""
        self.repaired = 0
        self.paused: Callable[[], bool] = lambda: False
        """True while what the sweep would repair may still come back (a rebuild)."""

    async def step(self) -> int:
        """One pass over the open contacts; how many it repaired."""
        if self.paused():
            return 0
        desk = self.desk
        before = desk.clock() - timedelta(seconds=OLDER_THAN)
        async with desk.db() as session:
            rows = (
                await session.execute(
                    select(
                        ContactSession.id,
                        ContactSession.channel,
                        ContactSession.service_line,
                        ContactSession.language,
                        ContactSession.silent,
                        ContactSession.arrived_at,
                        ContactSession.queued_at,
                        ContactSession.answered_at,
                        Case.category,
                        Case.district,
                    )
                    .join(Case, Case.id == ContactSession.case_id)
                    .where(ContactSession.ended_at.is_(None), ContactSession.arrived_at < before)
                    .order_by(ContactSession.arrived_at)
                    .limit(BATCH)
                )
            ).all()
        repaired = 0
        for row in rows:
            repair = await self._check(_Open(**row._mapping))
            if repair is not None:
                REPAIRED.labels(repair).inc()
                repaired += 1
        self.repaired += repaired
        if repaired:
            log.warning("contacts: the sweep repaired %d open contact(s)", repaired)
        return repaired

    async def _check(self, row: _Open) -> str | None:
        desk = self.desk
        presence = await desk.hub.store.presence(row.id, "citizen")
        if presence is not None and presence.ending is not None:
            ended = await desk.end(row.id, presence.ending.reason)
            return "ended" if ended else None
        check = self.checks.get(row.channel)
        if presence is None:
            if check is not None:
                return "call_over" if await check(row.id) else None
            lost = await desk.lose(row.id, "the server lost this contact's call (a restart)")
            return "lost" if lost else None
        waiting = row.answered_at is None and row.queued_at is not None
        if waiting and desk.router.placement(row.id).status == "unknown":
            if check is not None and await check(row.id):
                return "call_over"
            await desk.put_back(
                Contact(
                    id=row.id,
                    line=row.service_line,
                    channel=row.channel,
                    category=row.category,
                    language=row.language,
                    district=row.district,
                    silent=row.silent,
                    arrived=row.arrived_at,
                )
            )
            return "requeued"
        return None
