"""The officer's console reloaded mid-call (or her browser restarted): the call comes back.

On load the console asks where she stands; a contact she still holds is answered
again (same join token, no second "answered" mark), joined afresh (the new join
takes her seat) and negotiated on a new connection: she offers, and the citizen
page answers on a new connection too. The chat so far comes back with the answer.
The recording goes on in a new part: the first is closed, naming the part that
continues it (a new recorder's WebM cannot be appended to the first).
After the hang-up, a reload keeps the wrap-up, timed from the server's end.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.models import AuditEvent
from cases.models import ContactSession, TimelineEvent
from recordings.models import Recording
from tests.browser import browser
from tests.calls.media import media_flows, poll, recordings_of
from tests.calls.test_call import DESKTOP, PHONE, log_in, make_officer, open_page, wait_for_end
from tests.support import FakeClock

__all__ = ["browser"]

Db = async_sessionmaker[AsyncSession]
NEW_CONNECTION = """() => {
  const pc = window.safecallCall.pc;
  return {fresh: Boolean(pc) && pc !== window.beforeReload, state: pc ? pc.connectionState : null};
}"""


async def until(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` on a test socket (bounded)."""
    async with asyncio.timeout(10):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == kind:
                return message


async def timeline_kinds(db: Db, session_id: str) -> list[str]:
    async with db() as session:
        return list(
            (
                await session.execute(
                    select(TimelineEvent.kind).where(TimelineEvent.session_id == session_id)
                )
            ).scalars()
        )


async def test_answering_again_gives_a_fresh_token_to_the_same_seat_and_the_chat_so_far(
    client: Any, db: Db, login_as: Any, openapi: Any
) -> None:
    started = await client.post("/api/contacts", json={"service_line": "women", "channel": "chat"})
    data = await started.json()
    session_id = data["session_id"]
    officer_client, officer = await login_as("officer")
    await officer_client.post("/api/queues/me/state", json={"state": "available"})
    assert (await officer_client.post(f"/api/queues/offers/{session_id}/accept")).status == 200
    answer_url = f"/api/contacts/{session_id}/answer"
    first = await (await officer_client.post(answer_url)).json()
    assert first["chat"] == [] and first["ended_at"] is None

    # She writes; the officer answers on /ws.
    citizen = await client.ws_connect("/ws")
    await citizen.send_json({"v": 1, "type": "join", "session": session_id, "token": data["token"]})
    assert (await citizen.receive_json())["type"] == "joined"
    seat = await officer_client.ws_connect("/ws")
    await seat.send_json({"v": 1, "type": "join", "session": session_id, "token": first["token"]})
    assert (await seat.receive_json())["type"] == "joined"
    await citizen.send_json({"v": 1, "type": "chat", "seq": 1, "text": "are you there"})
    await seat.send_json({"v": 1, "type": "chat", "seq": 1, "text": "I am listening"})
    for _ in range(200):  # the chat is written by the hub's listener: wait (bounded)
        if (await timeline_kinds(db, session_id)).count("chat.message") == 2:
            break
        await asyncio.sleep(0.02)

    # Her console reloads: she asks again, and gets a fresh token to the same seat (the one
    # before is spent: a join token joins once) and the chat so far.
    response = await officer_client.post(answer_url)
    assert response.status == 200
    again = await response.json()
    openapi.check("POST", "/api/contacts/{session_id}/answer", 200, again)
    assert again["token"] and again["token"] != first["token"]
    assert sorted((line["side"], line["text"]) for line in again["chat"]) == [
        ("citizen", "are you there"),
        ("officer", "I am listening"),
    ]
    assert again["ended_at"] is None
    # A new join takes the seat; the old socket is told it was replaced.
    rejoined = await officer_client.ws_connect("/ws")
    await rejoined.send_json(
        {"v": 1, "type": "join", "session": session_id, "token": again["token"]}
    )
    assert (await rejoined.receive_json())["type"] == "joined"
    replaced = await until(seat, "error")
    assert replaced["code"] == "replaced"
    notice = await until(citizen, "peer-joined")
    assert notice["side"] == "officer" and notice["resumed"] is False

    await rejoined.send_json({"v": 1, "type": "hangup", "seq": 2})
    contact = await wait_for_end(db, session_id)
    assert contact.disposition == "answered"
    ended = await (await officer_client.post(answer_url)).json()
    assert ended["ended_at"] == pytest.approx(contact.ended_at.timestamp())  # type: ignore[union-attr]

    kinds = await timeline_kinds(db, session_id)
    assert kinds.count("contact.answered") == 1  # answered once, however often asked
    async with db() as session:
        row = await session.get(ContactSession, session_id)
        assert row is not None and row.officer_id == officer.id
        audits = list(
            (
                await session.execute(
                    select(AuditEvent.detail)
                    .where(
                        AuditEvent.action == "session.answer", AuditEvent.object_id == session_id
                    )
                    .order_by(AuditEvent.id)
                )
            ).scalars()
        )
    assert [bool(d["again"]) for d in audits] == [False, True, True]
    for socket in (citizen, seat, rejoined):
        await socket.close()


