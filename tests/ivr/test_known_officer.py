"""The known officer is really known (issue 12, behaviour 3) on the phone: the officer who
answered her earlier call is offered her next call from the same number first (her number
is only ever a keyed hash), also when she stayed anonymous."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cases.models import Case, ContactSession
from ivr.models import PhoneCall
from queues.service import ROUTER
from tests.ivr.conftest import Phone


async def queued(phone: Phone, db: Any) -> str:
    await phone.press_through("2", "1", "9", "1")  # English, women's line, no category, anon
    async with db() as session:
        call = await session.get(PhoneCall, phone.call_sid)
    assert call is not None
    return str(call.session_id)


async def test_her_next_call_goes_to_the_officer_who_answered_her_first(
    new_phone: Any, db: Any, app: Any, login_as: Any
) -> None:
    first = new_phone("+923001112223")
    session_id = await queued(first, db)
    officer, who = await login_as("officer", lines=["women"])
    await officer.post("/api/queues/me/state", json={"state": "available"})
    assert (await officer.post(f"/api/queues/offers/{session_id}/accept")).status == 200
    assert (await officer.post(f"/api/contacts/{session_id}/answer")).status == 200
    async with db() as session:
        contact = await session.get(ContactSession, session_id)
        assert contact is not None
        case = await session.scalar(select(Case).where(Case.id == contact.case_id))
    assert case is not None and case.assigned_officer_id == who.id  # she is known now
    await first.status("completed")

    again = new_phone("+923001112223")
    later = await queued(again, db)
    assert app[ROUTER].board.tasks[later].known_officer == who.id
    other = await queued(new_phone("+923009998887"), db)
    assert app[ROUTER].board.tasks[other].known_officer is None
