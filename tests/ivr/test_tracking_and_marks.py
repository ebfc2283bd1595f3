"""Tracking a case by phone (rate-limited per number) and marks on prank numbers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from audit.models import AuditEvent
from cases.casework import set_pin
from cases.models import ContactSession
from cases.sessions import open_case
from cases.tracking_code import new_code
from ivr.models import NumberMark, PhoneCall
from queues.service import ROUTER
from tests.ivr.conftest import Phone


async def a_case(db: Any, data_key: Any, clock: Any, pin: str | None = None) -> str:
    async with db() as session, session.begin():
        case = await open_case(session, data_key, service_line="women", now=clock())
        if pin is not None:
            await set_pin(session, case, pin=pin, now=clock())
        code = case.tracking_code
    return code


async def track(phone: Phone, code: str, pin: str = "") -> Any:
    reply = await phone.press_through("2", "3")  # English, track a case
    assert (
        reply.first("Gather")
        .get("action", "")
        .startswith("https://helpline.example.org/twilio/ivr/track/code")
    )
    reply = await phone.answer(reply, code)
    if pin:
        return await phone.answer(reply, pin)
    return await phone.stay_silent(reply)  # only # (or nothing): no PIN


async def test_she_hears_her_case_status_then_may_talk(
    phone: Phone, db: Any, data_key: Any, clock: Any
) -> None:
    code = await a_case(db, data_key, clock)
    reply = await track(phone, code)
    played = reply.texts("Play")
    assert played[0].endswith("/en/status_received.wav")
    assert (
        reply.first("Gather")
        .get("action", "")
        .startswith("https://helpline.example.org/twilio/ivr/line")
    )
    assert code not in reply.text  # the code never travels in clear
    async with db() as session:
        actions = list((await session.execute(select(AuditEvent.action, AuditEvent.detail))).all())
    assert ("case.track", {"pin": False, "via": "phone"}) in [(a, d) for a, d in actions]


async def test_a_case_with_a_pin_needs_it(
    phone: Phone, new_phone: Any, db: Any, data_key: Any, clock: Any
) -> None:
    code = await a_case(db, data_key, clock, pin="4321")
    reply = await track(phone, code)
    assert reply.texts("Play")[0].endswith("/en/track_unknown.wav")
    reply = await track(new_phone(), code, pin="4321")
    assert reply.texts("Play")[0].endswith("/en/status_received.wav")


async def test_wrong_codes_from_one_number_are_limited_as_the_web_limits_an_address(
    new_phone: Any, db: Any, data_key: Any, clock: Any
) -> None:
    """One tracking limiter for the web and the phone: a number that keeps guessing is
    held back like an address (10 misses, then one a minute); other numbers are not."""
    code = await a_case(db, data_key, clock)
    for _ in range(10):
        reply = await track(new_phone(), new_code())  # well-formed codes no case has
        assert reply.texts("Play")[0].endswith("/en/track_unknown.wav")
    reply = await track(new_phone(), code)  # even the right code must wait now
    assert reply.texts("Play")[0].endswith("/en/track_later.wav")
    assert not reply.all("Hangup")  # back to the line question, never hung up
    other = await track(new_phone("+923331112223"), code)
    assert other.texts("Play")[0].endswith("/en/status_received.wav")
    clock.advance(61)
    reply = await track(new_phone(), code)
    assert reply.texts("Play")[0].endswith("/en/status_received.wav")


async def test_pins_from_many_numbers_are_counted_on_the_case(
    new_phone: Any, db: Any, data_key: Any, clock: Any
) -> None:
    """Caller ID can be spoofed: five PINs from five numbers are five tries at one case
    (issue 13, item 6). Three are free; the fourth wrong one makes the fifth wait."""
    code = await a_case(db, data_key, clock, pin="4321")
    heard = []
    for n in range(5):
        reply = await track(new_phone(f"+92333111222{n}"), code, pin=f"000{n}")
        heard.append(reply.texts("Play")[0].rsplit("/", 1)[-1])
    assert heard == ["track_unknown.wav"] * 4 + ["track_later.wav"]
    reply = await track(new_phone("+923339998887"), code, pin="4321")  # even the right one
    assert reply.texts("Play")[0].endswith("/en/track_later.wav")
    clock.advance(61)
    reply = await track(new_phone("+923339998887"), code, pin="4321")
    assert reply.texts("Play")[0].endswith("/en/status_received.wav")


# --- prank marks --------------------------------------------------------------------------


async def a_phone_contact(new_phone: Any, db: Any, handled_by: Any = None) -> tuple[Phone, str]:
    """A call on the women's line, queued; ``handled_by`` (an officer) answered it."""
    phone = new_phone()
    await phone.press_through("1", "1", "9", "1")
    async with db() as session, session.begin():
        call = await session.get(PhoneCall, phone.call_sid)
        assert call is not None
        if handled_by is not None:
            contact = await session.get(ContactSession, call.session_id)
            assert contact is not None
            contact.officer_id = handled_by.id
    return phone, str(call.session_id)


