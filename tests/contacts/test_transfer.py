"""Live transfers through the HTTP API and ``/ws`` (issue 12, behaviour 2).

Officer A answers her chat; A passes it to officer B (by name) or to a line; B is
offered it, accepts and answers on a leg of her own; her page keeps its socket and
the chat goes on with B; the case's timeline has both legs; the women's line goes to
female officers only, on a transfer too. On both stores: in this process and Redis
(shared by every process).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import WSMsgType, web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.models import AuditEvent
from cases.models import ContactSession, Leg, TimelineEvent
from queues.service import ROUTER
from safecall.app import create_app
from safecall.settings import Settings
from signaling.messages import server_adapter
from tests.contacts.test_attacks import answered_by, start
from tests.signaling.conftest import Closed, Page
from tests.support import FakeClock, redis_db

Db = async_sessionmaker[AsyncSession]
REDIS_URL = redis_db(13)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """Where the line and the calls live: this process, or Redis db 13 (emptied)."""
    if request.param == "memory":
        yield None
        return
    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    yield REDIS_URL
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def app(settings: Settings, clock: FakeClock, store: str | None) -> web.Application:
    return create_app(dataclasses.replace(settings, redis_url=store), clock=clock)


class Seat(Page):
    """A page as signal.js is: it numbers on from ``joined.last_seq``, and a seat taken
    over from another officer's page starts at the first unacknowledged server seq."""

    fresh = True

    async def join(self, session: str, token: str) -> dict[str, Any]:
        joined = await super().join(session, token)
        self.seq = joined["last_seq"]
        return joined

    async def recv(self, wait: float = 5.0) -> dict[str, Any]:
        frame = await self.ws.receive(timeout=wait)
        if frame.type is not WSMsgType.TEXT:
            raise Closed(frame.data if frame.type is WSMsgType.CLOSE else self.ws.close_code)
        server_adapter.validate_json(frame.data)
        message: dict[str, Any] = json.loads(frame.data)
        seq = message.get("seq")
        if message["type"] not in ("ack", "error", "pong") and isinstance(seq, int):
            if not self.fresh:
                assert seq == self.last_seq + 1, f"server seq {seq} after {self.last_seq}"
            self.fresh, self.last_seq = False, seq
        return message


async def page(client: Any, session_id: str, token: str) -> Seat:
    """A page joined to its side of her call."""
    joined = Seat(await client.ws_connect("/ws"))
    await joined.join(session_id, token)
    return joined


async def chat(sender: Page, receiver: Page, text: str) -> dict[str, Any]:
    """``sender`` writes ``text``; what ``receiver`` gets (skipping notices on the way)."""
    await sender.send("chat", text=text)
    while True:
        message = await receiver.expect("chat", "peer-joined", "peer-left", "queue")
        if message["type"] == "chat" and message["text"] == text:
            await receiver.ack()
            return message


async def offered(browser: Any, session_id: str) -> None:
    """``browser``'s officer is offered this contact (she reads her own state)."""
    for _ in range(50):
        me = await (await browser.get("/api/queues/me")).json()
        if (me.get("offer") or {}).get("task_id") == session_id:
            return
        await browser.post("/api/queues/me/state", json={"state": "available"})
    raise AssertionError(f"never offered: {me}")


