"""An officer accepts a waiting phone call: the live call moves to the media bridge."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

from ivr.models import PhoneCall
from media import stream_token
from tests.ivr.conftest import CallsResource, Phone
from tests.twilio.twiml import parse


async def queued_session(phone: Phone, db: Any) -> str:
    await phone.press_through("2", "1", "9", "1")  # English, women, skip, anonymous
    async with db() as session:
        call = await session.get(PhoneCall, phone.call_sid)
        assert call is not None
        return call.session_id


async def accept(login_as: Any, session_id: str) -> Any:
    officer_client, _ = await login_as("officer")
    await officer_client.post("/api/queues/me/state", json={"state": "available"})
    me = await (await officer_client.get("/api/queues/me")).json()
    assert me["offer"]["task_id"] == session_id
    response = await officer_client.post(f"/api/queues/offers/{session_id}/accept")
    assert response.status == 200, await response.text()
    return officer_client


async def state_of(db: Any, call_sid: str) -> str:
    async with db() as session:
        call = await session.get(PhoneCall, call_sid)
        assert call is not None
        return call.state


async def wait_for_state(db: Any, call_sid: str, state: str) -> None:
    for _ in range(250):
        if await state_of(db, call_sid) == state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the call never became {state}")


async def check_stream(app: Any, twiml: str, session_id: str, call_sid: str) -> None:
    verbs = parse(twiml)  # strict, as Twilio reads it
    assert [v.name for v in verbs] == ["Play", "Connect"]  # told it is recorded, then connected
    assert verbs[0].text.endswith("/twilio/prompts/en/recording_notice.wav")
    stream = verbs[1].children[0]
    assert stream.attrs["url"] == "wss://helpline.example.org/twilio/media"
    token = ET.fromstring(twiml).find("./Connect/Stream/Parameter[@name='token']")
    assert token is not None
    claim = await stream_token.redeem(app, token.get("value", ""))
    assert claim is not None
    assert (claim.session_id, claim.call_sid) == (session_id, call_sid)


async def test_accepting_moves_the_call_to_the_bridge(
    phone: Phone, db: Any, app: Any, login_as: Any, calls_resource: CallsResource
) -> None:
    session_id = await queued_session(phone, db)
    await accept(login_as, session_id)
    await wait_for_state(db, phone.call_sid, "bridged")
    assert len(calls_resource.updates) == 1
    sid, form = calls_resource.updates[0]
    assert sid == phone.call_sid
    await check_stream(app, form["Twiml"], session_id, phone.call_sid)
    # The hold loop's next turn finds her moved: it does not move her twice.
    reply = await phone.post("/twilio/ivr/wait")
    assert not reply.all("Connect")
    assert len(calls_resource.updates) == 1


async def test_when_twilio_cannot_be_reached_the_hold_loop_connects_her(
    phone: Phone, db: Any, app: Any, login_as: Any, calls_resource: CallsResource
) -> None:
    calls_resource.failing = True
    session_id = await queued_session(phone, db)
    await accept(login_as, session_id)
    for _ in range(100):  # the listener tried, failed and gave the call back
        await asyncio.sleep(0.02)
        if await state_of(db, phone.call_sid) == "waiting" and not calls_resource.updates:
            break
    reply = await phone.post("/twilio/ivr/wait")
    assert reply.status == 200
    await check_stream(app, reply.text, session_id, phone.call_sid)
    assert await state_of(db, phone.call_sid) == "bridged"


async def test_a_hang_up_after_the_answer_does_not_abandon(
    phone: Phone, db: Any, app: Any, login_as: Any, calls_resource: CallsResource
) -> None:
    from cases.models import ContactSession

    session_id = await queued_session(phone, db)
    officer_client = await accept(login_as, session_id)
    answered = await officer_client.post(f"/api/contacts/{session_id}/answer")
    assert (await answered.json())["channel"] == "phone"
    await wait_for_state(db, phone.call_sid, "bridged")
    await phone.status("completed")
    await phone.status("completed")
    async with db() as session:
        contact = await session.get(ContactSession, session_id)
        assert contact is not None
    assert contact.disposition == "answered"