async def call_and_mark(new_phone: Any, db: Any, officer_client: Any, officer: Any) -> str:
    phone, session_id = await a_phone_contact(new_phone, db, handled_by=officer)
    response = await officer_client.post(f"/api/phone/contacts/{session_id}/irrelevant")
    assert response.status == 200, await response.text()
    await phone.status("completed")
    return session_id


async def test_a_number_marked_often_goes_lower_but_is_never_refused(
    new_phone: Any, db: Any, app: Any, login_as: Any, openapi: Any
) -> None:
    officer_client, officer = await login_as("officer")
    supervisor, _ = await login_as("supervisor")
    for _ in range(3):
        session_id = await call_and_mark(new_phone, db, officer_client, officer)
    again = await officer_client.post(f"/api/phone/contacts/{session_id}/irrelevant")
    body = await again.json()
    openapi.check("POST", "/api/phone/contacts/{session_id}/irrelevant", 200, body)
    assert body["marks"] == 3 and body["deprioritised"] is True  # marking twice counts once

    phone = new_phone()
    reply = await phone.press_through("1", "1", "9", "1")
    assert reply.texts("Play")[0].endswith("/ur/prank_notice.wav")
    async with db() as session:
        call = await session.get(PhoneCall, phone.call_sid)
    assert call is not None
    router = app[ROUTER]
    assert router.board.tasks[call.session_id].priority == 1

    emergency = new_phone()
    reply = await emergency.press_through("1", "4")
    assert not reply.texts("Play")[0].endswith("/prank_notice.wav")
    async with db() as session:
        call = await session.get(PhoneCall, emergency.call_sid)
    assert call is not None
    assert router.board.tasks[call.session_id].priority == router.config.emergency_priority

    # Only a supervisor clears the marks.
    refused = await officer_client.post(f"/api/phone/contacts/{session_id}/clear-marks")
    assert refused.status == 403
    cleared = await supervisor.post(f"/api/phone/contacts/{session_id}/clear-marks")
    assert (await cleared.json())["cleared"] == 3
    later = new_phone()
    reply = await later.press_through("1", "1", "9", "1")
    assert reply.texts("Play")[0].endswith("/ur/queued.wav")


async def test_only_her_officer_or_a_supervisor_of_the_line_marks_a_caller(
    new_phone: Any, db: Any, login_as: Any, openapi: Any
) -> None:
    """Issue 13 item 5: any officer could mark any caller as a prank, pushing her calls down."""
    handler_client, handler = await login_as("officer", lines=["women"])
    curious, _ = await login_as("officer", lines=["women"])
    other_line, _ = await login_as("supervisor", lines=["child"])
    line_supervisor, _ = await login_as("supervisor", lines=["women"])
    admin, _ = await login_as("admin", lines=[])
    _, session_id = await a_phone_contact(new_phone, db, handled_by=handler)
    url = f"/api/phone/contacts/{session_id}/irrelevant"

    for stranger in (curious, other_line):
        refused = await stranger.post(url)
        body = await refused.json()
        assert refused.status == 403, body
        assert body["error"]["code"] == "not_handling_officer"
        openapi.check("POST", "/api/phone/contacts/{session_id}/irrelevant", 403, body)
        assert (await other_line.post(url.replace("irrelevant", "clear-marks"))).status == 403
    async with db() as session:
        assert (await session.scalars(select(NumberMark))).all() == []
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "session.mark_irrelevant" not in actions

    for allowed in (handler_client, line_supervisor, admin):
        response = await allowed.post(url)
        assert response.status == 200, await response.text()
        assert (await response.json())["marks"] == 1  # one mark per contact, whoever marks


async def test_marking_needs_a_phone_contact(login_as: Any, client: Any, db: Any) -> None:
    officer_client, _ = await login_as("officer")
    started = await client.post("/api/contacts", json={"service_line": "women", "channel": "chat"})
    session_id = (await started.json())["session_id"]
    response = await officer_client.post(f"/api/phone/contacts/{session_id}/irrelevant")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "no_calling_number"
    async with db() as session:
        assert await session.get(ContactSession, session_id) is not None
