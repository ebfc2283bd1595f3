"""The queues over HTTP, in the real app (in-process store), on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.models import AuditEvent
from cases.models import TimelineEvent
from cases.sessions import open_contact
from queues.router import Contact
from queues.service import ROUTER
from safecall.state import ROUTING
from sealing.data_key import DataKey
from tests.support import FakeClock, OpenAPIChecker

Client = TestClient[Any, Any]


async def _go(browser: Client, state: str) -> dict[str, Any]:
    response = await browser.post("/api/queues/me/state", json={"state": state})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_an_officer_goes_available_gets_an_offer_accepts_and_completes(
    app: web.Application, login_as: Any, openapi: OpenAPIChecker, clock: FakeClock
) -> None:
    browser, officer = await login_as("officer", languages=["ur"])
    me = await _go(browser, "available")
    openapi.check("POST", "/api/queues/me/state", 200, me)
    assert me["state"] == "available" and me["offer"] is None
    await app[ROUTER].enqueue(Contact(id="sess1", line="women", channel="chat", silent=True))
    response = await browser.get("/api/queues/me")
    me = await response.json()
    openapi.check("GET", "/api/queues/me", 200, me)
    assert me["state"] == "offered"
    assert me["offer"]["task_id"] == "sess1" and me["offer"]["silent"] is True
    response = await browser.post("/api/queues/offers/sess1/accept")
    body = await response.json()
    assert response.status == 200, body
    openapi.check("POST", "/api/queues/offers/{task_id}/accept", 200, body)
    assert body["status"] == "assigned" and body["officer_id"] == officer.id
    assert (await (await browser.get("/api/queues/me")).json())["tasks"] == ["sess1"]
    response = await browser.post("/api/queues/tasks/sess1/complete")
    assert response.status == 200
    assert (await response.json())["status"] == "completed"
    me = await (await browser.get("/api/queues/me")).json()
    assert me["state"] == "wrap_up" and me["tasks"] == []


async def test_refusals_have_codes(
    app: web.Application, login_as: Any, openapi: OpenAPIChecker
) -> None:
    first, _ = await login_as("officer")
    second, _ = await login_as("officer")
    await _go(first, "available")
    await app[ROUTER].enqueue(Contact(id="sess1", line="women", channel="phone"))
    response = await second.post("/api/queues/offers/sess1/accept")
    assert response.status == 409
    body = await response.json()
    openapi.check("POST", "/api/queues/offers/{task_id}/accept", 409, body)
    assert body["error"]["code"] == "not_offered"
    response = await second.post("/api/queues/tasks/nope/complete")
    assert response.status == 409 and (await response.json())["error"]["code"] == "not_yours"
    response = await first.post("/api/queues/me/state", json={"state": "asleep"})
    assert response.status == 400
    response = await first.post("/api/queues/me/state", data="state=available")
    assert response.status == 415
    response = await first.post("/api/queues/offers/sess1/decline")
    assert response.status == 200 and (await response.json())["status"] == "waiting"


async def test_not_logged_in_and_wrong_role(client: Client, login_as: Any) -> None:
    assert (await client.get("/api/queues/stats")).status == 401
    assert (await client.post("/api/queues/me/state", json={"state": "available"})).status == 401
    officer, _ = await login_as("officer")
    response = await officer.post("/api/queues/tasks/x/move", json={"priority": 5})
    assert response.status == 403
    assert (await officer.post("/api/queues/officers/1/page")).status == 403


async def test_statistics_for_the_wallboard(
    app: web.Application, login_as: Any, openapi: OpenAPIChecker
) -> None:
    browser, _ = await login_as("officer", gender="male", lines=["women", "child"])
    await _go(browser, "available")
    await app[ROUTER].enqueue(Contact(id="w1", line="women", channel="phone"))
    await app[ROUTER].enqueue(Contact(id="w2", line="women", channel="chat", emergency=True))
    response = await browser.get("/api/queues/stats")
    body = await response.json()
    openapi.check("GET", "/api/queues/stats", 200, body)
    women = next(line for line in body["lines"] if line["line"] == "women")
    assert women["waiting"] == 2 and women["alarm"] is True and women["estimated_wait"] is None
    assert [t["task_id"] for t in women["tasks"]] == ["w2", "w1"]
    child = next(line for line in body["lines"] if line["line"] == "child")
    assert child["officers"]["available"] == 1 and child["alarm"] is False


async def test_supervisor_moves_and_the_hard_rule_holds(
    app: web.Application,
    login_as: Any,
    openapi: OpenAPIChecker,
    db: async_sessionmaker[AsyncSession],
) -> None:
    supervisor, boss = await login_as("supervisor")
    male, man = await login_as("officer", gender="male", lines=["women", "child"])
    await _go(male, "available")
    await app[ROUTER].enqueue(Contact(id="sess1", line="women", channel="phone"))
    response = await supervisor.post("/api/queues/tasks/sess1/move", json={"officer_id": man.id})
    body = await response.json()
    assert response.status == 409 and body["error"]["code"] == "hard_rule"
    openapi.check("POST", "/api/queues/tasks/{task_id}/move", 409, body)
    # She came to the women's line: never moved to a line men answer.
    response = await supervisor.post("/api/queues/tasks/sess1/move", json={"line": "child"})
    body = await response.json()
    assert response.status == 409 and body["error"]["code"] == "female_only_line", body
    openapi.check("POST", "/api/queues/tasks/{task_id}/move", 409, body)
    response = await supervisor.post("/api/queues/tasks/sess1/move", json={"priority": 60})
    body = await response.json()
    assert response.status == 200 and body["status"] == "waiting", body
    response = await supervisor.post("/api/queues/tasks/sess1/move", json={"callback": True})
    assert (await response.json())["error"]["code"] == "not_callback_safe"
    response = await supervisor.post("/api/queues/tasks/sess1/move", json={})
    assert response.status == 400
    response = await supervisor.post("/api/queues/tasks/missing/move", json={"priority": 1})
    assert response.status == 404
    async with db() as session:
        actions = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.object_id).where(
                    AuditEvent.officer_id == boss.id
                )
            )
        ).all()
    assert ("session.move", "sess1") in actions
    response = await supervisor.post(f"/api/queues/officers/{man.id}/page")
    assert response.status == 204
    assert (await supervisor.post("/api/queues/officers/999999/page")).status == 404


async def test_transfer_by_the_officer_holding_it(app: web.Application, login_as: Any) -> None:
    first, _ = await login_as("officer", lines=["women"])
    second, _ = await login_as("officer", lines=["child"], gender="male")
    await _go(first, "available")
    await _go(second, "available")
    await app[ROUTER].enqueue(Contact(id="sess1", line="women", channel="phone"))
    await first.post("/api/queues/offers/sess1/accept")
    response = await second.post("/api/queues/tasks/sess1/transfer", json={"line": "child"})
    assert response.status == 409
    response = await first.post("/api/queues/tasks/sess1/transfer", json={})
    assert response.status == 400
    response = await first.post("/api/queues/tasks/sess1/transfer", json={"line": "nowhere"})
    assert response.status == 400 and (await response.json())["error"]["code"] == "unknown_line"
    response = await first.post("/api/queues/tasks/sess1/transfer", json={"line": "child"})
    body = await response.json()
    assert response.status == 409 and body["error"]["code"] == "female_only_line"
    await app[ROUTER].enqueue(Contact(id="sess2", line="child", channel="chat"))
    await second.post("/api/queues/offers/sess2/accept")
    response = await second.post("/api/queues/tasks/sess2/transfer", json={"line": "women"})
    body = await response.json()
    assert response.status == 200 and body["officer_id"] is None  # first holds a call


async def test_prometheus_gauges(app: web.Application, client: Client) -> None:
    await app[ROUTER].enqueue(Contact(id="m1", line="child", channel="chat"))
    text = await (await client.get("/metrics")).text()
    assert 'safecall_queue_waiting{line="child"} 1.0' in text
    assert 'safecall_queue_alarm{line="child"} 1.0' in text
    assert 'safecall_queue_officers{line="women",state="available"}' in text


async def test_routing_events_land_once_on_the_sessions_timeline(
    app: web.Application,
    login_as: Any,
    db: async_sessionmaker[AsyncSession],
    data_key: DataKey,
    clock: FakeClock,
) -> None:
    browser, officer = await login_as("officer")
    async with db() as session, session.begin():
        contact, _case = await open_contact(
            session, data_key, service_line="women", channel="chat", now=clock()
        )
    await _go(browser, "available")
    await app[ROUTER].enqueue(Contact(id=contact.id, line="women", channel="chat"))
    await browser.post(f"/api/queues/offers/{contact.id}/accept")
    await browser.post(f"/api/queues/tasks/{contact.id}/complete")
    expected = ["queue.enqueued", "queue.offered", "queue.accepted", "queue.completed"]
    kinds: list[str] = []
    for _ in range(200):  # the sink writes in the background
        async with db() as session:
            rows = (
                await session.execute(
                    select(TimelineEvent)
                    .where(TimelineEvent.session_id == contact.id)
                    .where(TimelineEvent.kind.like("queue.%"))
                    .order_by(TimelineEvent.id)
                )
            ).scalars()
            events = list(rows)
        kinds = [e.kind for e in events]
        if len(kinds) >= len(expected):
            break
        await asyncio.sleep(0.02)
    assert kinds == expected
    accepted = events[2]
    assert accepted.officer_id == officer.id and accepted.key.startswith("queue:")
    assert accepted.data["task_id"] == contact.id


async def test_colleagues_on_duty_to_transfer_to(
    login_as: Any, openapi: OpenAPIChecker, client: Client
) -> None:
    me, _ = await login_as("officer")
    present, her = await login_as("officer", lines=["child"], gender="male")
    away, _ = await login_as("officer")
    assert (await present.post("/api/queues/me/state", json={"state": "break"})).status == 200
    assert (await away.post("/api/queues/me/state", json={"state": "offline"})).status == 200
    assert (await me.post("/api/queues/me/state", json={"state": "available"})).status == 200
    response = await me.get("/api/queues/officers")
    body = await response.json()
    assert response.status == 200
    openapi.check("GET", "/api/queues/officers", 200, body)
    # Herself and anyone offline are left out; the rest with what a transfer must respect.
    assert body["officers"] == [
        {
            "officer_id": her.id,
            "name": her.name,
            "badge": her.badge,
            "state": "break",
            "lines": ["child"],
            "gender": "male",
        }
    ]
    assert (await client.get("/api/queues/officers")).status == 401


async def _her_contact(client: Client, category: str) -> str:
    response = await client.post(
        "/api/contacts",
        json={"service_line": "women", "channel": "chat", "language": "ur", "category": category},
    )
    assert response.status == 201, await response.text()
    session_id: str = (await response.json())["session_id"]
    return session_id


async def _offer(browser: Client) -> str | None:
    me = await (await browser.get("/api/queues/me")).json()
    return None if me["offer"] is None else str(me["offer"]["task_id"])


async def test_saying_what_happened_never_keeps_a_free_officer_from_her(
    app: web.Application, client: Client, login_as: Any, clock: FakeClock
) -> None:
    # An officer added as the README shows: no skills. The routing file asks for skill 3 in
    # her category at first; nobody who has it is on duty, so after the grace she is offered.
    browser, _ = await login_as("officer", languages=["ur"], skills={})
    await _go(browser, "available")
    session_id = await _her_contact(client, "domestic_violence")
    assert await _offer(browser) is None  # the grace: a skilled officer may still be free
    clock.advance(app[ROUTING].grace)
    await app[ROUTER].tick()
    assert await _offer(browser) == session_id


async def test_a_free_officer_with_the_skill_is_still_offered_her_first(
    app: web.Application, client: Client, login_as: Any, clock: FakeClock
) -> None:
    plain, _ = await login_as("officer", languages=["ur"], skills={})
    await _go(plain, "available")  # idle the longest
    clock.advance(60)
    skilled, _ = await login_as("officer", languages=["ur"], skills={"domestic_violence": 4})
    await _go(skilled, "available")
    session_id = await _her_contact(client, "domestic_violence")
    assert await _offer(skilled) == session_id
    assert await _offer(plain) is None


async def test_an_officer_sees_the_task_ids_of_her_own_lines_only(
    app: web.Application, login_as: Any, openapi: OpenAPIChecker
) -> None:
    women, _ = await login_as("officer", lines=["women"])
    child, _ = await login_as("officer", lines=["child"])
    child_supervisor, _ = await login_as("supervisor", lines=["child"])
    admin, _ = await login_as("admin", lines=[])
    await app[ROUTER].enqueue(Contact(id="w1", line="women", channel="phone"))
    await app[ROUTER].enqueue(Contact(id="c1", line="child", channel="chat"))

    async def seen(browser: Client) -> dict[str, list[str]]:
        response = await browser.get("/api/queues/stats")
        body = await response.json()
        openapi.check("GET", "/api/queues/stats", 200, body)
        assert all(line["waiting"] == 1 for line in body["lines"])  # figures for every line
        return {line["line"]: [t["task_id"] for t in line["tasks"]] for line in body["lines"]}

    assert await seen(women) == {"women": ["w1"], "child": []}
    assert await seen(child) == {"women": [], "child": ["c1"]}
    assert await seen(child_supervisor) == {"women": [], "child": ["c1"]}
    assert await seen(admin) == {"women": ["w1"], "child": ["c1"]}