async def test_a_chat_passed_to_a_named_officer_goes_on_with_her(
    client: Any, login_as: Any, db: Db
) -> None:
    hers = await start(client)
    session_id = hers["session_id"]
    citizen = await page(client, session_id, hers["token"])
    first, answer = await answered_by(login_as, session_id)
    a = await page(first, session_id, answer["token"])
    await chat(citizen, a, "I need help")
    await chat(a, citizen, "I am here")

    second, b_officer = await login_as("officer", lines=["women"])
    await second.post("/api/queues/me/state", json={"state": "available"})
    moved = await first.post(
        f"/api/queues/tasks/{session_id}/transfer", json={"officer_id": b_officer.id}
    )
    assert moved.status == 200, await moved.text()
    await offered(second, session_id)
    # A no longer holds it: her answer is refused now.
    again = await first.post(f"/api/contacts/{session_id}/answer")
    assert again.status == 409 and (await again.json())["error"]["code"] == "not_yours"
    accepted = await second.post(f"/api/queues/offers/{session_id}/accept")
    assert accepted.status == 200, await accepted.text()
    answered = await second.post(f"/api/contacts/{session_id}/answer")
    body = await answered.json()
    assert answered.status == 200, body
    assert body["token"] and body["token"] != answer["token"]
    assert [line["text"] for line in body["chat"]] == ["I need help", "I am here"]
    b = await page(second, session_id, body["token"])
    # A's socket is let go (replaced), her page keeps hers: the chat goes on with B.
    assert (await a.closed()) is not None
    await chat(citizen, b, "are you still there?")
    await chat(b, citizen, "Another officer here")

    async with db() as session:
        legs = (
            await session.scalars(select(Leg).where(Leg.session_id == session_id).order_by(Leg.id))
        ).all()
        contact = await session.get(ContactSession, session_id)
        kinds = (
            await session.scalars(
                select(TimelineEvent.kind).where(TimelineEvent.session_id == session_id)
            )
        ).all()
    first_me = await (await first.get("/api/queues/me")).json()
    assert [leg.officer_id for leg in legs] == [first_me["officer_id"], b_officer.id]
    assert legs[0].ended_at is not None and legs[1].ended_at is None
    assert contact is not None and contact.officer_id == b_officer.id
    assert "contact.answered" in kinds and "contact.transferred" in kinds
    await citizen.ws.close()
    await b.ws.close()


async def test_a_womens_line_contact_never_goes_to_a_man(client: Any, login_as: Any) -> None:
    hers = await start(client)
    session_id = hers["session_id"]
    first, _ = await answered_by(login_as, session_id)
    man, male = await login_as("officer", gender="male", lines=["women", "child"])
    await man.post("/api/queues/me/state", json={"state": "available"})
    refused = await first.post(
        f"/api/queues/tasks/{session_id}/transfer", json={"officer_id": male.id}
    )
    body = await refused.json()
    assert refused.status == 409 and body["error"]["code"] == "hard_rule", body
    assert body["error"]["message"]
    # Still hers: she answers it again (a reload) and it is not waiting anywhere.
    assert (await first.post(f"/api/contacts/{session_id}/answer")).status == 200

    # To the line: the man, free and on the line, is never offered it; a woman is.
    moved = await first.post(f"/api/queues/tasks/{session_id}/transfer", json={"line": "women"})
    assert moved.status == 200, await moved.text()
    woman, _ = await login_as("officer", lines=["women"])
    await offered(woman, session_id)
    me = await (await man.get("/api/queues/me")).json()
    assert me["offer"] is None and me["state"] == "available"
    assert (await man.post(f"/api/queues/offers/{session_id}/accept")).status == 409
    assert (await woman.post(f"/api/queues/offers/{session_id}/accept")).status == 200
    assert (await woman.post(f"/api/contacts/{session_id}/answer")).status == 200


# --- warm transfers ------------------------------------------------------------------------


async def said(receiver: Seat, text: str) -> dict[str, Any]:
    """The chat ``text`` as ``receiver`` gets it (skipping notices on the way)."""
    while True:
        message = await receiver.expect("chat", "peer-joined", "peer-left", "queue", "colleague")
        if message["type"] == "chat" and message["text"] == text:
            await receiver.ack()
            return message


