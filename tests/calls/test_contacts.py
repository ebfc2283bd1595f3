"""``/api/contacts``: her intake opens a contact on a case, in line, with a call to join."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case, ContactSession, TimelineEvent
from queues.service import ROUTER

Db = async_sessionmaker[AsyncSession]
Client = Any


async def contacts(db: Db) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(ContactSession)) or 0)


async def start(client: Client, **fields: Any) -> dict[str, Any]:
    body = {"service_line": "women", "channel": "video", **fields}
    response = await client.post("/api/contacts", json=body)
    assert response.status == 201, await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def test_a_contact_needs_only_the_line_and_the_channel(
    client: Client, db: Db, openapi: Any
) -> None:
    response = await client.post(
        "/api/contacts", json={"service_line": "women", "channel": "video"}
    )
    data = await response.json()
    openapi.check("POST", "/api/contacts", 201, data)
    async with db() as session:
        contact = await session.get(ContactSession, data["session_id"])
        assert contact is not None
        case = await session.get(Case, contact.case_id)
        assert case is not None
    assert contact.channel == "browser_video"
    assert contact.anonymous is True
    assert contact.queued_at is not None
    assert data["tracking_code"].replace(" ", "") == case.tracking_code

    place = await client.get(
        f"/api/contacts/{data['session_id']}",
        headers={"Authorization": f"Bearer {data['token']}"},
    )
    body = await place.json()
    openapi.check("GET", "/api/contacts/{session_id}", 200, body)
    assert body["status"] == "waiting"
    assert body["position"] == 1


async def test_her_place_needs_her_token(client: Client, db: Db) -> None:
    data = await start(client)
    url = f"/api/contacts/{data['session_id']}"
    for headers in ({}, {"Authorization": "Bearer not-her-token-at-all"}, {"Authorization": "x"}):
        response = await client.get(url, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "invalid_session_token"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"channel": "fax"}, "invalid_body"),
        ({"service_line": "men"}, "unknown_service_line"),
        ({"district": "Atlantis"}, "unknown_district"),
        ({"surprise": 1}, "invalid_body"),
        ({"name": "Ayesha"}, "anonymous_with_details"),
        ({"anonymous": False, "callback_safe": True}, "callback_needs_phone"),
        ({"anonymous": False, "phone": "12"}, "invalid_phone"),
        ({"tracking_code": "1234"}, "invalid_tracking_code"),
        ({"category": "not_a_category"}, "unknown_category"),
        ({"location": {"latitude": 91, "longitude": 0}}, "invalid_body"),
    ],
)
async def test_bad_intake_is_refused_and_writes_nothing(
    client: Client, db: Db, fields: dict[str, Any], code: str
) -> None:
    body = {"service_line": "women", "channel": "video", **fields}
    response = await client.post("/api/contacts", json=body)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == code or (code == "invalid_body" and error["code"].startswith("invalid"))
    assert await contacts(db) == 0


async def test_her_earlier_code_links_the_contact_to_her_case(client: Client, db: Db) -> None:
    first = await start(client)
    second = await start(client, channel="chat", tracking_code=first["tracking_code"])
    assert second["tracking_code"] == first["tracking_code"]
    async with db() as session:
        a = await session.get(ContactSession, first["session_id"])
        b = await session.get(ContactSession, second["session_id"])
        assert a is not None and b is not None
        assert a.case_id == b.case_id
        assert b.silent is True


async def test_only_the_officer_who_accepted_gets_the_call(
    client: Client, db: Db, login_as: Any, openapi: Any
) -> None:
    data = await start(
        client,
        anonymous=False,
        name="Ayesha",
        phone="0300 1234567",
        callback_safe=True,
        location={"latitude": 31.5204, "longitude": 74.3587, "accuracy": 20},
    )
    session_id = data["session_id"]
    answer_url = f"/api/contacts/{session_id}/answer"
    assert (await client.post(answer_url)).status == 401

    other, _ = await login_as("officer")
    officer_client, officer = await login_as("officer")
    response = await other.post(answer_url)
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "not_yours"

    await officer_client.post("/api/queues/me/state", json={"state": "available"})
    me = await (await officer_client.get("/api/queues/me")).json()
    assert me["offer"]["task_id"] == session_id
    # Offered is not accepted.
    assert (await officer_client.post(answer_url)).status == 409
    accepted = await officer_client.post(f"/api/queues/offers/{session_id}/accept")
    assert accepted.status == 200
    response = await officer_client.post(answer_url)
    body = await response.json()
    openapi.check("POST", "/api/contacts/{session_id}/answer", 200, body)
    assert body["channel"] == "browser_video"
    assert body["anonymous"] is False
    assert body["callback_safe"] is True
    assert body["recorded"] is True  # no line has recording off here
    assert body["location"]["latitude"] == pytest.approx(31.5204)
    assert body["tracking_code"] == data["tracking_code"]
    assert body["token"] and body["token"] != data["token"]
    assert (await other.post(answer_url)).status == 409
    async with db() as session:
        contact = await session.get(ContactSession, session_id)
        assert contact is not None
        assert contact.officer_id == officer.id
        assert contact.answered_at is not None
        location = await session.scalar(
            select(TimelineEvent.data).where(TimelineEvent.kind == "contact.location")
        )
    # Her location is sealed at rest.
    assert location is not None and "31.52" not in str(location)


async def wait_for_end(db: Db, session_id: str) -> ContactSession:
    for _ in range(200):
        async with db() as session:
            contact = await session.get(ContactSession, session_id)
            if contact is not None and contact.ended_at is not None:
                return contact
        await asyncio.sleep(0.02)
    raise AssertionError("the contact never ended")


async def test_hanging_up_while_waiting_abandons_the_contact_and_leaves_the_line(
    client: Client, db: Db, app: Any
) -> None:
    data = await start(client, channel="chat")
    ws = await client.ws_connect("/ws")
    await ws.send_json(
        {"v": 1, "type": "join", "session": data["session_id"], "token": data["token"]}
    )
    assert (await ws.receive_json())["type"] == "joined"
    await ws.send_json({"v": 1, "type": "chat", "seq": 1, "text": "are you there"})
    await ws.send_json({"v": 1, "type": "hangup", "seq": 2})
    contact = await wait_for_end(db, data["session_id"])
    await ws.close()
    assert contact.disposition == "abandoned"
    assert app[ROUTER].placement(data["session_id"]).status == "abandoned"
    place = await client.get(
        f"/api/contacts/{data['session_id']}",
        headers={"Authorization": f"Bearer {data['token']}"},
    )
    assert (await place.json())["position"] is None
    for _ in range(200):  # the chat is written by its own task: wait for it (bounded)
        async with db() as session:
            kinds = set(
                (
                    await session.execute(
                        select(TimelineEvent.kind).where(
                            TimelineEvent.session_id == data["session_id"]
                        )
                    )
                ).scalars()
            )
        if "chat.message" in kinds:
            break
        await asyncio.sleep(0.02)
    assert {"chat.message", "contact.ended"} <= kinds
