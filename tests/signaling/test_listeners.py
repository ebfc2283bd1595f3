"""The hub's listeners run in tasks the hub owns: a page leaving cannot cut them off."""

from __future__ import annotations

import asyncio

from signaling.events import SessionEnded
from signaling.routes import HUB
from tests.signaling.conftest import open_call, until


async def test_a_listener_finishes_after_the_page_that_hung_up_closed_its_connection(
    server, connect, officer_cookie
):
    hub = server.server.app[HUB]
    gate = asyncio.Event()
    started, finished = [], []

    async def slow_listener(event):  # like writing the ending to the database
        if isinstance(event, SessionEnded):
            started.append(event)
            await gate.wait()
            finished.append(event)

    hub.add_listener(slow_listener)
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)

    await call.citizen.send("hangup")
    await until(lambda: bool(started))
    assert await call.citizen.closed() == 1000  # her page closes its connection at once
    await call.citizen.ws.close()
    await call.officer.closed()
    await until(lambda: not hub.connections)  # the server saw both connections go
    await asyncio.sleep(0.05)
    gate.set()

    await until(lambda: bool(finished))
    assert finished == [SessionEnded("s-1", "hangup", "citizen")]


async def test_one_session_s_events_reach_a_listener_in_order_even_when_it_is_slow(
    server, connect, officer_cookie
):
    hub = server.server.app[HUB]
    heard = []

    async def listener(event):
        await asyncio.sleep(0.02 if type(event).__name__ == "ChatPosted" else 0)
        heard.append(type(event).__name__)

    hub.add_listener(listener)
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)
    await call.citizen.send("chat", text="first")
    await call.citizen.send("hangup")

    await until(lambda: "SessionEnded" in heard)
    assert heard == ["SideJoined", "SideJoined", "ChatPosted", "SessionEnded"]


async def test_the_hub_lets_listeners_finish_before_it_closes(make_app, aiohttp_client):
    server = await aiohttp_client(make_app())
    hub = server.server.app[HUB]
    finished = []

    async def listener(event):
        await asyncio.sleep(0.1)
        finished.append(event)

    hub.add_listener(listener)
    await hub.open_session("s-close")
    assert await hub.end_session("s-close")
    await server.close()

    assert finished == [SessionEnded("s-close", "closed", None)]
