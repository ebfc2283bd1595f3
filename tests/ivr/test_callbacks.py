"""Callbacks placed by an officer and SMS links to video, through the Twilio emulator."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy import select

from cases.models import ContactSession
from ivr import links
from ivr.models import PhoneCall
from officers.auth import COOKIE, start_login
from officers.models import Officer

CALLER = "+923001234567"


async def officer_client(https_app: Any, db: Any) -> aiohttp.ClientSession:
    """A logged-in officer's browser on the https app."""
    async with db() as session:
        officer = Officer(
            badge=f"T-{secrets.token_hex(3)}",
            name="Test Officer",
            role="officer",
            gender="female",
            languages=["ur", "en"],
            skills={},
            lines=["women", "child"],
            password_hash="not-a-hash",
        )
        session.add(officer)
        await session.flush()
        token = await start_login(session, officer, "127.0.0.1", datetime.now(UTC), 12)
        await session.commit()
    return aiohttp.ClientSession(
        base_url=https_app.url,
        connector=aiohttp.TCPConnector(ssl=https_app.client_ssl),
        headers={"Cookie": f"{COOKIE}={token}"},
    )


async def queued_call(cloud: Any, keys: tuple[str, ...]) -> Any:
    call = await cloud.incoming_call(from_=CALLER)
    for key in keys:
        await call.gather()
        await call.press(key)
    await call.wait_for(lambda heard: any(h.value.endswith("/common/hold.wav") for h in heard))
    return call


async def session_of(db: Any, call_sid: str) -> str:
    for _ in range(250):
        async with db() as session:
            call = await session.get(PhoneCall, call_sid)
        if call is not None:
            return str(call.session_id)
        await asyncio.sleep(0.02)
    raise AssertionError("the call never reached the line")


async def take_offer(browser: aiohttp.ClientSession, task_id: str) -> None:
    await browser.post("/api/queues/me/state", json={"state": "available"})
    for _ in range(100):
        me = await (await browser.get("/api/queues/me")).json()
        if me.get("offer") and me["offer"]["task_id"] == task_id:
            break
        await asyncio.sleep(0.02)
    response = await browser.post(f"/api/queues/offers/{task_id}/accept")
    assert response.status == 200, await response.text()


async def ended(db: Any, session_id: str) -> ContactSession:
    for _ in range(250):
        async with db() as session:
            contact = await session.get(ContactSession, session_id)
        if contact is not None and contact.ended_at is not None:
            return contact
        await asyncio.sleep(0.02)
    raise AssertionError("the contact never ended")


async def abandoned_with_callback(https_app: Any, db: Any) -> str:
    call = await queued_call(https_app.cloud, ("2", "1", "9", "2", "1"))  # English, safe
    session_id = await session_of(db, call.sid)
    await call.hang_up()
    await ended(db, session_id)
    return session_id + "~callback"


async def test_an_officer_rings_her_back_and_is_bridged(https_app: Any, db: Any) -> None:
    cloud = https_app.cloud
    task_id = await abandoned_with_callback(https_app, db)
    async with await officer_client(https_app, db) as browser:
        await take_offer(browser, task_id)
        response = await browser.post(f"/api/phone/callbacks/{task_id}/call")
        assert response.status == 201, await response.text()
        body = await response.json()
        assert (body["attempt"], body["attempts_left"]) == (1, 2)
        ringing = await cloud.next_outbound()
        assert (ringing.to, ringing.from_) == (CALLER, https_app.settings.twilio_caller_id)
        await ringing.answer(answered_by="human")
        stream = await ringing.wait_stream()
        assert stream.parameters.get("token")
        async with db() as session:
            contact = await session.get(ContactSession, body["session_id"])
            earlier = await session.get(ContactSession, task_id.removesuffix("~callback"))
        assert contact is not None and earlier is not None
        assert contact.case_id == earlier.case_id  # the same case
        assert contact.answered_at is not None
        # Twilio asked for machine detection, so no voicemail can be left.
        create = next(r for r in cloud.requests if r.path.endswith("/Calls.json"))
        assert create.params.get("MachineDetection") in (["Enable"], ["DetectMessageEnd"])


async def test_a_machine_is_hung_up_on_and_unanswered_rings_are_limited(
    https_app: Any, db: Any
) -> None:
    cloud = https_app.cloud
    task_id = await abandoned_with_callback(https_app, db)
    async with await officer_client(https_app, db) as browser:
        await take_offer(browser, task_id)
        first = await (await browser.post(f"/api/phone/callbacks/{task_id}/call")).json()
        machine = await cloud.next_outbound()
        await machine.answer(answered_by="machine_start")
        await machine.wait_ended()
        assert machine.heard == []  # nothing said to a voicemail
        assert (await ended(db, first["session_id"])).disposition == "missed"

        second = await (await browser.post(f"/api/phone/callbacks/{task_id}/call")).json()
        unanswered = await cloud.next_outbound()
        await unanswered.decline("no-answer")
        assert (await ended(db, second["session_id"])).disposition == "missed"

        third = await browser.post(f"/api/phone/callbacks/{task_id}/call")
        assert (await third.json())["attempts_left"] == 0
        busy = await cloud.next_outbound()
        await busy.decline("busy")
        fourth = await browser.post(f"/api/phone/callbacks/{task_id}/call")
        assert fourth.status == 409
        assert (await fourth.json())["error"]["code"] == "callback_attempts_used"


async def test_only_the_officer_holding_the_task_rings(https_app: Any, db: Any) -> None:
    task_id = await abandoned_with_callback(https_app, db)
    async with await officer_client(https_app, db) as browser:
        response = await browser.post(f"/api/phone/callbacks/{task_id}/call")
        assert response.status == 409
        assert (await response.json())["error"]["code"] == "not_yours"
    assert not [r for r in https_app.cloud.requests if r.path.endswith("/Calls.json")]


async def test_the_officer_texts_a_one_time_video_link(https_app: Any, db: Any) -> None:
    cloud, app = https_app.cloud, https_app.app
    call = await queued_call(cloud, ("2", "1", "9", "1"))  # anonymous: we keep no number
    session_id = await session_of(db, call.sid)
    async with await officer_client(https_app, db) as browser:
        early = await browser.post(f"/api/phone/contacts/{session_id}/video-link")
        assert early.status == 409
        await take_offer(browser, session_id)
        answered = await browser.post(f"/api/contacts/{session_id}/answer")
        assert answered.status == 200
        await call.wait_stream()
        for _ in range(100):
            async with db() as session:
                state = await session.scalar(
                    select(PhoneCall.state).where(PhoneCall.call_sid == call.sid)
                )
            if state == "bridged":
                break
            await asyncio.sleep(0.02)
        response = await browser.post(f"/api/phone/contacts/{session_id}/video-link")
        assert response.status == 200, await response.text()
    assert len(cloud.messages) == 1
    message = cloud.messages[0]
    assert message["to"] == CALLER
    assert message["from"] == https_app.settings.twilio_caller_id
    assert "police" not in message["body"].lower()
    token = message["body"].split("?video=")[1].strip()
    assert await links.redeem(app, token) == session_id
    assert await links.redeem(app, token) is None  # once only
