"""Casework: status rules, edits, assignment, sealed notes, links, PIN, who sees what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from cases.casework import (
    Conflict,
    NotAllowed,
    add_note,
    assign_officer,
    can_read,
    change_status,
    check_pin,
    link_session,
    open_note,
    readable_by,
    set_category,
    set_district,
    set_pin,
    set_priority,
)
from cases.models import Case, CaseNote, ContactSession, TimelineEvent
from cases.timeline import timeline
from queues import config as routing_config
from safecall.refusals import Refusal
from tests.cases.conftest import T0

LATER = T0 + timedelta(hours=1)
LINES = routing_config.load().lines
"""The packaged routing file's service lines (line -> female only)."""


async def _status(db, case, actor, status, **fields):
    async with db() as session, session.begin():
        fresh = await session.get(Case, case.id)
        await change_status(session, fresh, status=status, actor=actor, now=LATER, **fields)
        return fresh


async def _stored(db, case_id) -> Case:
    async with db() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case


async def test_fir_registration_needs_number_and_station(db, new_case, make_officer):
    officer = await make_officer()
    case = await new_case()
    for fields in ({}, {"fir_number": "123/2026"}, {"police_station": "Gulberg"}):
        with pytest.raises(Refusal) as refused:
            await _status(db, case, officer, "fir_registered", **fields)
        assert refused.value.code == "fir_details_required"
    assert (await _stored(db, case.id)).status == "new"
    await _status(
        db, case, officer, "fir_registered", fir_number=" 123/2026 ", police_station="Gulberg"
    )
    stored = await _stored(db, case.id)
    assert (stored.status, stored.fir_number, stored.police_station) == (
        "fir_registered",
        "123/2026",
        "Gulberg",
    )
    assert stored.updated_at == LATER
    async with db() as session:
        visible = await timeline(session, case_id=case.id, complainant_only=True)
    status_events = [e for e in visible if e.kind == "case.status"]
    assert [e.data for e in status_events] == [{"from": "new", "to": "fir_registered"}]
    assert status_events[0].officer_id == officer.id


async def test_fir_details_only_with_fir_status(db, new_case, make_officer):
    officer = await make_officer()
    case = await new_case()
    with pytest.raises(Refusal) as refused:
        await _status(db, case, officer, "in_progress", fir_number="1")
    assert refused.value.code == "fir_details_unexpected"


async def test_unknown_status_is_refused(db, new_case, make_officer):
    with pytest.raises(Refusal) as refused:
        await _status(db, await new_case(), await make_officer(), "solved")
    assert refused.value.code == "unknown_status"


async def test_closing_and_reopening(db, new_case, make_officer):
    officer, supervisor = await make_officer(), await make_officer("supervisor")
    case = await new_case()
    await _status(db, case, officer, "closed")
    assert (await _stored(db, case.id)).closed_at == LATER
    with pytest.raises(Conflict) as refused:
        await _status(db, case, supervisor, "under_investigation")
    assert refused.value.code == "case_closed"
    with pytest.raises(Conflict) as refused:
        await _status(db, case, officer, "in_progress")
    assert refused.value.code == "case_closed"
    assert (await _stored(db, case.id)).status == "closed"
    await _status(db, case, supervisor, "in_progress")
    stored = await _stored(db, case.id)
    assert (stored.status, stored.closed_at) == ("in_progress", None)


async def test_no_change_to_the_same_status_or_back_to_new(db, new_case, make_officer):
    officer = await make_officer()
    case = await new_case()
    await _status(db, case, officer, "in_progress")
    for status, code in (("in_progress", "status_unchanged"), ("new", "status_not_new")):
        with pytest.raises(Conflict) as refused:
            await _status(db, case, officer, status)
        assert refused.value.code == code


