"""Callbacks placed by an officer (rung again when unanswered) and SMS links to video, through
the Twilio emulator."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from cases.casework import open_note
from cases.models import Case, CaseNote, ContactSession, TimelineEvent
from cases.sessions import open_contact
from ivr import callback_retries, links
from ivr.models import CallbackRetry, PhoneCall
from ivr.twiml import MENU
from officers.auth import COOKIE, start_login
from officers.models import Officer
from queues.service import ROUTER
from safecall.app import create_app
from safecall.settings import Settings
from safecall.state import DATA_KEY
from signaling.routes import HUB
from tests.support import FakeClock
from tests.twilio.fixtures import serve_https

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
        assert contact.case_id == earlier.case_id == body["case_id"]  # the same case
        assert contact.answered_at is not None
        case = await session_get_case(db, contact.case_id)
        assert body["tracking_code"] == case.tracking_code
        # Twilio asked for machine detection, so no voicemail can be left.
        create = next(r for r in cloud.requests if r.path.endswith("/Calls.json"))
        assert create.params.get("MachineDetection") in (["Enable"], ["DetectMessageEnd"])


@pytest.fixture
async def clocked(
    settings: Settings, twilio_cloud: Any, tmp_path: Path
) -> AsyncIterator[tuple[Any, FakeClock]]:
    """The https app on a clock the test moves (retries are minutes apart)."""
    clock = FakeClock(datetime.now(UTC))
    async with serve_https(settings, twilio_cloud, tmp_path, clock=clock) as served:
        yield served, clock


async def rings(browser: aiohttp.ClientSession, task_id: str, outcome: str) -> dict[str, Any]:
    """What the console is told about the task's rings, once it says ``outcome``."""
    for _ in range(250):
        response = await browser.get(f"/api/phone/callbacks/{task_id}")
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        if body["outcome"] == outcome:
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"the rings never became {outcome}: {body}")


async def held(browser: aiohttp.ClientSession) -> list[str]:
    return list((await (await browser.get("/api/queues/me")).json())["tasks"])


async def kinds(db: Any, session_id: str) -> list[str]:
    async with db() as session:
        found = await session.scalars(
            select(TimelineEvent.kind)
            .where(TimelineEvent.session_id == session_id, TimelineEvent.kind.like("callback.%"))
            .order_by(TimelineEvent.id)
        )
        return list(found)


async def due_again(app: Any, clock: FakeClock) -> None:
    """Move past the retry delay; the sweep (this one, or the background one) puts it back."""
    clock.advance(app[MENU].callback_retry_seconds)
    await callback_retries.sweep(app)


async def test_an_unanswered_callback_goes_back_in_line_and_is_answered_on_retry(
    clocked: tuple[Any, FakeClock], db: Any
) -> None:
    https_app, clock = clocked
    cloud, app = https_app.cloud, https_app.app
    task_id = await abandoned_with_callback(https_app, db)
    origin = task_id.removesuffix("~callback")
    retry_id = f"{origin}~2~callback"
    async with (
        await officer_client(https_app, db) as first,
        await officer_client(https_app, db) as second,
    ):
        await take_offer(first, task_id)
        await first.post(f"/api/phone/callbacks/{task_id}/call")
        await (await cloud.next_outbound()).decline("no-answer")
        told = await rings(first, task_id, "retry_scheduled")
        assert (told["rings"], told["attempts"], told["next_task_id"]) == (1, 3, retry_id)
        assert await held(first) == []  # she is freed (the task completed)
        await first.post("/api/queues/me/state", json={"state": "break"})
        await second.post("/api/queues/me/state", json={"state": "available"})
        await callback_retries.sweep(app)
        assert retry_id not in app[ROUTER].board.tasks  # not before it is due
        clock.advance(app[MENU].callback_retry_seconds)
        claims = await asyncio.gather(*(callback_retries.sweep(app) for _ in range(3)))
        assert sum(claims) <= 1  # claimed once (the background sweep may have been first)
        assert (await rings(first, task_id, "retry_in_line"))["next_task_id"] == retry_id
        await take_offer(second, retry_id)  # another officer rings this time
        response = await second.post(f"/api/phone/callbacks/{retry_id}/call")
        assert response.status == 201, await response.text()
        body = await response.json()
        assert (body["attempt"], body["attempts_left"]) == (2, 1)
        ringing = await cloud.next_outbound()
        assert ringing.from_ == https_app.settings.twilio_caller_id
        await ringing.answer(answered_by="human")
        await ringing.wait_stream()
        assert (await rings(second, retry_id, "answered"))["rings"] == 2
    async with db() as session:
        contact = await session.get(ContactSession, body["session_id"])
        assert contact is not None and contact.answered_at is not None
        retries = list(await session.scalars(select(CallbackRetry)))
    assert [(r.attempt, r.done_at is not None) for r in retries] == [(2, True)]
    assert await kinds(db, origin) == ["callback.retry_scheduled", "callback.retry_claimed"]


