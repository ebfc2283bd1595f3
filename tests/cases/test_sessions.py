"""Contacts: tracking code at the start, linking by code, sealing, session ends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from cases import tracking_code
from cases.casework import Conflict
from cases.models import Case, Complainant, ContactSession, ContactStatement, Leg, TimelineEvent
from cases.sessions import (
    ComplainantDetails,
    add_leg,
    end_leg,
    end_session,
    issue_tracking_code,
    mark_answered,
    open_contact,
    open_details,
    open_statement,
    record_times,
)
from cases.timeline import timeline
from safecall.refusals import Refusal
from sealing.data_key import DataKey
from tests.cases.conftest import DETAILS, T0, count


async def _events(db, case_id):
    async with db() as session:
        return [e.kind for e in await timeline(session, case_id=case_id)]


async def test_a_contact_gets_a_tracking_code_when_it_starts(db, new_contact):
    contact, case = await new_contact(channel="phone", external_id="CA123")
    assert tracking_code.is_valid(case.tracking_code)
    assert len(contact.id) == 32 and int(contact.id, 16) >= 0
    assert contact.case_id == case.id and contact.arrived_at == T0
    assert contact.ended_at is None
    async with db() as session:
        legs = list((await session.execute(select(Leg))).scalars())
        stored = await session.get(Case, case.id)
    assert [(leg.channel, leg.external_id) for leg in legs] == [("phone", "CA123")]
    assert stored is not None and stored.status == "new" and stored.anonymous
    assert await _events(db, case.id) == ["case.opened", "contact.arrived"]


async def test_each_new_contact_gets_its_own_code(new_contact):
    codes = {(await new_contact())[1].tracking_code for _ in range(5)}
    assert len(codes) == 5


async def test_a_known_code_links_the_contact_to_its_case(db, new_contact):
    first, case = await new_contact()
    typed = tracking_code.display(case.tracking_code)  # "1234 5678 9012", as read out
    second, linked = await new_contact(channel="browser_video", tracking_code=typed)
    assert linked.id == case.id and second.id != first.id
    assert await _events(db, case.id) == [
        "case.opened",
        "contact.arrived",
        "case.linked",
        "contact.arrived",
    ]
    assert await count(db, Case) == 1


UNMATCHED_CODES = [("1234 5678 9012", False), ("12345", False), (None, True)]


async def test_an_unmatched_code_opens_a_new_case_and_notes_it(db, new_contact):
    for given, well_formed in UNMATCHED_CODES:
        if given is None:  # a well-formed code (right check digit) that no case has
            given = "12345678901" + tracking_code.check_digit("12345678901")
            assert tracking_code.is_valid(given)
        _, case = await new_contact(tracking_code=given)
        assert case.tracking_code != given
        async with db() as session:
            note = await session.scalar(
                select(TimelineEvent).where(
                    TimelineEvent.case_id == case.id, TimelineEvent.kind == "case.code_unmatched"
                )
            )
        assert note is not None and note.data["well_formed"] is well_formed
        assert not note.complainant_visible


async def test_a_code_collision_draws_again(db, new_case):
    taken = (await new_case()).tracking_code
    fresh = "98765432101"
    fresh += tracking_code.check_digit(fresh)
    draws = iter([taken, taken, fresh])
    async with db() as session:
        assert await issue_tracking_code(session, generate=lambda: next(draws)) == fresh


async def test_no_free_code_after_many_draws_is_an_error(db, new_case):
    taken = (await new_case()).tracking_code
    async with db() as session:
        with pytest.raises(RuntimeError):
            await issue_tracking_code(session, generate=lambda: taken)


async def test_details_are_sealed_at_rest(db, data_key, new_contact):
    _, case = await new_contact(anonymous=False, complainant=DETAILS)
    async with db() as session:
        rows = (await session.execute(text("SELECT * FROM complainants"))).all()
        row = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
    assert len(rows) == 1
    raw = b"|".join(value if isinstance(value, bytes) else str(value).encode() for value in rows[0])
    for secret in ("Ayesha", "1234567", "3001234567", "Gulberg", "weekdays"):
        assert secret.encode() not in raw
    assert row is not None
    assert open_details(data_key, row) == DETAILS
    assert row.phone_hash == data_key.phone_hash("+923001234567")
    assert row.callback_safe and row.callback_times_sealed is not None


async def test_the_phone_hash_is_stable(settings, data_key):
    again = DataKey.load(settings.data_key_file)
    assert data_key.phone_hash("+92 300 1234567") == again.phone_hash("+92-300-1234567")
    assert data_key.phone_hash("+92 300 1234567") != data_key.phone_hash("+92 300 1234568")
    other, _ = DataKey.generate()
    assert other.phone_hash("+92 300 1234567") != data_key.phone_hash("+92 300 1234567")


async def test_anonymous_with_details_is_refused_and_nothing_written(db, data_key):
    async with db() as session, session.begin():
        with pytest.raises(Refusal) as refused:
            await open_contact(
                session,
                data_key,
                service_line="women",
                channel="chat",
                now=T0,
                anonymous=True,
                complainant=ComplainantDetails(name="X"),
            )
    assert refused.value.code == "anonymous_with_details"
    assert "anonymous" in str(refused.value)
    assert await count(db, Case) == 0 and await count(db, ContactSession) == 0


BAD_CONTACT_VALUES = [
    ({"service_line": "men"}, "unknown_service_line"),
    ({"channel": "fax"}, "unknown_channel"),
    ({"language": "fr"}, "unknown_language"),
    ({"category": "theft"}, "unknown_category"),
    ({"priority": 10}, "invalid_priority"),
    ({"district": "x" * 65}, "invalid_district"),
    (
        {"anonymous": False, "complainant": ComplainantDetails(phone="12")},
        "invalid_phone",
    ),
    (
        {"anonymous": False, "complainant": ComplainantDetails(callback_safe=True)},
        "callback_needs_phone",
    ),
    (
        {"anonymous": False, "complainant": ComplainantDetails(name="a\x00b")},
        "invalid_name",
    ),
]


async def test_bad_contact_values_are_refused_before_writing(db, data_key):
    for fields, code in BAD_CONTACT_VALUES:
        values = {"service_line": "women", "channel": "chat", "now": T0, **fields}
        async with db() as session, session.begin():
            with pytest.raises(Refusal) as refused:
                await open_contact(session, data_key, **values)
        assert refused.value.code == code, fields
    assert await count(db, Case) == 0 and await count(db, TimelineEvent) == 0


async def test_configured_categories_are_accepted(new_contact):
    _, case = await new_contact(category="forced_marriage", extra_categories=("forced_marriage",))
    assert case.category == "forced_marriage"


async def test_details_given_on_a_later_contact_are_a_statement_not_a_change(
    db, data_key, new_contact
):
    """Whoever holds her code (the abuser may) cannot rewrite her case: what a returning
    contact says is kept, sealed, on that contact only."""
    _, case = await new_contact(anonymous=False, complainant=ComplainantDetails(name="Ayesha"))
    later, _ = await new_contact(
        tracking_code=case.tracking_code,
        anonymous=False,
        complainant=ComplainantDetails(phone="0300 7654321", callback_safe=True),
    )
    async with db() as session:
        stored = await session.get(Case, case.id)
        row = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
        said = await session.scalar(
            select(ContactStatement).where(ContactStatement.session_id == later.id)
        )
        raw = (await session.execute(text("SELECT * FROM contact_statements"))).all()
    assert stored is not None and stored.updated_at == case.updated_at
    assert row is not None
    assert open_details(data_key, row) == ComplainantDetails(name="Ayesha")  # unchanged
    assert said is not None and said.case_id == case.id and said.confirmed_at is None
    assert open_statement(data_key, said).phone == "0300 7654321" and said.callback_safe
    assert b"7654321" not in b"|".join(v for v in raw[0] if isinstance(v, bytes))


async def test_an_anonymous_case_never_becomes_named_from_a_public_request(db, new_contact):
    _, case = await new_contact()
    await new_contact(
        tracking_code=case.tracking_code,
        anonymous=False,
        complainant=ComplainantDetails(name="Someone Else", phone="0300 7654321"),
    )
    async with db() as session:
        stored = await session.get(Case, case.id)
        row = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
    assert stored is not None and stored.anonymous and row is None


async def test_answered_session_wait_and_talk_seconds(db, new_contact, make_officer):
    officer = await make_officer()
    contact, case = await new_contact()
    async with db() as session, session.begin():
        await record_times(session, contact, queued_at=T0 + timedelta(seconds=2))
        await mark_answered(
            session,
            contact,
            officer_id=officer.id,
            answered_at=T0 + timedelta(seconds=30),
            offered_at=T0 + timedelta(seconds=25),
        )
        await end_session(session, contact, disposition="answered", now=T0 + timedelta(seconds=330))
    async with db() as session:
        stored = await session.get(ContactSession, contact.id)
        legs = list((await session.execute(select(Leg))).scalars())
    assert stored is not None
    assert (stored.wait_seconds, stored.talk_seconds) == (30.0, 300.0)
    assert stored.disposition == "answered" and stored.officer_id == officer.id
    assert stored.queued_at == T0 + timedelta(seconds=2)
    assert stored.offered_at == T0 + timedelta(seconds=25)
    assert stored.ended_at == T0 + timedelta(seconds=330)
    assert [(leg.officer_id, leg.ended_at) for leg in legs] == [
        (officer.id, T0 + timedelta(seconds=330))
    ]
    assert (contact.wait_seconds, contact.talk_seconds) == (30.0, 300.0)
    kinds = await _events(db, case.id)
    assert kinds[-2:] == ["contact.answered", "contact.ended"]


async def test_abandoned_session_waited_until_the_end(db, new_contact):
    contact, _ = await new_contact()
    async with db() as session, session.begin():
        await end_session(session, contact, disposition="abandoned", now=T0 + timedelta(seconds=45))
    async with db() as session:
        stored = await session.get(ContactSession, contact.id)
    assert stored is not None
    assert (stored.wait_seconds, stored.talk_seconds, stored.disposition) == (
        45.0,
        0.0,
        "abandoned",
    )


async def test_failed_needs_a_reason(db, new_contact):
    contact, _ = await new_contact()
    async with db() as session, session.begin():
        with pytest.raises(Refusal) as refused:
            await end_session(session, contact, disposition="failed", now=T0)
        assert refused.value.code == "reason_required"
        await end_session(
            session, contact, disposition="failed", now=T0, reason="media bridge down"
        )
    async with db() as session:
        stored = await session.get(ContactSession, contact.id)
    assert stored is not None and stored.failure_reason == "media bridge down"


UNFIT_DISPOSITIONS = [
    (False, "hung_up", None, "unknown_disposition"),
    (False, "answered", None, "session_not_answered"),
    (False, "dropped", None, "session_not_answered"),
    (True, "abandoned", None, "session_answered"),
    (True, "missed", None, "session_answered"),
    (True, "answered", "because", "reason_unexpected"),
]


async def test_dispositions_that_do_not_fit_are_refused(db, new_contact, make_officer):
    for answered, disposition, reason, code in UNFIT_DISPOSITIONS:
        contact, _ = await new_contact()
        if answered:
            officer = await make_officer()
            async with db() as session, session.begin():
                await mark_answered(session, contact, officer_id=officer.id, answered_at=T0)
        async with db() as session, session.begin():
            with pytest.raises(Refusal) as refused:
                await end_session(session, contact, disposition=disposition, now=T0, reason=reason)
        assert refused.value.code == code, disposition
        async with db() as session:
            stored = await session.get(ContactSession, contact.id)
        assert stored is not None and stored.ended_at is None and stored.disposition is None


async def test_ending_an_ended_session_is_refused(db, new_contact):
    contact, _ = await new_contact()
    async with db() as session, session.begin():
        await end_session(session, contact, disposition="missed", now=T0 + timedelta(seconds=60))
    async with db() as session, session.begin():
        with pytest.raises(Conflict) as refused:
            await end_session(session, contact, disposition="abandoned", now=T0)
    assert refused.value.code == "session_ended"
    async with db() as session:
        stored = await session.get(ContactSession, contact.id)
    assert stored is not None and stored.disposition == "missed"


async def test_two_connections_ending_one_session_end_it_once(db, new_contact):
    contact, _ = await new_contact()

    async def end(disposition: str) -> str:
        async with db() as session, session.begin():
            try:
                await end_session(session, contact, disposition=disposition, now=T0)
            except Conflict as exc:
                return exc.code
            return "ended"

    outcomes = await asyncio.gather(end("abandoned"), end("missed"))
    assert sorted(outcomes) == ["ended", "session_ended"]
    assert await count(db, TimelineEvent) == 3  # opened, arrived, one end


async def test_answering_twice_is_refused(db, new_contact, make_officer):
    one, two = await make_officer(), await make_officer()
    contact, _ = await new_contact()
    async with db() as session, session.begin():
        await mark_answered(session, contact, officer_id=one.id, answered_at=T0)
    async with db() as session, session.begin():
        with pytest.raises(Conflict):
            await mark_answered(session, contact, officer_id=two.id, answered_at=T0)
    async with db() as session:
        stored = await session.get(ContactSession, contact.id)
    assert stored is not None and stored.officer_id == one.id


async def test_legs_come_and_go(db, new_contact, make_officer):
    officer = await make_officer()
    contact, case = await new_contact(channel="chat")
    async with db() as session, session.begin():
        video = await add_leg(
            session,
            contact,
            channel="browser_video",
            started_at=T0 + timedelta(seconds=60),
            officer_id=officer.id,
        )
    async with db() as session, session.begin():
        await end_leg(session, video, ended_at=T0 + timedelta(seconds=120))
    async with db() as session, session.begin():
        with pytest.raises(Conflict):
            await end_leg(session, video, ended_at=T0 + timedelta(seconds=130))
        with pytest.raises(Refusal):
            await add_leg(session, contact, channel="pigeon", started_at=T0)
    async with db() as session, session.begin():
        await end_session(
            session, contact, disposition="abandoned", now=T0 + timedelta(seconds=200)
        )
    async with db() as session, session.begin():
        with pytest.raises(Conflict):
            await add_leg(session, contact, channel="phone", started_at=T0)
    async with db() as session:
        legs = list((await session.execute(select(Leg).order_by(Leg.id))).scalars())
    assert [(leg.channel, leg.ended_at) for leg in legs] == [
        ("chat", T0 + timedelta(seconds=200)),
        ("browser_video", T0 + timedelta(seconds=120)),
    ]
    kinds = await _events(db, case.id)
    assert "leg.started" in kinds and "leg.ended" in kinds
