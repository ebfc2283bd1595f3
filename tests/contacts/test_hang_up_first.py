"""A contact she hung up is never offered or accepted again (issue 14, "Also").

The desk takes a contact nobody answered out of line before it writes her end on the
case (``contacts/desk.py``: :meth:`~contacts.desk.Desk.end`): whenever the case says
she has gone, the line has let her go. An officer who accepted in the moment before
(her hang-up still on its way to the desk) answers the ended contact straight into her
wrap-up and frees her capacity; she is never left holding a contact nobody is on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import ContactSession
from contacts.service import DESK
from queues.service import ROUTER
from tests.contacts.test_attacks import start
from tests.contacts.test_transfer import page

Db = async_sessionmaker[AsyncSession]


async def ended(db: Db, session_id: str) -> ContactSession:
    for _ in range(250):
        async with db() as session:
            contact = await session.get(ContactSession, session_id)
            if contact is not None and contact.ended_at is not None:
                return contact
        await asyncio.sleep(0.02)
    raise AssertionError("her contact never ended")


async def test_her_hang_up_takes_her_out_of_line_before_the_case_says_so(
    client: Any, app: web.Application, login_as: Any, db: Db
) -> None:
    desk, router = app[DESK], app[ROUTER]
    seen: list[str] = []
    record_end = desk.record_end

    async def watched(session_id: str, disposition: str, **kwargs: Any) -> bool:
        seen.append(router.placement(session_id).status)  # what the line says as it is written
        return await record_end(session_id, disposition, **kwargs)

    desk.record_end = watched  # type: ignore[method-assign]
    hers = await start(client)
    session_id = hers["session_id"]
    officer, _ = await login_as("officer", lines=["women"])
    await officer.post("/api/queues/me/state", json={"state": "available"})
    me = await (await officer.get("/api/queues/me")).json()
    assert me["offer"]["task_id"] == session_id  # ringing on her console
    citizen = await page(client, session_id, hers["token"])
    await citizen.send("hangup")
    contact = await ended(db, session_id)
    assert contact.disposition == "abandoned"
    assert seen == ["abandoned"]  # out of line before (never after) the case was written
    me = await (await officer.get("/api/queues/me")).json()
    assert me["offer"] is None and me["tasks"] == []
    late = await officer.post(f"/api/queues/offers/{session_id}/accept")
    assert late.status in (404, 409), await late.text()
    assert (await officer.post(f"/api/contacts/{session_id}/answer")).status == 409
    await citizen.ws.close()


async def test_an_accept_just_before_her_hang_up_reached_the_desk_frees_the_officer(
    client: Any, app: web.Application, login_as: Any, db: Db
) -> None:
    hers = await start(client)
    session_id = hers["session_id"]
    officer, _ = await login_as("officer", lines=["women"])
    await officer.post("/api/queues/me/state", json={"state": "available"})
    accepted = await officer.post(f"/api/queues/offers/{session_id}/accept")
    assert accepted.status == 200, await accepted.text()
    # Her hang-up reaches the desk now (the hub's listener), before the officer answered.
    await app[DESK].end(session_id, "hangup")
    answered = await officer.post(f"/api/contacts/{session_id}/answer")
    body = await answered.json()
    assert answered.status == 200, body
    assert body["ended_at"] is not None and body["token"] == ""  # straight to her wrap-up
    done = await officer.post(f"/api/queues/tasks/{session_id}/complete")
    assert done.status == 200, await done.text()
    me = await (await officer.get("/api/queues/me")).json()
    assert me["tasks"] == [] and me["state"] == "wrap_up"
