"""Routing events on the timeline: each once, even when a writer dies before acknowledging."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import TimelineEvent
from cases.sessions import open_contact
from queues.router import Router
from queues.timeline_sink import GROUP, TimelineSink
from sealing.data_key import DataKey
from tests.queues.helpers import contact, online, profile
from tests.support import FakeClock


async def test_a_writer_that_dies_before_acknowledging_leaves_each_event_once(
    router: Router,
    db: async_sessionmaker[AsyncSession],
    data_key: DataKey,
    clock: FakeClock,
) -> None:
    async with db() as session, session.begin():
        session_row, _ = await open_contact(
            session, data_key, service_line="women", channel="chat", now=clock()
        )
    await online(router, profile(1))
    await router.enqueue(contact(session_row.id, channel="chat"))
    await router.enqueue(contact("ghost", channel="chat"))  # no such session in the database
    await router.cancel(session_row.id)

    dying = TimelineSink(router.store, db, "dying", block=0.01)
    events = await router.store.read_events(GROUP, "dying", 100, 0.01)
    assert await dying.write(events) == 3  # enqueued, offered, abandoned; the ghost skipped
    # ... and it dies here, without acknowledging.

    await asyncio.sleep(0.3)  # past redeliver_after
    survivor = TimelineSink(router.store, db, "survivor", block=0.01)
    assert await survivor.step() == 0  # every event delivered again, none written twice
    assert await survivor.step() == 0
    assert await router.store.read_events(GROUP, "survivor", 100, 0.01) == []

    async with db() as session:
        rows = (
            await session.execute(
                select(TimelineEvent.kind, func.count())
                .where(TimelineEvent.session_id == session_row.id)
                .where(TimelineEvent.kind.like("queue.%"))
                .group_by(TimelineEvent.kind)
            )
        ).all()
    assert dict(rows) == {"queue.enqueued": 1, "queue.offered": 1, "queue.abandoned": 1}


async def test_the_sink_runs_and_stops(
    router: Router, db: async_sessionmaker[AsyncSession], data_key: DataKey, clock: FakeClock
) -> None:
    async with db() as session, session.begin():
        session_row, _ = await open_contact(
            session, data_key, service_line="child", channel="phone", now=clock()
        )
    sink = TimelineSink(router.store, db, "runner", block=0.05)
    sink.start()
    await router.enqueue(contact(session_row.id, line="child"))
    for _ in range(100):
        async with db() as session:
            count = await session.scalar(
                select(func.count())
                .where(TimelineEvent.session_id == session_row.id)
                .where(TimelineEvent.kind.like("queue.%"))
            )
        if count:
            break
        await asyncio.sleep(0.02)
    await sink.stop()
    await sink.stop()
    assert count == 1