async def test_a_warm_transfer_keeps_her_until_the_colleague_joins_and_all_three_talk(
    client: Any, login_as: Any, db: Db
) -> None:
    hers = await start(client)
    session_id = hers["session_id"]
    citizen = await page(client, session_id, hers["token"])
    first, answer = await answered_by(login_as, session_id)
    a = await page(first, session_id, answer["token"])
    await chat(citizen, a, "I need help")
    second, b_officer = await login_as("officer", lines=["women"])
    await second.post("/api/queues/me/state", json={"state": "available"})

    asked = await first.post(
        f"/api/contacts/{session_id}/transfer",
        json={"officer_id": b_officer.id, "note": "She needs a shelter tonight"},
    )
    assert asked.status == 200, await asked.text()
    warm_id = (await asked.json())["task_id"]
    assert warm_id.startswith(f"{session_id}~") and warm_id.endswith("~warm")
    again = await first.post(f"/api/contacts/{session_id}/transfer", json={"line": "women"})
    assert (await again.json())["error"]["code"] == "transfer_pending"
    # Nobody has joined yet: she cannot leave, and the contact is still hers.
    early = await first.post(f"/api/contacts/{session_id}/leave")
    assert early.status == 409 and (await early.json())["error"]["code"] == "colleague_not_here"
    await chat(citizen, a, "are you still there?")

    await offered(second, warm_id)
    assert (await second.post(f"/api/queues/offers/{warm_id}/accept")).status == 200
    answered = await second.post(f"/api/contacts/{warm_id}/answer")
    body = await answered.json()
    assert answered.status == 200, body
    assert body["seat"] == "colleague" and body["task_id"] == warm_id
    assert body["signal_session"] == f"{session_id}-colleague"
    assert body["transfer"]["note"] == "She needs a shelter tonight"
    first_id = await me(first)
    assert body["transfer"]["from_officer"] == first_id
    assert [line["text"] for line in body["chat"]] == ["I need help", "are you still there?"]

    # Only B, with her own token, takes the colleague seat; her token joins once.
    curious, _ = await login_as("officer", lines=["women"])
    intruder = Seat(await curious.ws_connect("/ws"))
    await intruder.send("join", session=body["signal_session"], token=body["token"])
    assert (await intruder.expect("error"))["code"] == "wrong_officer"
    own = Seat(await first.ws_connect("/ws"))  # A's token opens her seat, not B's
    await own.send("join", session=body["signal_session"], token=answer["token"])
    assert (await own.expect("error"))["code"] == "invalid_token"
    b = await page(second, body["signal_session"], body["token"])
    replay = Seat(await second.ws_connect("/ws"))
    await replay.send("join", session=body["signal_session"], token=body["token"])
    assert (await replay.expect("error"))["code"] == "invalid_token"
    notice = await a.expect("colleague")
    assert notice["state"] == "joined"
    await a.ack()
    # A's console reloaded finds the warm transfer she asked, with her colleague in.
    reloaded = await (await first.post(f"/api/contacts/{session_id}/answer")).json()
    assert reloaded["asking"] == {
        "task_id": warm_id,
        "status": "assigned",
        "officer_id": b_officer.id,
        "joined": True,
    }
    a = await page(first, session_id, reloaded["token"])

    # Messages from her, A and B reach the other two, each with its author.
    assert (await chat(citizen, a, "hello both"))["from"] == "citizen"
    assert (await said(b, "hello both"))["from"] == "citizen"
    assert (await chat(a, citizen, "This is my colleague"))["from"] == "officer"
    assert (await said(b, "This is my colleague"))["from"] == "officer"
    assert (await chat(b, citizen, "I am here too"))["from"] == "colleague"
    assert (await said(a, "I am here too"))["from"] == "colleague"

    # A leaves: the contact is B's; B answers again for the officer's seat.
    left = await first.post(f"/api/contacts/{session_id}/leave")
    assert left.status == 200, await left.text()
    assert (await left.json())["officer_id"] == b_officer.id
    assert (await b.expect("colleague"))["state"] == "yours"
    taken = await (await second.post(f"/api/contacts/{warm_id}/answer")).json()
    assert taken["seat"] == "officer" and taken["signal_session"] == session_id
    primary = await page(second, session_id, taken["token"])
    assert (await a.closed()) is not None  # A's page is let go
    await chat(citizen, primary, "thank you")
    await chat(primary, citizen, "I will stay with you")
    assert (await first.post(f"/api/contacts/{session_id}/answer")).status == 409

    async with db() as session:
        legs = (
            await session.scalars(select(Leg).where(Leg.session_id == session_id).order_by(Leg.id))
        ).all()
        contact = await session.get(ContactSession, session_id)
        kinds = (
            await session.scalars(
                select(TimelineEvent.kind).where(TimelineEvent.session_id == session_id)
            )
        ).all()
    # Both legs: A's, ended when she left; B's, from when she joined, going on.
    assert [(leg.officer_id, leg.ended_at is None) for leg in legs] == [
        (first_id, False),
        (b_officer.id, True),
    ]
    assert contact is not None and contact.officer_id == b_officer.id
    for kind in ("contact.transfer_asked", "contact.colleague_joined", "contact.transferred"):
        assert kind in kinds, kinds
    # The chat is on her timeline with its authors (written a moment behind, in order).
    authors: set[str] = set()
    for _ in range(200):
        async with db() as session:
            chats = await session.scalars(
                select(TimelineEvent.data).where(
                    TimelineEvent.session_id == session_id, TimelineEvent.kind == "chat.message"
                )
            )
            authors = {data["from"] for data in chats}
        if len(authors) == 3:
            break
        await asyncio.sleep(0.02)
    assert authors == {"citizen", "colleague", "officer"}
    # A is in her wrap-up with nothing held; B completes the task she holds for it.
    mine = await (await first.get("/api/queues/me")).json()
    assert mine["tasks"] == []
    theirs = await (await second.get("/api/queues/me")).json()
    assert theirs["tasks"] == [warm_id]

    # B passes it on cold through the task she holds: C takes the contact's own seat.
    third, c_officer = await login_as("officer", lines=["women"])
    await third.post("/api/queues/me/state", json={"state": "available"})
    passed = await second.post(
        f"/api/queues/tasks/{warm_id}/transfer", json={"officer_id": c_officer.id}
    )
    assert passed.status == 200, await passed.text()
    await offered(third, warm_id)
    assert (await third.post(f"/api/queues/offers/{warm_id}/accept")).status == 200
    answered = await third.post(f"/api/contacts/{warm_id}/answer")
    body = await answered.json()
    assert answered.status == 200, body
    assert body["seat"] == "officer" and body["signal_session"] == session_id
    c = await page(third, session_id, body["token"])
    assert (await primary.closed()) is not None
    await chat(citizen, c, "who is this?")
    for ws in (citizen, b, c, intruder, own, replay):
        await ws.ws.close()


