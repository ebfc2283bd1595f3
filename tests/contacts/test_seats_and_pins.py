"""Who may take a side of her call, and who may set her PIN (issue 13, items 9 and 14).

* The officer seat was not bound to the answering officer: another officer
  holding the token joined as the officer side. Now each answer arms a fresh
  token bound to the answering officer's login, and a join token joins once,
  so a replayed citizen token cannot push her page out.
* A complainant PIN could never be set. Now she sets it at the end of the
  contact that opened her case, once; it is changed on /track with the old
  one; whoever holds her code cannot set or change it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case, ContactSession
from tests.contacts.test_attacks import answered_by, start

Db = async_sessionmaker[AsyncSession]


async def join(client: Any, session_id: str, token: str, *, cookie: str | None = None) -> Any:
    headers = {"Cookie": f"safecall_session={cookie}"} if cookie else {}
    ws = await client.ws_connect("/ws", headers=headers)
    await ws.send_json({"v": 1, "type": "join", "session": session_id, "token": token})
    return ws


async def test_only_the_answering_officer_takes_the_officer_seat(
    client: Any, login_as: Any
) -> None:
    hers = await start(client)
    officer, answer = await answered_by(login_as, hers["session_id"])
    curious, _ = await login_as("officer", lines=["women"])
    # The curious officer got hold of the token: her login is not the one it is bound to.
    ws = await curious.ws_connect("/ws")
    await ws.send_json(
        {"v": 1, "type": "join", "session": hers["session_id"], "token": answer["token"]}
    )
    refused = await ws.receive_json()
    assert refused["type"] == "error" and refused["code"] == "wrong_officer"
    await ws.close()
    mine = await officer.ws_connect("/ws")
    await mine.send_json(
        {"v": 1, "type": "join", "session": hers["session_id"], "token": answer["token"]}
    )
    assert (await mine.receive_json())["type"] == "joined"
    await mine.close()


async def test_a_replayed_citizen_token_cannot_push_her_page_out(client: Any) -> None:
    hers = await start(client)
    page = await join(client, hers["session_id"], hers["token"])
    assert (await page.receive_json())["type"] == "joined"
    replay = await join(client, hers["session_id"], hers["token"])
    refused = await replay.receive_json()
    assert refused["type"] == "error" and refused["code"] == "invalid_token"
    await page.send_json({"v": 1, "type": "chat", "seq": 1, "text": "still here"})
    while (message := await page.receive_json())["type"] == "queue":  # her place in line
        pass
    assert message["type"] == "ack"  # her page kept its side
    await page.close()
    await replay.close()


async def test_a_reloaded_console_gets_a_fresh_token_and_the_old_one_is_spent(
    client: Any, login_as: Any
) -> None:
    hers = await start(client)
    officer, first = await answered_by(login_as, hers["session_id"])
    again = await (await officer.post(f"/api/contacts/{hers['session_id']}/answer")).json()
    assert again["token"] and again["token"] != first["token"]
    old = await officer.ws_connect("/ws")
    await old.send_json(
        {"v": 1, "type": "join", "session": hers["session_id"], "token": first["token"]}
    )
    assert (await old.receive_json())["code"] == "invalid_token"
    await old.close()


async def pin_url(data: dict[str, Any]) -> str:
    return f"/api/contacts/{data['session_id']}/pin"


def bearer(data: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {data['token']}"}


async def test_she_sets_her_pin_once_at_the_end_and_it_unlocks_her_timeline(
    client: Any, db: Db
) -> None:
    hers = await start(client)
    url = await pin_url(hers)
    assert (await client.post(url, json={"pin": "12"}, headers=bearer(hers))).status == 400
    assert (await client.post(url, json={"pin": "4321"})).status == 401  # her token only
    done = await client.post(url, json={"pin": "۴۳۲۱"}, headers=bearer(hers))  # Urdu digits
    assert done.status == 200, await done.text()
    again = await client.post(url, json={"pin": "9999"}, headers=bearer(hers))
    assert again.status == 409 and (await again.json())["error"]["code"] == "pin_already_set"
    tracked = await client.post("/api/track", json={"code": hers["tracking_code"], "pin": "4321"})
    assert tracked.status == 200 and (await tracked.json())["timeline"] is not None
    async with db() as session:
        contact = await session.get(ContactSession, hers["session_id"])
        assert contact is not None
        case = await session.scalar(select(Case).where(Case.id == contact.case_id))
    assert case is not None and case.pin_hash and "4321" not in case.pin_hash


async def test_whoever_holds_her_code_cannot_set_or_change_her_pin(client: Any) -> None:
    hers = await start(client)
    his = await start(client, tracking_code=hers["tracking_code"])
    refused = await client.post(await pin_url(his), json={"pin": "1111"}, headers=bearer(his))
    assert refused.status == 409
    assert (await refused.json())["error"]["code"] == "not_this_contacts_case"
    # /track changes a PIN only with the PIN: a case without one cannot be given one there.
    change = {"code": hers["tracking_code"], "pin": "0000", "new_pin": "1111"}
    assert (await client.post("/api/track/pin", json=change)).status == 403
    # She sets hers; she can change it with it.
    assert (
        await client.post(await pin_url(hers), json={"pin": "4321"}, headers=bearer(hers))
    ).status == 200
    changed = {"code": hers["tracking_code"], "pin": "4321", "new_pin": "8765"}
    assert (await client.post("/api/track/pin", json=changed)).status == 200
    old = await client.post("/api/track", json={"code": hers["tracking_code"], "pin": "4321"})
    assert old.status == 403
    new = await client.post("/api/track", json={"code": hers["tracking_code"], "pin": "8765"})
    assert new.status == 200
