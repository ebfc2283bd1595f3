"""Stopping a process (SIGTERM): no new sessions, calls in progress get time, sockets go away."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSServerHandshakeError

from signaling.hub import HubClosing
from signaling.routes import HUB
from tests.signaling.conftest import open_call, until


async def test_draining_alone_waits_for_the_call_in_progress_then_sends_the_rest_away(
    make_app, aiohttp_client, connect, officer_cookie
):
    server = await aiohttp_client(make_app(drain_seconds=30))
    hub = server.server.app[HUB]
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)
    waiting = await connect(server)  # a page that has not joined anything yet

    draining = asyncio.create_task(hub.drain())  # SIGTERM, before the server stops reading
    await until(lambda: hub.draining)
    with pytest.raises(HubClosing):
        await hub.open_session("s-new")
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(server)
    assert refused.value.status == 503
    await call.citizen.send("chat", text="the call goes on while the server drains")
    assert (await call.officer.expect("chat"))["text"].startswith("the call goes on")
    assert not draining.done()

    await call.officer.send("hangup")
    assert (await call.citizen.expect("hangup"))["from"] == "officer"
    assert (await call.citizen.expect("session-ended"))["reason"] == "hangup"
    await draining
    error = await waiting.expect("error")
    assert error["code"] == "going_away" and error["fatal"] is True
    assert await waiting.closed() == 1001


async def test_the_wait_for_calls_is_capped(make_app, aiohttp_client, connect, officer_cookie):
    server = await aiohttp_client(make_app(drain_seconds=0.3))
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)

    await server.server.app[HUB].drain()

    for page in (call.citizen, call.officer):
        assert (await page.expect("error"))["code"] == "going_away"
        assert await page.closed() == 1001


async def test_the_server_s_own_shutdown_sends_every_page_away_at_once(
    make_app, aiohttp_client, connect, officer_cookie
):
    server = await aiohttp_client(make_app(drain_seconds=30))
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)

    await server.server.close()  # what run_app does on SIGTERM

    for page in (call.citizen, call.officer):
        assert (await page.expect("error"))["code"] == "going_away"
        assert await page.closed() == 1001


async def test_a_draining_process_refuses_new_sockets_and_joins(make_app, aiohttp_client, connect):
    server = await aiohttp_client(make_app())
    hub = server.server.app[HUB]
    await hub.open_session("s-drain")
    page = await connect(server)

    await hub.drain()

    assert (await page.expect("error"))["code"] == "going_away"
    assert await page.closed() == 1001
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(server)
    assert refused.value.status == 503
    response = await server.get("/ws")
    assert (await response.json())["error"]["code"] == "going_away"
    assert response.headers["Retry-After"] == "1"