async def me(browser: Any) -> int:
    found: int = (await (await browser.get("/api/queues/me")).json())["officer_id"]
    return found


async def test_a_warm_transfer_called_off_stays_hers_and_never_goes_to_her_or_a_man(
    client: Any, login_as: Any, db: Db
) -> None:
    hers = await start(client)
    session_id = hers["session_id"]
    first, _ = await answered_by(login_as, session_id)
    man, male = await login_as("officer", gender="male", lines=["women", "child"])
    await man.post("/api/queues/me/state", json={"state": "available"})
    refused = await first.post(f"/api/contacts/{session_id}/transfer", json={"officer_id": male.id})
    body = await refused.json()
    assert refused.status == 409 and body["error"]["code"] == "hard_rule", body

    # To the line: never offered to the man, nor to her who asked (she has room for it).
    asked = await first.post(f"/api/contacts/{session_id}/transfer", json={"line": "women"})
    assert asked.status == 200, await asked.text()
    warm_id = (await asked.json())["task_id"]
    for browser in (man, first):
        state = await (await browser.get("/api/queues/me")).json()
        assert state["offer"] is None, state
    woman, _ = await login_as("officer", lines=["women"])
    await offered(woman, warm_id)
    cancelled = await first.post(f"/api/contacts/{session_id}/transfer/cancel")
    assert cancelled.status == 200, await cancelled.text()
    late = await woman.post(f"/api/queues/offers/{warm_id}/accept")
    assert late.status in (404, 409)
    assert (await (await woman.get("/api/queues/me")).json())["offer"] is None
    # Only she, who holds it, asks, calls off or leaves; the one asked cannot.
    for path in ("transfer", "transfer/cancel", "leave"):
        tried = await woman.post(f"/api/contacts/{session_id}/{path}", json={"line": "women"})
        assert tried.status == 409 and (await tried.json())["error"]["code"] == "not_yours"
    # Still hers, whole: she answers it again, and may ask once more.
    assert (await first.post(f"/api/contacts/{session_id}/answer")).status == 200
    none = await first.post(f"/api/contacts/{session_id}/transfer/cancel")
    assert (await none.json())["error"]["code"] == "no_transfer"

    # Asked again and accepted: too late to call off.
    asked = await first.post(f"/api/contacts/{session_id}/transfer", json={"line": "women"})
    assert asked.status == 200, await asked.text()
    warm_id = (await asked.json())["task_id"]
    await offered(woman, warm_id)
    assert (await woman.post(f"/api/queues/offers/{warm_id}/accept")).status == 200
    too_late = await first.post(f"/api/contacts/{session_id}/transfer/cancel")
    assert (await too_late.json())["error"]["code"] == "transfer_accepted"
    async with db() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.object_id == session_id)
            )
        ).all()
    assert actions.count("session.warm_transfer") == 2
    assert "session.warm_transfer_cancel" in actions