async def test_a_recording_restarted_after_a_reload_continues_the_earlier_one(
    client: Any, db: Db, login_as: Any, openapi: Any
) -> None:
    started = await client.post("/api/contacts", json={"service_line": "women", "channel": "video"})
    session_id = (await started.json())["session_id"]
    officer_client, _ = await login_as("officer")
    await officer_client.post("/api/queues/me/state", json={"state": "available"})
    assert (await officer_client.post(f"/api/queues/offers/{session_id}/accept")).status == 200
    assert (await officer_client.post(f"/api/contacts/{session_id}/answer")).status == 200
    start_url = f"/api/sessions/{session_id}/recordings"
    body = {"kind": "video", "media_type": "video/webm", "tracks": ["her video"]}
    first = await (await officer_client.post(start_url, json=body)).json()
    put = await officer_client.put(f"/api/recordings/{first['id']}/chunks/0", data=b"part one")
    assert put.status == 201

    # Refused, with nothing written: an id that is not this session's, another kind.
    for wrong, status, code in [
        ({"continues": "0" * 32}, 404, "recording_not_found"),
        ({"continues": first["id"], "kind": "phone"}, 409, "recording_kind_differs"),
    ]:
        refused = await officer_client.post(start_url, json=body | wrong)
        assert refused.status == status
        assert (await refused.json())["error"]["code"] == code
    # The reloaded console starts a new part that continues the first.
    response = await officer_client.post(start_url, json=body | {"continues": first["id"]})
    assert response.status == 201
    second = await response.json()
    openapi.check("POST", "/api/sessions/{session_id}/recordings", 201, second)
    async with db() as session:
        rows = {
            r.id: r
            for r in await session.scalars(
                select(Recording).where(Recording.session_id == session_id)
            )
        }
    assert set(rows) == {first["id"], second["id"]}  # the refusals started nothing
    earlier = rows[first["id"]]
    assert earlier.state == "complete" and earlier.chunk_count == 1
    assert earlier.reason is not None and second["id"] in earlier.reason
    assert rows[second["id"]].state == "open"
    # Continuing a part already closed starts the next one and leaves the closed one as it is.
    again = await officer_client.post(start_url, json=body | {"continues": first["id"]})
    assert again.status == 201


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages: one database will do
async def test_a_video_call_comes_back_after_the_console_reloads(
    client: Any, db: Db, browser: Browser, clock: FakeClock
) -> None:
    officer = await make_officer(db, "RLD-101")
    citizen_ctx, citizen, citizen_problems = await open_page(
        browser, str(client.make_url("/")), PHONE
    )
    console_ctx, console, console_problems = await open_page(
        browser, str(client.make_url("/console")), DESKTOP
    )
    await citizen.get_by_test_id("start-video").click()
    await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
    await log_in(console, "RLD-101")
    await console.get_by_test_id("status-available").click()
    await console.get_by_test_id("offer").wait_for(state="visible")
    await console.get_by_test_id("accept").click()
    await media_flows(console)
    await media_flows(citizen)
    await citizen.get_by_test_id("chat-input").fill("hello before the reload")
    await citizen.get_by_test_id("chat-send").click()
    await console.get_by_text("hello before the reload").wait_for()
    session_id = await citizen.evaluate("() => window.safecallCall.id")
    await citizen.evaluate("() => { window.beforeReload = window.safecallCall.pc; }")
    # The console records the call (recorder.js): its first chunks are up.
    await recordings_of(db, session_id, lambda rows: rows[0].chunk_count >= 1)

    # Her laptop's browser reloads the console mid-call.
    await console.reload()
    await console.get_by_test_id("call-view").wait_for(state="visible")
    # The chat so far is back (from the session's timeline).
    await console.get_by_test_id("chat-log").get_by_text("hello before the reload").wait_for()
    # Negotiated afresh: a new connection on both sides, media both ways again.
    await poll(citizen, NEW_CONNECTION, lambda s: s["fresh"] and s["state"] == "connected")
    await media_flows(console)
    await media_flows(citizen)
    assert await console.evaluate("() => window.safecallCall.resumes") == 0  # a fresh join
    # Chat still goes both ways on the new seat.
    await console.get_by_test_id("chat-input").fill("I am back")
    await console.get_by_test_id("chat-send").click()
    await citizen.get_by_text("I am back").wait_for()
    # The reloaded console records on in a new part, which continues the first.
    await recordings_of(
        db, session_id, lambda rows: len(rows) == 2 and all(r.chunk_count for r in rows)
    )

    await console.get_by_test_id("hangup").click()
    await citizen.locator("#ended").wait_for(state="visible")
    contact = await wait_for_end(db, session_id)
    parts = await recordings_of(db, session_id, lambda rows: all(r.state != "open" for r in rows))
    # (the test's clock stands still: the link, not the start time, says which is first)
    first, second = sorted(parts, key=lambda r: r.reason is None)
    assert first.state == "complete" and first.chunk_count >= 1
    assert first.reason is not None and f"continued in recording {second.id}" in first.reason
    assert second.state == "complete", second.reason
    assert second.chunk_count >= 1
    assert contact.disposition == "answered"  # not dropped
    assert contact.officer_id == officer.id
    kinds = await timeline_kinds(db, session_id)
    assert kinds.count("contact.answered") == 1

    # A reload in the wrap-up keeps it, timed from the server's end (not from the reload).
    await console.get_by_test_id("wrapup").wait_for(state="visible")
    clock.advance(2)  # the server's clock (the test's) says 2 s have passed since the end
    await console.reload()
    await console.get_by_test_id("wrapup").wait_for(state="visible")
    timer = await console.get_by_test_id("wrapup-timer").text_content() or "0:00"
    seconds = 0
    for part in timer.split(":"):  # m:ss, or h:mm:ss
        seconds = seconds * 60 + int(part)
    assert 2 <= seconds < 60, timer
    # The call is over (no media); its case stays on screen for the outcome.
    assert await console.locator("#media").is_hidden()
    assert await console.get_by_test_id("case-panel").is_visible()
    await console.get_by_test_id("wrapup-done").click()
    await console.get_by_test_id("status-text").filter(has_text="Available").wait_for()
    assert citizen_problems == [] and console_problems == []
    await citizen_ctx.close()
    await console_ctx.close()
