"""Her PIN on the phone keypad when the officer ends the conversation (issue 13, item 14).

The bridge ends a call through the phone network (``media.telephony``); for a
call whose contact opened her case, with no PIN yet, Twilio is asked to run
the PIN offer instead of hanging up. Through the Twilio emulator, the real
``twilio`` library on both sides.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cases.models import Case
from contacts.service import DESK
from media.telephony import TELEPHONY
from tests.ivr.test_whole_calls import CALLER, phone_call


async def in_line(https_app: Any, db: Any) -> tuple[Any, str]:
    call = await https_app.cloud.incoming_call(from_=CALLER)
    await call.gather()
    await call.press("2")  # English
    await call.gather()
    await call.press("1")  # the women's line
    await call.gather()
    await call.press("9")  # skip the category
    await call.gather()
    await call.press("1")  # anonymous
    await call.wait_for(lambda heard: any(h.value.endswith("/common/hold.wav") for h in heard))
    _, contact = await phone_call(db, call.sid)
    return call, contact.case_id


async def pin_of(db: Any, case_id: int) -> str | None:
    async with db() as session:
        case = await session.scalar(select(Case).where(Case.id == case_id))
    assert case is not None
    return case.pin_hash


async def test_she_sets_a_pin_on_the_keypad_when_the_officer_ends_the_call(
    https_app: Any, db: Any
) -> None:
    call, case_id = await in_line(https_app, db)
    await https_app.app[TELEPHONY].hang_up(call.sid)  # the officer ended the conversation
    offer = await call.gather()
    assert any(h.value.endswith("/pin_offer.wav") or "PIN" in h.value for h in offer.heard)
    await call.press("4321#")
    await call.gather()
    await call.press("4321#")
    await call.wait_ended()
    assert any("saved" in h.value or h.value.endswith("/pin_set.wav") for h in call.heard)
    assert await pin_of(db, case_id) is not None


async def test_two_different_pins_set_nothing(https_app: Any, db: Any) -> None:
    call, case_id = await in_line(https_app, db)
    await https_app.app[TELEPHONY].hang_up(call.sid)
    await call.gather()
    await call.press("4321#")
    await call.gather()
    await call.press("1234#")
    await call.wait_ended()
    assert await pin_of(db, case_id) is None


async def test_a_case_with_a_pin_is_simply_hung_up(https_app: Any, db: Any) -> None:
    call, _ = await in_line(https_app, db)
    call_row, _ = await phone_call(db, call.sid)
    await https_app.app[DESK].set_pin(call_row.session_id, "4321")
    await https_app.app[TELEPHONY].hang_up(call.sid)
    assert await call.wait_ended() == "completed"
    assert not any("pin_offer" in h.value for h in call.heard)
