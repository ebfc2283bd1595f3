"""A flood of fake contacts (issue 13, item 2): limited per address and overall, told to call
15, counted, alarmed; and a contact whose page never joins ends by itself, out of line."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import ContactSession
from queues.service import ROUTER
from signaling.routes import CONFIG
from tests.calls.test_push import open_stream

Db = async_sessionmaker[AsyncSession]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_page_that_never_joins_ends_out_of_line_without_a_callback(
    aiohttp_client: Any, app: Any, db: Db
) -> None:
    app[CONFIG] = dataclasses.replace(app[CONFIG], citizen_join_seconds=1.5, sweep_seconds=0.05)
    client = await aiohttp_client(app)
    before = sample("safecall_contacts_never_joined_total")
    body = {
        "service_line": "women",
        "channel": "chat",
        "anonymous": False,
        "phone": "0300 1234567",
        "callback_safe": True,  # even so: nobody was there to call back
    }
    ghost = await (await client.post("/api/contacts", json=body)).json()
    real = await (await client.post("/api/contacts", json={**body, "phone": "0300 7654321"})).json()
    ws = await client.ws_connect("/ws")
    await ws.send_json(
        {"v": 1, "type": "join", "session": real["session_id"], "token": real["token"]}
    )
    assert (await ws.receive_json())["type"] == "joined"
    for _ in range(400):
        async with db() as session:
            contact = await session.get(ContactSession, ghost["session_id"])
        if contact is not None and contact.ended_at is not None:
            break
        await asyncio.sleep(0.02)
    assert contact is not None and contact.disposition == "abandoned"
    router = app[ROUTER]
    assert router.placement(ghost["session_id"]).status == "abandoned"
    assert not [
        t
        for t in router.board.tasks.values()
        if t.session_id == ghost["session_id"] and t.status == "waiting"
    ]
    assert router.placement(real["session_id"]).status == "waiting"  # she joined: she waits
    assert sample("safecall_contacts_never_joined_total") == before + 1
    await ws.close()


async def test_a_flood_from_one_address_is_told_to_call_15_and_raises_an_alarm(
    client: Any, login_as: Any
) -> None:
    before = sample("safecall_intake_refused_total", scope="address")
    for _ in range(20):
        ok = await client.post("/api/contacts", json={"service_line": "women", "channel": "chat"})
        assert ok.status == 201
    refused = await client.post("/api/contacts", json={"service_line": "women", "channel": "chat"})
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    error = (await refused.json())["error"]
    assert error["code"] == "intake_busy" and "call 15" in error["message"]
    assert sample("safecall_intake_refused_total", scope="address") == before + 1

    supervisor, _ = await login_as("supervisor", lines=["women"])
    stream = await open_stream(supervisor, "/api/wallboard/events")
    for _ in range(10):
        event, data = await stream.next()
        if event == "alarms":
            break
    assert [a["kind"] for a in data["alarms"]].count("intake_limited") == 1