async def test_category_district_priority(db, new_case, make_officer):
    officer = await make_officer()
    case = await new_case()
    async with db() as session, session.begin():
        fresh = await session.get(Case, case.id)
        with pytest.raises(Refusal):
            await set_category(session, fresh, category="theft", actor=officer, now=LATER)
        await set_category(
            session,
            fresh,
            category="forced_marriage",
            actor=officer,
            now=LATER,
            extra_categories=("forced_marriage",),
        )
        await set_district(session, fresh, district=" Lahore ", actor=officer, now=LATER)
        await set_priority(session, fresh, priority=7, actor=officer, now=LATER)
        with pytest.raises(Refusal):
            await set_priority(session, fresh, priority=10, actor=officer, now=LATER)
        with pytest.raises(Refusal):
            await set_district(session, fresh, district="   ", actor=officer, now=LATER)
    stored = await _stored(db, case.id)
    assert (stored.category, stored.district, stored.priority) == ("forced_marriage", "Lahore", 7)
    async with db() as session:
        changes = [
            e.data for e in await timeline(session, case_id=case.id) if e.kind == "case.updated"
        ]
    assert [c["field"] for c in changes] == ["category", "district", "priority"]


async def test_assignment_rules(db, new_case, make_officer):
    officer = await make_officer(lines=["women"])
    other = await make_officer(lines=["women"])
    supervisor = await make_officer("supervisor", lines=["women"])
    male = await make_officer(gender="male", lines=["women", "child"])
    child_only = await make_officer(lines=["child"])
    disabled = await make_officer(disabled=True)
    case = await new_case()

    async def assign(actor, officer_id):
        async with db() as session, session.begin():
            fresh = await session.get(Case, case.id)
            await assign_officer(
                session, fresh, officer_id=officer_id, actor=actor, now=LATER, female_only=LINES
            )

    with pytest.raises(NotAllowed):
        await assign(officer, other.id)
    for target, code in (
        (male.id, "assignee_not_eligible"),
        (child_only.id, "assignee_not_eligible"),
        (disabled.id, "unknown_officer"),
        (999_999, "unknown_officer"),
    ):
        with pytest.raises(Refusal) as refused:
            await assign(supervisor, target)
        assert refused.value.code == code
    assert (await _stored(db, case.id)).assigned_officer_id is None
    await assign(officer, officer.id)
    with pytest.raises(NotAllowed):
        await assign(other, None)
    await assign(supervisor, other.id)
    assert (await _stored(db, case.id)).assigned_officer_id == other.id
    await assign(other, None)
    assert (await _stored(db, case.id)).assigned_officer_id is None


async def test_notes_are_sealed_and_hidden_from_her(db, data_key, new_case, make_officer):
    officer = await make_officer()
    case = await new_case()
    async with db() as session, session.begin():
        fresh = await session.get(Case, case.id)
        note = await add_note(
            session,
            data_key,
            fresh,
            text="  Husband threatened her at the bus stop.\nCall after 5.  ",
            actor=officer,
            now=LATER,
        )
        with pytest.raises(Refusal):
            await add_note(session, data_key, fresh, text=" \n ", actor=officer, now=LATER)
    async with db() as session:
        raw = (await session.execute(text("SELECT body_sealed FROM case_notes"))).scalars().all()
        stored = await session.get(CaseNote, note.id)
        events = await timeline(session, case_id=case.id)
    assert len(raw) == 1 and b"threatened" not in bytes(raw[0]) and b"Husband" not in bytes(raw[0])
    assert stored is not None
    assert open_note(data_key, stored) == "Husband threatened her at the bus stop.\nCall after 5."
    note_events = [e for e in events if e.kind == "case.note"]
    assert len(note_events) == 1 and not note_events[0].complainant_visible
    assert note_events[0].data == {"note_id": note.id}