async def test_her_hang_up_calls_off_a_warm_transfer_still_waiting(
    client: Any, login_as: Any, app: web.Application
) -> None:
    hers = await start(client)
    session_id = hers["session_id"]
    citizen = await page(client, session_id, hers["token"])
    first, _ = await answered_by(login_as, session_id)
    asked = await first.post(f"/api/contacts/{session_id}/transfer", json={"line": "women"})
    warm_id = (await asked.json())["task_id"]
    await citizen.send("hangup")
    woman, _ = await login_as("officer", lines=["women"])
    await woman.post("/api/queues/me/state", json={"state": "available"})
    router = app[ROUTER]
    for _ in range(100):  # her ending is written by the desk, then the warm task is gone
        if router.placement(warm_id).status not in ("waiting", "offered"):
            break
        await asyncio.sleep(0.02)
    assert router.placement(warm_id).status == "abandoned"
    assert (await (await woman.get("/api/queues/me")).json())["offer"] is None
    await citizen.ws.close()


async def test_the_colleague_hanging_up_her_seat_ends_nothing_but_her_seat(
    client: Any, login_as: Any
) -> None:
    hers = await start(client)
    session_id = hers["session_id"]
    citizen = await page(client, session_id, hers["token"])
    first, answer = await answered_by(login_as, session_id)
    a = await page(first, session_id, answer["token"])
    second, b_officer = await login_as("officer", lines=["women"])
    await second.post("/api/queues/me/state", json={"state": "available"})
    asked = await first.post(
        f"/api/contacts/{session_id}/transfer", json={"officer_id": b_officer.id}
    )
    warm_id = (await asked.json())["task_id"]
    await offered(second, warm_id)
    await second.post(f"/api/queues/offers/{warm_id}/accept")
    body = await (await second.post(f"/api/contacts/{warm_id}/answer")).json()
    # Her token does not open the colleague's seat.
    mine = Seat(await client.ws_connect("/ws"))
    await mine.send("join", session=body["signal_session"], token=hers["token"])
    assert (await mine.expect("error"))["code"] == "invalid_token"
    b = await page(second, body["signal_session"], body["token"])
    assert (await a.expect("colleague"))["state"] == "joined"
    await b.send("hangup")
    assert (await b.expect("session-ended"))["reason"] == "hangup"
    # Her contact goes on with A; A cannot leave her to a colleague who has gone.
    await chat(citizen, a, "still there?")
    await chat(a, citizen, "Yes, I am")
    refused = await first.post(f"/api/contacts/{session_id}/leave")
    assert refused.status == 409 and (await refused.json())["error"]["code"] == (
        "colleague_not_here"
    )
    assert (await first.post(f"/api/contacts/{session_id}/answer")).status == 200
    for ws in (citizen, a, b, mine):
        await ws.ws.close()
