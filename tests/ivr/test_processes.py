"""Two server processes sharing Redis (db 10) and the database: one bridge move per accept."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from ivr.models import PhoneCall
from officers.auth import COOKIE, start_login
from officers.models import Officer
from safecall.app import create_app
from tests.ivr.conftest import CallsResource, Phone
from tests.support import redis_db

REDIS_URL = redis_db(10)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    yield REDIS_URL
    await client.flushdb()
    await client.aclose()


async def test_an_accept_heard_by_every_process_moves_the_call_once(
    aiohttp_client: Any,
    settings: Any,
    clock: Any,
    db: Any,
    redis_url: str,
    calls_resource: CallsResource,
) -> None:
    shared = dataclasses.replace(settings, redis_url=redis_url)
    phone_side = await aiohttp_client(create_app(shared, clock=clock))
    officer_side = await aiohttp_client(create_app(shared, clock=clock))
    async with db() as session:
        officer = Officer(
            badge="R-10",
            name="Redis officer",
            role="officer",
            gender="female",
            languages=["ur", "en"],
            skills={},
            lines=["women"],
            password_hash="not-a-hash",
        )
        session.add(officer)
        await session.flush()
        token = await start_login(session, officer, "127.0.0.1", clock(), 12)
        await session.commit()
    officer_side.session.cookie_jar.update_cookies({COOKIE: token})

    phone = Phone(phone_side, shared)
    await phone.press_through("2", "1", "9", "1")
    async with db() as session:
        call = await session.get(PhoneCall, phone.call_sid)
    assert call is not None
    await officer_side.post("/api/queues/me/state", json={"state": "available"})
    for _ in range(200):
        me = await (await officer_side.get("/api/queues/me")).json()
        if me.get("offer"):
            break
        await asyncio.sleep(0.02)
    assert me["offer"]["task_id"] == call.session_id
    accepted = await officer_side.post(f"/api/queues/offers/{call.session_id}/accept")
    assert accepted.status == 200
    for _ in range(250):
        async with db() as session:
            found = await session.get(PhoneCall, phone.call_sid)
        if found is not None and found.state == "bridged":
            break
        await asyncio.sleep(0.02)
    assert found is not None and found.state == "bridged"
    await asyncio.sleep(0.3)  # the other process's listener had its chance too
    assert [sid for sid, _ in calls_resource.updates] == [phone.call_sid]
