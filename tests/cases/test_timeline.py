"""Timeline events: idempotent writes (also concurrent), order, complainant view."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from cases.models import TimelineEvent
from cases.timeline import EventRow, record_event, record_events, timeline
from tests.cases.conftest import T0, count


async def test_an_event_written_twice_appears_once(db, new_case):
    case = await new_case()
    before = await count(db, TimelineEvent)
    async with db() as session, session.begin():
        first = await record_event(
            session, key="route:e1", kind="routing.offered", at=T0, case_id=case.id
        )
        again = await record_event(
            session, key="route:e1", kind="routing.offered", at=T0, case_id=case.id
        )
    async with db() as session, session.begin():
        later = await record_event(
            session, key="route:e1", kind="routing.offered", at=T0, case_id=case.id
        )
    assert (first, again, later) == (True, False, False)
    assert await count(db, TimelineEvent) == before + 1


async def test_a_batch_writes_each_new_key_once_and_counts_only_those(db, new_case):
    case = await new_case()

    def row(key: str) -> EventRow:
        return EventRow(
            key=key,
            kind="queue.enqueued",
            at=T0,
            session_id=None,
            case_id=case.id,
            data={"n": key},
            officer_id=None,
            complainant_visible=False,
        )

    async with db() as session, session.begin():
        assert await record_event(session, key="batch:old", kind="queue.enqueued", at=T0)
    before = await count(db, TimelineEvent)
    async with db() as session, session.begin():
        written = await record_events(
            session, [row("batch:a"), row("batch:old"), row("batch:b"), row("batch:a")]
        )
    async with db() as session, session.begin():
        again = await record_events(session, [row("batch:a"), row("batch:b")])
        assert await record_events(session, []) == 0
    assert (written, again) == (2, 0)
    assert await count(db, TimelineEvent) == before + 2
    async with db() as session:
        keys = (
            await session.execute(
                select(TimelineEvent.key, TimelineEvent.data).where(
                    TimelineEvent.key.like("batch:%")
                )
            )
        ).all()
    assert sorted(k for k, _ in keys) == ["batch:a", "batch:b", "batch:old"]
    assert {k: d for k, d in keys if k != "batch:old"} == {
        "batch:a": {"n": "batch:a"},
        "batch:b": {"n": "batch:b"},
    }


async def test_concurrent_writes_of_one_key_from_two_connections_leave_one_event(db, new_case):
    case = await new_case()
    async with db() as first, db() as second:
        await first.begin()
        written_first = await record_event(
            first, key="route:race", kind="routing.accepted", at=T0, case_id=case.id
        )

        async def second_writer() -> bool:
            async with second.begin():
                return await record_event(
                    second, key="route:race", kind="routing.accepted", at=T0, case_id=case.id
                )

        # The second writer starts while the first transaction is still open:
        # it must wait for it, then find the key taken.
        racing = asyncio.create_task(second_writer())
        await asyncio.sleep(0.05)
        await first.commit()
        written_second = await racing
    assert (written_first, written_second) == (True, False)
    async with db() as session:
        rows = (
            await session.execute(select(TimelineEvent).where(TimelineEvent.key == "route:race"))
        ).scalars()
        assert len(list(rows)) == 1


async def test_many_concurrent_writers_one_event(db, new_case):
    case = await new_case()

    async def write() -> bool:
        async with db() as session, session.begin():
            return await record_event(
                session, key="media:m1", kind="media.connected", at=T0, case_id=case.id
            )

    results = await asyncio.gather(*(write() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]


async def test_timeline_is_ordered_by_time_then_id_and_includes_session_events(db, new_contact):
    contact, case = await new_contact()
    async with db() as session, session.begin():
        # Written out of order; one event only names the session (as the router may).
        await record_event(
            session, key="k-late", kind="media.ended", at=T0 + timedelta(minutes=5), case_id=case.id
        )
        await record_event(
            session,
            key="k-session-only",
            kind="routing.queued",
            at=T0 + timedelta(seconds=1),
            session_id=contact.id,
        )
        await record_event(
            session,
            key="k-visible",
            kind="case.status",
            at=T0 + timedelta(minutes=1),
            case_id=case.id,
            data={"from": "new", "to": "in_progress"},
            complainant_visible=True,
        )
    async with db() as session:
        events = await timeline(session, case_id=case.id)
        visible = await timeline(session, case_id=case.id, complainant_only=True)
    kinds = [e.kind for e in events]
    assert kinds.index("routing.queued") < kinds.index("case.status") < kinds.index("media.ended")
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert all(e.complainant_visible for e in visible)
    assert {"case.status", "case.opened"} <= {e.kind for e in visible}
    assert "routing.queued" not in {e.kind for e in visible}


async def test_same_time_events_come_in_the_order_written(db, new_case):
    case = await new_case()
    async with db() as session, session.begin():
        for n in range(3):
            await record_event(session, key=f"same-{n}", kind=f"k{n}", at=T0, case_id=case.id)
    async with db() as session:
        events = [e for e in await timeline(session, case_id=case.id) if e.key.startswith("same-")]
    assert [e.kind for e in events] == ["k0", "k1", "k2"]


async def test_another_case_timeline_is_not_mixed_in(db, new_case):
    one, other = await new_case(), await new_case()
    async with db() as session, session.begin():
        await record_event(session, key="only-other", kind="x", at=T0, case_id=other.id)
    async with db() as session:
        assert "x" not in {e.kind for e in await timeline(session, case_id=one.id)}
