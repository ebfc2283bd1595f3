"""Attacks on her intake, as the abuser holding her phone and her tracking code would make them.

* Anyone holding her code could rewrite her details and consent through
  ``POST /api/contacts`` (issue 13, item 1): now what a returning contact says
  is her statement on that contact, and only an officer who confirmed it with
  her takes it onto the case.
* Intake was a tracking-code oracle (item 3): it answered an existing case's
  code for a guess that existed and a fresh code otherwise, outside /track's
  guessing limit. Now the answer is the same either way, and a code that
  matches nothing is charged to /track's limits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.models import AuditEvent
from cases.models import ContactSession
from cases.tracking_code import new_code

Db = async_sessionmaker[AsyncSession]


async def start(client: Any, **fields: Any) -> dict[str, Any]:
    body = {"service_line": "women", "channel": "chat", **fields}
    response = await client.post("/api/contacts", json=body)
    assert response.status == 201, await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def case_of(db: Db, session_id: str) -> int:
    async with db() as session:
        contact = await session.get(ContactSession, session_id)
        assert contact is not None
        return contact.case_id


async def answered_by(
    login_as: Any, session_id: str, officer: Any = None
) -> tuple[Any, dict[str, Any]]:
    """An officer (a new one unless given) answers this contact: a supervisor moves it to
    her by name (it may not be first in line), she accepts and answers."""
    if officer is None:
        officer, _ = await login_as("officer", lines=["women"])
    me = await (await officer.get("/api/queues/me")).json()
    if me.get("state") in (None, "offline"):
        await officer.post("/api/queues/me/state", json={"state": "available"})
        me = await (await officer.get("/api/queues/me")).json()
    for _ in range(10):  # she declines what comes before it (declined: not offered again)
        offer = me.get("offer") or {}
        if not offer or offer.get("task_id") == session_id:
            break
        await officer.post(f"/api/queues/offers/{offer['task_id']}/decline")
        me = await (await officer.get("/api/queues/me")).json()
    if not me.get("offer"):
        supervisor, _ = await login_as("supervisor", lines=["women"])
        moved = await supervisor.post(
            f"/api/queues/tasks/{session_id}/move", json={"officer_id": me["officer_id"]}
        )
        assert moved.status == 200, await moved.text()
    accepted = await officer.post(f"/api/queues/offers/{session_id}/accept")
    assert accepted.status == 200, await accepted.text()
    answer = await officer.post(f"/api/contacts/{session_id}/answer")
    assert answer.status == 200, await answer.text()
    body: dict[str, Any] = await answer.json()
    return officer, body


async def test_her_code_cannot_rewrite_her_details_or_her_consent(
    client: Any, db: Db, login_as: Any
) -> None:
    hers = await start(client, anonymous=False, name="Ayesha", phone="0300 1111111")
    case_id = await case_of(db, hers["session_id"])
    officer, _ = await answered_by(login_as, hers["session_id"])

    # He holds her phone: her code, and a number of his choosing.
    his = await start(
        client,
        tracking_code=hers["tracking_code"],
        anonymous=False,
        name="Her Husband",
        phone="0300 9999999",
        callback_safe=True,
        callback_times="any time",
    )
    supervisor, _ = await login_as("supervisor", lines=["women"])
    case = await (await supervisor.get(f"/api/cases/{case_id}")).json()
    assert case["complainant"]["name"] == "Ayesha"
    assert case["complainant"]["callback_safe"] is False
    assert case["complainant"]["callback_times"] is None
    assert case["complainant"]["phone"].endswith("11")  # hers, masked
    # So the reveal-for-callback he was after is refused: she never said it is safe.
    revealed = await supervisor.get(
        f"/api/cases/{case_id}", params={"reveal": "phone", "reason": "callback"}
    )
    assert revealed.status == 409
    assert (await revealed.json())["error"]["code"] == "no_callback_consent"

    # Her known officer takes his contact (it is offered to her first) and sees what was
    # said, unconfirmed, beside the case.
    me = await (await officer.get("/api/queues/me")).json()
    assert me["offer"]["task_id"] == his["session_id"]
    _, answer = await answered_by(login_as, his["session_id"], officer)
    assert answer["linked_case"] is True and answer["anonymous"] is False
    assert answer["statement"] == {
        "name": "Her Husband",
        "phone": "0300 9999999",
        "callback_safe": True,
        "callback_times": "any time",
    }
    async with db() as session:
        audited = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "contact.statement",
                AuditEvent.object_id == his["session_id"],
            )
        )
    assert audited is not None and audited.address is None


async def test_an_anonymous_case_stays_anonymous(client: Any, db: Db, login_as: Any) -> None:
    hers = await start(client)
    case_id = await case_of(db, hers["session_id"])
    await start(
        client,
        tracking_code=hers["tracking_code"],
        anonymous=False,
        name="Someone",
        phone="0300 9999999",
    )
    supervisor, _ = await login_as("supervisor", lines=["women"])
    case = await (await supervisor.get(f"/api/cases/{case_id}")).json()
    assert case["anonymous"] is True and case["complainant"] is None


async def test_only_the_officer_who_heard_her_confirms_what_she_said(
    client: Any, db: Db, login_as: Any
) -> None:
    hers = await start(client, anonymous=False, name="Ayesha")
    case_id = await case_of(db, hers["session_id"])
    again = await start(
        client,
        tracking_code=hers["tracking_code"],
        anonymous=False,
        phone="0300 2222222",
        callback_safe=True,
    )
    confirm = f"/api/contacts/{again['session_id']}/statement/confirm"
    curious, _ = await login_as("officer", lines=["women"])
    officer, _ = await answered_by(login_as, again["session_id"])
    refused = await curious.post(confirm, json={"fields": ["phone", "callback_safe"]})
    assert refused.status == 403 and (await refused.json())["error"]["code"] == "not_yours"
    bad = await officer.post(confirm, json={"fields": ["address"]})
    assert bad.status == 400

    taken = await officer.post(confirm, json={"fields": ["phone", "callback_safe"]})
    assert taken.status == 200, await taken.text()
    assert (await taken.json())["taken"] == ["phone", "callback_safe"]
    supervisor, _ = await login_as("supervisor", lines=["women"])
    case = await (await supervisor.get(f"/api/cases/{case_id}")).json()
    assert case["complainant"]["name"] == "Ayesha"  # what she did not confirm stays
    assert case["complainant"]["callback_safe"] is True


async def test_intake_answers_the_same_whether_or_not_a_code_exists(
    client: Any, db: Db, login_as: Any
) -> None:
    hers = await start(client)
    guess = new_code()
    shown = f"{guess[:4]} {guess[4:8]} {guess[8:]}"
    known = await start(client, tracking_code=hers["tracking_code"])
    unknown = await start(client, tracking_code=guess)
    assert set(known) == set(unknown)
    assert known["tracking_code"] == hers["tracking_code"]
    assert unknown["tracking_code"] == shown  # not a fresh code that would tell her

    # The officer learns it matched nothing, and the new case's code to tell her.
    _, answer = await answered_by(login_as, unknown["session_id"])
    assert answer["code_unmatched"] is True and answer["linked_case"] is False
    assert answer["tracking_code"] != shown


async def test_guessing_codes_through_intake_uses_up_the_tracking_limit(client: Any) -> None:
    for _ in range(10):  # /track's budget of misses for one address
        await start(client, tracking_code=new_code())
    tracked = await client.post("/api/track", json={"code": new_code()})
    assert tracked.status == 429
    assert (await tracked.json())["error"]["code"] == "too_many_attempts"
    # Help is never refused for it: her contact opens, without checking the code.
    still = await start(client, tracking_code=new_code())
    assert still["session_id"]
