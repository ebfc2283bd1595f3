"""Writes the routing events on the sessions' timelines, each exactly once.

The sink reads the ``timeline`` consumer group of the store's events (the
outbox, or the Redis stream), writes each event with
:func:`cases.timeline.record_event` under the key ``queue:<event id>`` and
only then acknowledges it. An event delivered again (the process died
between writing and acknowledging) finds its key taken and is not written
twice. Events of a session the database does not know (yet) are skipped.

A batch is one transaction of at most three statements (the sessions and the
officers it names, then one insert of all its events). Events come one at a time under
load, so once one has arrived the sink waits ``linger`` seconds for others
before writing: the timeline lags by that much, and each call no longer costs
a transaction per routing event on the path of the webhooks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from queues.events import TASK_KINDS, Event
from queues.store import Store

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

GROUP = "timeline"
KEY_PREFIX = "queue:"


def timeline_kind(event: Event) -> str:
    return f"queue.{event.kind}"


class TimelineSink:
    def __init__(
        self,
        store: Store,
        db: async_sessionmaker[AsyncSession],
        consumer: str,
        *,
        batch: int = 200,
        block: float = 0.5,
        linger: float = 0.2,
    ) -> None:
        self.store = store
        self.db = db
        self.consumer = consumer
        self.batch = batch
        self.block = block
        self.linger = linger
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="queues-timeline-sink")

    async def stop(self) -> None:
        """Finish the batch in hand and stop; safe to call twice."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), self.block * 4 + 5)
            except TimeoutError:
                task.cancel()

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping:
            try:
                await self.step()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing routing events on the timeline failed; retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def step(self) -> int:
        """Read one batch, write it, acknowledge it; the number of events newly written."""
        events = await self.store.read_events(GROUP, self.consumer, self.batch, self.block)
        if not events:
            return 0
        if len(events) < self.batch and self.linger > 0 and not self._stopping:
            await asyncio.sleep(self.linger)
            events += await self.store.read_events(
                GROUP, self.consumer, self.batch - len(events), 0
            )
        written = await self.write(events)
        await self.store.ack(GROUP, [e.id for e in events])
        return written

    async def write(self, events: Sequence[Event]) -> int:
        from cases.models import ContactSession
        from cases.timeline import EventRow, record_events
        from officers.models import Officer

        relevant = [e for e in events if e.session_id and e.kind in TASK_KINDS]
        if not relevant:
            return 0
        session_ids = {e.session_id for e in relevant}
        officer_ids = {e.officer_id for e in relevant if e.officer_id is not None}
        rows: list[EventRow] = []
        async with self.db() as session, session.begin():
            known_sessions = set(
                (
                    await session.execute(
                        select(ContactSession.id).where(ContactSession.id.in_(session_ids))
                    )
                ).scalars()
            )
            known_officers: set[int] = set()
            if officer_ids:
                known_officers = set(
                    (
                        await session.execute(select(Officer.id).where(Officer.id.in_(officer_ids)))
                    ).scalars()
                )
            for event in relevant:
                if event.session_id not in known_sessions:
                    log.debug("no session %s for routing event %s", event.session_id, event.id)
                    continue
                data = dict(event.data)
                data["task_id"] = event.task_id
                officer_id = event.officer_id if event.officer_id in known_officers else None
                rows.append(
                    EventRow(
                        key=KEY_PREFIX + event.id,
                        kind=timeline_kind(event),
                        at=datetime.fromtimestamp(event.at, UTC),
                        session_id=event.session_id,
                        case_id=None,
                        data=data,
                        officer_id=officer_id,
                        complainant_visible=False,
                    )
                )
            return await record_events(session, rows)