async def test_a_callback_never_answered_ends_unreachable_without_a_voicemail(
    clocked: tuple[Any, FakeClock], db: Any
) -> None:
    https_app, clock = clocked
    cloud, app = https_app.cloud, https_app.app
    task_id = await abandoned_with_callback(https_app, db)
    origin = task_id.removesuffix("~callback")
    async with await officer_client(https_app, db) as browser:
        for attempt, outcome in enumerate(("machine_start", "busy", "failed"), start=1):
            if attempt > 1:
                await due_again(app, clock)
                task_id = f"{origin}~{attempt}~callback"
            await take_offer(browser, task_id)
            placed = await (await browser.post(f"/api/phone/callbacks/{task_id}/call")).json()
            assert placed["attempt"] == attempt
            ringing = await cloud.next_outbound()
            if outcome == "machine_start":
                await ringing.answer(answered_by=outcome)
                await ringing.wait_ended()
                assert ringing.heard == []  # nothing said to a voicemail
            else:
                await ringing.decline(outcome)
            assert (await ended(db, placed["session_id"])).disposition == "missed"
        told = await rings(browser, task_id, "unreachable")
        assert (told["rings"], told["next_task_id"]) == (3, None)
        assert await held(browser) == []
        again = await browser.post(f"/api/phone/callbacks/{task_id}/call")
        assert (await again.json())["error"]["code"] == "not_yours"
    await due_again(app, clock)
    assert not [t for t in app[ROUTER].board.tasks.values() if t.session_id == origin]
    assert await kinds(db, origin) == [
        "callback.retry_scheduled",
        "callback.retry_claimed",
        "callback.retry_scheduled",
        "callback.retry_claimed",
        "callback.unreachable",
    ]
    async with db() as session:
        earlier = await session.get(ContactSession, origin)
        assert earlier is not None
        notes = list(
            await session.scalars(select(CaseNote).where(CaseNote.case_id == earlier.case_id))
        )
    assert len(notes) == 1
    assert "3 rings" in open_note(https_app.app[DATA_KEY], notes[0])
    assert len([r for r in cloud.requests if r.path.endswith("/Calls.json")]) == 3


async def test_a_retry_due_after_a_restart_is_put_back_in_line_once(
    aiohttp_client: Any, settings: Settings, clock: FakeClock, db: Any
) -> None:
    """The retry was written before a restart; two processes on the database sweep at once."""
    processes = [(await aiohttp_client(create_app(settings, clock=clock))).app for _ in range(2)]
    async with db() as session, session.begin():
        earlier, _ = await open_contact(
            session,
            processes[0][DATA_KEY],
            service_line="women",
            channel="phone",
            now=clock(),
            language="en",
        )
        origin = earlier.id
        session.add(
            CallbackRetry(
                origin_session_id=origin,
                attempt=2,
                due_at=clock() + timedelta(seconds=60),
                created_at=clock(),
            )
        )
    assert await asyncio.gather(*(callback_retries.sweep(app) for app in processes)) == [0, 0]
    clock.advance(60)
    claims = await asyncio.gather(*(callback_retries.sweep(app) for app in processes))
    assert sum(claims) <= 1  # (the background sweep may have been first)
    task_id = f"{origin}~2~callback"
    for _ in range(250):
        lines = [app for app in processes if task_id in app[ROUTER].board.tasks]
        if lines:
            break
        await asyncio.sleep(0.02)
    assert len(lines) == 1  # one process put it in its line
    task = lines[0][ROUTER].board.tasks[task_id]
    assert (task.is_callback, task.session_id, task.line) == (True, origin, "women")
    assert await kinds(db, origin) == ["callback.retry_claimed"]


async def test_an_officer_who_hangs_up_while_it_rings_stops_the_ring(
    https_app: Any, db: Any
) -> None:
    # Otherwise she would pick up to a line nobody is on.
    task_id = await abandoned_with_callback(https_app, db)
    async with await officer_client(https_app, db) as browser:
        await take_offer(browser, task_id)
        placed = await (await browser.post(f"/api/phone/callbacks/{task_id}/call")).json()
        ringing = await https_app.cloud.next_outbound()
        assert ringing.status in ("queued", "ringing")
        await https_app.app[HUB].end_session(placed["session_id"], "hangup")
        assert await ringing.wait_ended() == "canceled"
        assert not ringing.answered
        told = await rings(browser, task_id, "retry_scheduled")  # rung again later
        assert told["rings"] == 1


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


async def session_get_case(db: Any, case_id: int) -> Case:
    async with db() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    return case