async def test_linking_moves_the_session_and_tells_both_cases(db, new_contact, make_officer):
    officer = await make_officer()
    contact, old = await new_contact()
    _, target = await new_contact()
    async with db() as session, session.begin():
        fresh = await session.get(ContactSession, contact.id)
        goal = await session.get(Case, target.id)
        assert await link_session(session, fresh, goal, now=LATER, actor=officer) == old.id
    async with db() as session, session.begin():
        fresh = await session.get(ContactSession, contact.id)
        goal = await session.get(Case, target.id)
        with pytest.raises(Conflict):
            await link_session(session, fresh, goal, now=LATER, actor=officer)
    async with db() as session:
        moved = await session.get(ContactSession, contact.id)
        old_kinds = [e.kind for e in await timeline(session, case_id=old.id)]
        new_events = await timeline(session, case_id=target.id)
    assert moved is not None and moved.case_id == target.id
    assert old_kinds == ["case.opened", "case.session_moved"]
    arrivals = [e.session_id for e in new_events if e.kind == "contact.arrived"]
    assert contact.id in arrivals and len(arrivals) == 2
    linked = [e for e in new_events if e.kind == "case.session_linked"]
    assert linked[0].data == {"session_id": contact.id, "from_case_id": old.id}


async def test_pin(db, new_case):
    case = await new_case()
    async with db() as session, session.begin():
        fresh = await session.get(Case, case.id)
        for bad in ("123", "123456789", "12a4", "", "١٢٣٤"):
            with pytest.raises(Refusal) as refused:
                await set_pin(session, fresh, pin=bad, now=LATER)
            assert refused.value.code == "invalid_pin"
        assert not check_pin(fresh, "1234")
        await set_pin(session, fresh, pin="4821", now=LATER)
    stored = await _stored(db, case.id)
    assert stored.pin_hash is not None and stored.pin_hash.startswith("$argon2id$")
    assert "4821" not in stored.pin_hash
    assert check_pin(stored, "4821")
    assert not check_pin(stored, "4822") and not check_pin(stored, "48211")
    async with db() as session:
        kinds = [e.kind for e in await timeline(session, case_id=case.id, complainant_only=True)]
    assert "case.pin_set" in kinds


async def test_who_sees_which_case(db, new_case, make_officer):
    women_officer = await make_officer(lines=["women"])
    child_officer = await make_officer(lines=["child"])
    women_supervisor = await make_officer("supervisor", lines=["women"])
    child_supervisor = await make_officer("supervisor", lines=["child"])
    admin = await make_officer("admin", lines=[])
    assigned = await make_officer(lines=["women"])
    plain = await new_case(service_line="women", category="harassment")
    child = await new_case(service_line="child", category="missing_child")
    violence = await new_case(service_line="women", category="sexual_violence")
    async with db() as session, session.begin():
        fresh = await session.get(Case, violence.id)
        await assign_officer(
            session, fresh, officer_id=assigned.id, actor=admin, now=LATER, female_only=LINES
        )
    expected = {
        women_officer.id: {plain.id},
        child_officer.id: {child.id},
        women_supervisor.id: {plain.id, violence.id},
        child_supervisor.id: {child.id},
        admin.id: {plain.id, child.id, violence.id},
        assigned.id: {plain.id, violence.id},
    }
    async with db() as session:
        cases = list((await session.execute(select(Case))).scalars())
        for officer in (
            women_officer,
            child_officer,
            women_supervisor,
            child_supervisor,
            admin,
            assigned,
        ):
            in_python = {c.id for c in cases if can_read(officer, c)}
            in_sql = set(
                (await session.execute(select(Case.id).where(readable_by(officer)))).scalars()
            )
            assert in_python == in_sql == expected[officer.id], officer.role


async def test_refused_changes_leave_no_event(db, new_case, make_officer):
    officer = await make_officer()
    case = await new_case()
    async with db() as session:
        before = len(list((await session.execute(select(TimelineEvent))).scalars()))
    with pytest.raises(Refusal):
        await _status(db, case, officer, "fir_registered")
    async with db() as session:
        after = len(list((await session.execute(select(TimelineEvent))).scalars()))
    assert before == after
