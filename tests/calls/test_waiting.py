"""While she waits: her answers to the optional questions, and leaving by the quick exit.

The contact starts with one tap (line and channel); what happened, her district, her
language, her name and phone come after, on her contact (``POST .../answers``, her
token). The quick exit marks the contact left (``POST .../left``) and ends its call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.models import AuditEvent
from cases.models import Case, Complainant, ContactSession, ContactStatement, TimelineEvent
from queues.service import ROUTER
from tests.calls.test_contacts import start, wait_for_end

Db = async_sessionmaker[AsyncSession]
Client = Any


def her(data: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {data['token']}"}


async def answer(client: Client, data: dict[str, Any], **fields: Any) -> Any:
    return await client.post(
        f"/api/contacts/{data['session_id']}/answers", json=fields, headers=her(data)
    )


async def test_her_answers_while_she_waits_go_on_the_case_her_contact_opened(
    client: Client, db: Db, openapi: Any
) -> None:
    data = await start(client, channel="chat")
    district = (await (await client.get("/api/districts")).json())["districts"][0]["code"]
    first = await answer(client, data, category="harassment")
    body = await first.json()
    openapi.check("POST", "/api/contacts/{session_id}/answers", 200, body)
    assert body == {"taken": ["category"]}
    assert (await (await answer(client, data, district=district)).json())["taken"] == ["district"]
    assert (await (await answer(client, data, language="pa")).json())["taken"] == ["language"]
    named = await answer(client, data, name="Ayesha")
    assert (await named.json())["taken"] == ["name"]
    phoned = await answer(client, data, phone="0300 1234567", callback_safe=True)
    assert (await phoned.json())["taken"] == ["phone", "callback_safe"]
    async with db() as session:
        contact = await session.get(ContactSession, data["session_id"])
        assert contact is not None
        case = await session.get(Case, contact.case_id)
        complainant = await session.scalar(
            select(Complainant).where(Complainant.case_id == contact.case_id)
        )
        audited = list(
            (
                await session.execute(
                    select(AuditEvent.detail).where(AuditEvent.action == "contact.answers")
                )
            ).scalars()
        )
    assert case is not None and complainant is not None
    assert (case.category, case.district, case.anonymous) == ("harassment", district, False)
    assert (contact.language, contact.anonymous) == ("pa", False)
    assert complainant.callback_safe is True  # the name alone did not undo it, nor it the name
    assert complainant.name_sealed is not None and b"Ayesha" not in complainant.name_sealed
    assert len(audited) == 5 and "Ayesha" not in str(audited)


async def test_answers_need_her_token_and_good_values_and_write_nothing_when_refused(
    client: Client, db: Db
) -> None:
    data = await start(client, channel="chat")
    url = f"/api/contacts/{data['session_id']}/answers"
    refused = await client.post(url, json={"category": "harassment"})
    assert refused.status == 401
    cases = [
        ({"category": "not_a_category"}, "unknown_category"),
        ({"district": "Atlantis"}, "unknown_district"),
        ({"callback_safe": True}, "callback_needs_phone"),
        ({"phone": "12"}, "invalid_phone"),
        ({}, "no_answers"),
    ]
    for fields, code in cases:
        response = await answer(client, data, **fields)
        assert response.status == 400, (fields, await response.text())
        assert (await response.json())["error"]["code"] == code
    async with db() as session:
        contact = await session.get(ContactSession, data["session_id"])
        assert contact is not None
        case = await session.get(Case, contact.case_id)
        assert case is not None and case.category is None and case.anonymous is True


async def test_on_a_case_named_by_its_code_her_answers_are_a_statement_only(
    client: Client, db: Db
) -> None:
    first = await start(client, channel="chat")
    second = await start(client, channel="chat", tracking_code=first["tracking_code"])
    await answer(client, second, category="harassment")
    response = await answer(client, second, name="Someone else")
    assert (await response.json())["taken"] == ["name"]
    async with db() as session:
        contact = await session.get(ContactSession, second["session_id"])
        assert contact is not None
        case = await session.get(Case, contact.case_id)
        statement = await session.scalar(
            select(ContactStatement).where(ContactStatement.session_id == second["session_id"])
        )
    assert case is not None and case.category is None and case.anonymous is True
    assert statement is not None and statement.name_sealed is not None


async def test_leaving_by_quick_exit_marks_the_contact_and_ends_its_call(
    client: Client, db: Db, app: Any, openapi: Any
) -> None:
    data = await start(client, channel="chat")
    ws = await client.ws_connect("/ws")
    await ws.send_json(
        {"v": 1, "type": "join", "session": data["session_id"], "token": data["token"]}
    )
    assert (await ws.receive_json())["type"] == "joined"
    url = f"/api/contacts/{data['session_id']}/left"
    assert (await client.post(url)).status == 401
    response = await client.post(url, headers=her(data))
    body = await response.json()
    openapi.check("POST", "/api/contacts/{session_id}/left", 200, body)
    assert body == {"ended": True}
    while (message := await ws.receive_json())["type"] != "session-ended":
        pass
    assert message["reason"] == "quick_exit"
    contact = await wait_for_end(db, data["session_id"])
    assert contact.disposition == "abandoned"
    assert app[ROUTER].placement(data["session_id"]).status == "abandoned"
    # Asked again (a second tap, a retry): nothing more happens.
    assert await (await client.post(url, headers=her(data))).json() == {"ended": False}
    assert (await answer(client, data, category="harassment")).status == 409
    async with db() as session:
        marks = list(
            (
                await session.execute(
                    select(TimelineEvent.kind).where(TimelineEvent.kind == "contact.quick_exit")
                )
            ).scalars()
        )
        audited = await session.scalar(
            select(AuditEvent.address).where(AuditEvent.action == "contact.quick_exit")
        )
    assert marks == ["contact.quick_exit"]
    assert audited is None  # anonymous means anonymous: no address
    await ws.close()
