"""The in-process page (signaling/local.py) is a side like any page, across processes too."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import WSMsgType

from safecall.app import create_app
from safecall.settings import Settings
from signaling.errors import SignalingError
from signaling.local import LocalPeer, SessionOver
from signaling.messages import server_adapter
from signaling.routes import HUB
from tests.support import FakeClock


async def test_a_local_side_talks_to_a_page_on_another_process_through_redis(
    aiohttp_client: Any, with_redis: Settings, clock: FakeClock, officer_cookie: Any
) -> None:
    bridge_process = await aiohttp_client(create_app(with_redis, clock=clock))
    page_process = await aiohttp_client(create_app(with_redis, clock=clock))
    hub = bridge_process.server.app[HUB]
    await hub.open_session("s-local")

    local = LocalPeer(hub)
    joined = await local.join("s-local", hub.join_token("s-local", "citizen"))
    assert joined["side"] == "citizen" and joined["peer"] == "not_joined"

    ws = await page_process.ws_connect(
        "/ws", headers={"Cookie": f"safecall_session={await officer_cookie()}"}
    )
    token = page_process.server.app[HUB].join_token("s-local", "officer")
    await ws.send_str(json.dumps({"v": 1, "type": "join", "session": "s-local", "token": token}))

    async def page_receives(kind: str) -> dict[str, Any]:
        while True:
            frame = await ws.receive(timeout=5)
            assert frame.type is WSMsgType.TEXT
            server_adapter.validate_json(frame.data)
            message: dict[str, Any] = json.loads(frame.data)
            if isinstance(message.get("seq"), int) and message["type"] != "ack":
                await ws.send_str(json.dumps({"v": 1, "type": "ack", "seq": message["seq"]}))
            if message["type"] == kind:
                return message

    assert (await local.receive())["type"] == "peer-joined"
    await local.send("offer", sdp="v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n")
    await local.send("dtmf", digit="2")
    assert (await page_receives("offer"))["from"] == "citizen"
    assert (await page_receives("dtmf"))["digit"] == "2"
    await ws.send_str(json.dumps({"v": 1, "type": "answer", "seq": 1, "sdp": "v=0\r\nanswer"}))
    answer = await local.receive()
    assert answer["type"] == "answer" and answer["from"] == "officer"

    async with asyncio.timeout(2):
        while local.state.unacked:  # noqa: ASYNC110 (acks come in by themselves)
            await asyncio.sleep(0.01)
    await local.send("hangup")
    ended = await page_receives("session-ended")
    assert ended == {"v": 1, "type": "session-ended", "reason": "hangup", "side": "citizen"}
    with pytest.raises(SessionOver) as over:
        while True:
            await local.receive()
    assert over.value.ended is not None and over.value.ended["reason"] == "hangup"
    await local.close()
    await ws.close()


async def test_a_wrong_token_is_refused(server: Any) -> None:
    hub = server.server.app[HUB]
    await hub.open_session("s-wrong")
    local = LocalPeer(hub)
    with pytest.raises(SessionOver):
        await local.join("s-wrong", "x" * 32)
    assert ("s-wrong", "citizen") not in hub.local


async def test_a_local_side_resumes_after_its_socket_is_lost_and_resends(
    server: Any, officer_cookie: Any
) -> None:
    hub = server.server.app[HUB]
    await hub.open_session("s-resume")
    local = LocalPeer(hub)
    await local.join("s-resume", hub.join_token("s-resume", "citizen"))
    # What a Connection does when the session store fails: close with 1013, to be resumed.
    await hub.local[("s-resume", "citizen")].refuse(SignalingError("unavailable"))
    await local.send("dtmf", digit="5")  # while away: kept, and sent again after the resume
    async with asyncio.timeout(5):
        while (await local.receive())["type"] != "joined":
            pass
    assert local.joined is not None and local.joined["side"] == "citizen"
    await local.send("dtmf", digit="6")  # on the resumed socket

    ws = await server.ws_connect(
        "/ws", headers={"Cookie": f"safecall_session={await officer_cookie()}"}
    )
    token = hub.join_token("s-resume", "officer")
    await ws.send_str(json.dumps({"v": 1, "type": "join", "session": "s-resume", "token": token}))
    seen = []
    async with asyncio.timeout(5):
        while sum(m["type"] == "dtmf" for m in seen) < 2:
            seen.append(json.loads((await ws.receive()).data))
    assert [m["digit"] for m in seen if m["type"] == "dtmf"] == ["5", "6"]
    await local.close()
    await ws.close()
