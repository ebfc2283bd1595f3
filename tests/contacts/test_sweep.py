"""Nothing acknowledged is lost (issue 14, D1, D2, D6 and the web contact's time in line).

Each fault leaves behind exactly what a real one would: a session ended in the
hub whose end never reached the database (a process killed in between), a
contact written with no call (a process killed before its session opened), a
call nobody put in line, chat written while the database refused writes. The
sweep (or the retry) repairs it, and counts the repair.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import ContactSession, TimelineEvent
from cases.sessions import open_contact
from contacts.service import SWEEP
from queues.service import ROUTER
from safecall.app import create_app
from signaling.routes import HUB
from tests.contacts.test_attacks import answered_by, start
from tests.support import Cuttable

Db = async_sessionmaker[AsyncSession]


def repaired(kind: str) -> float:
    return REGISTRY.get_sample_value("safecall_contacts_repaired_total", {"repair": kind}) or 0.0


async def contact(db: Db, session_id: str) -> ContactSession:
    async with db() as session:
        found = await session.get(ContactSession, session_id)
    assert found is not None
    return found


def older(clock: Any) -> None:
    clock.advance(30)  # the sweep leaves contacts younger than 20 s alone


async def test_an_ending_that_never_reached_the_database_is_written_by_the_sweep(
    client: Any, app: Any, db: Db, clock: Any, login_as: Any
) -> None:
    hers = await start(client)
    await answered_by(login_as, hers["session_id"])
    # The process that ended the session died before it wrote the end (D1).
    hub = app[HUB]
    assert await hub.store.end(hers["session_id"], "dropped", "citizen", hub.clock())
    assert (await contact(db, hers["session_id"])).ended_at is None
    older(clock)
    before = repaired("ended")
    assert await app[SWEEP].step() == 1
    ended = await contact(db, hers["session_id"])
    assert ended.disposition == "dropped" and repaired("ended") == before + 1
    assert await app[SWEEP].step() == 0  # once


async def test_a_contact_written_without_its_call_is_ended_failed(
    client: Any, app: Any, db: Db, clock: Any, data_key: Any
) -> None:
    async with db() as session, session.begin():  # a process died right after this (D2)
        orphan, _ = await open_contact(
            session, data_key, service_line="women", channel="chat", now=clock(), queued_at=clock()
        )
    older(clock)
    before = repaired("lost")
    assert await app[SWEEP].step() == 1
    ended = await contact(db, orphan.id)
    assert ended.disposition == "failed" and "lost" in (ended.failure_reason or "")
    assert repaired("lost") == before + 1


async def test_a_call_nobody_put_in_line_is_put_back_with_its_arrival(
    client: Any, app: Any, db: Db, clock: Any, data_key: Any
) -> None:
    arrived = clock()
    async with db() as session, session.begin():
        waiting, _ = await open_contact(
            session, data_key, service_line="child", channel="chat", now=arrived, queued_at=arrived
        )
    await app[HUB].open_session(waiting.id)  # ...and died before the line took it
    assert app[ROUTER].placement(waiting.id).status == "unknown"
    older(clock)
    before = repaired("requeued")
    assert await app[SWEEP].step() == 1
    assert app[ROUTER].placement(waiting.id).status == "waiting"
    assert app[ROUTER].board.tasks[waiting.id].arrived == arrived.timestamp()
    assert repaired("requeued") == before + 1


async def test_a_browser_contact_nobody_answered_in_time_ends_missed_and_her_page_is_told(
    client: Any, app: Any, db: Db, clock: Any
) -> None:
    hers = await start(client)
    ws = await client.ws_connect("/ws")
    join = {"v": 1, "type": "join", "session": hers["session_id"], "token": hers["token"]}
    await ws.send_json(join)
    assert (await ws.receive_json())["type"] == "joined"
    clock.advance(app[ROUTER].config.ttl + 1)
    await app[ROUTER].tick()
    async with asyncio.timeout(10):
        while (message := await ws.receive_json())["type"] != "session-ended":
            pass
    assert message["reason"] == "missed"
    for _ in range(200):
        if (await contact(db, hers["session_id"])).ended_at is not None:
            break
        await asyncio.sleep(0.02)
    assert (await contact(db, hers["session_id"])).disposition == "missed"
    await ws.close()


async def test_a_callback_she_asked_for_while_waiting_is_made_when_nobody_answered(
    client: Any, app: Any, clock: Any
) -> None:
    """One tap started her contact; while she waited she gave her number and said a
    callback is safe. Nobody answered in time: her callback goes in line as it would have
    had she said so before the tap."""
    hers = await start(client)
    token = {"Authorization": f"Bearer {hers['token']}"}
    said = await client.post(
        f"/api/contacts/{hers['session_id']}/answers",
        json={"phone": "0300 1234567", "callback_safe": True},
        headers=token,
    )
    assert said.status == 200, await said.text()
    ws = await client.ws_connect("/ws")
    join = {"v": 1, "type": "join", "session": hers["session_id"], "token": hers["token"]}
    await ws.send_json(join)
    assert (await ws.receive_json())["type"] == "joined"
    router = app[ROUTER]
    assert router.board.tasks[hers["session_id"]].callback_safe is False  # not at the tap
    clock.advance(router.config.ttl + 1)
    await router.tick()
    async with asyncio.timeout(10):
        while (message := await ws.receive_json())["type"] != "session-ended":
            pass
    assert message["reason"] == "missed"
    callback = hers["session_id"] + "~callback"
    async with asyncio.timeout(10):
        for _ in range(500):
            if router.placement(callback).status != "unknown":
                break
            await asyncio.sleep(0.02)
    task = router.board.tasks[callback]
    assert task.is_callback and task.channel == "phone" and task.line == "women"
    await ws.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_chat_acknowledged_while_the_database_is_down_is_kept(
    aiohttp_client: Any, settings: Any, clock: Any, db: Db, caplog: Any
) -> None:
    """D6: every chat message acknowledged to her page reaches her timeline, those sent
    while the database was unreachable too: their writes are tried again until it is back.
    (72 of 852 were lost in one 10 s outage before.)"""
    url = make_url(settings.database_url)
    path = Cuttable(url.host or "127.0.0.1", url.port or 5432)
    port = await path.start()
    through = url.set(port=port).render_as_string(hide_password=False)
    app = create_app(dataclasses.replace(settings, database_url=through), clock)
    client = await aiohttp_client(app)
    hers = await start(client)
    ws = await client.ws_connect("/ws")
    join = {"v": 1, "type": "join", "session": hers["session_id"], "token": hers["token"]}
    await ws.send_json(join)
    assert (await ws.receive_json())["type"] == "joined"
    await path.cut()
    acked = []
    for seq in range(1, 6):
        await ws.send_json({"v": 1, "type": "chat", "seq": seq, "text": f"message {seq}"})
        while (reply := await ws.receive_json())["type"] != "ack":
            pass
        acked.append(reply["seq"])
    async with asyncio.timeout(30):  # a write was refused, and is being tried again
        while "could not record a chat message yet" not in caplog.text:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await path.restore()
    assert acked[-1] == 5
    for _ in range(400):
        async with db() as session:
            kept = list(
                await session.scalars(
                    select(TimelineEvent.key).where(
                        TimelineEvent.session_id == hers["session_id"],
                        TimelineEvent.kind == "chat.message",
                    )
                )
            )
        if len(kept) == 5:
            break
        await asyncio.sleep(0.05)
    assert sorted(kept) == [f"chat:{hers['session_id']}:citizen:{n}" for n in range(1, 6)]
    await ws.close()
    await path.cut()
