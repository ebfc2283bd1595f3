"""Two server processes sharing one Redis: the citizen on one, the officer on the other.

Each app here is a whole server (its own hub, store client and bus listener)
sharing Redis db 6 and the database, as two processes would.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from signaling.bus import CHANNEL
from signaling.events import SessionEnded
from signaling.routes import HUB
from tests.signaling.conftest import open_call, until

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


async def two_servers(aiohttp_client, make_app, redis_url, **config):
    first = await aiohttp_client(make_app(redis_url, **config))
    second = await aiohttp_client(make_app(redis_url, **config))
    assert first.server.app[HUB].bus.node_id != second.server.app[HUB].bus.node_id
    return first, second


def recorder(*servers):
    events = []

    async def listener(event):
        events.append(event)

    for server in servers:
        server.server.app[HUB].add_listener(listener)
    return events


async def test_citizen_and_officer_on_different_processes_talk_both_ways_in_order(
    aiohttp_client, make_app, redis_url, connect, officer_cookie
):
    first, second = await two_servers(aiohttp_client, make_app, redis_url)
    cookie, _ = await officer_cookie()
    call = await open_call(connect, first, second, cookie)

    await call.citizen.send("offer", sdp=SDP)
    for i in range(20):
        await call.citizen.send(
            "candidate",
            candidate={
                "candidate": f"candidate:{i} 1 udp 1 10.0.0.1 {5000 + i} typ host",
                "sdpMid": "0",
            },
        )
    await call.citizen.send("candidate", candidate=None)
    await call.officer.send("answer", sdp=SDP)
    await call.officer.send("chat", text="I can see you")

    assert (await call.officer.expect("offer"))["sdp"] == SDP
    ports = [(await call.officer.expect("candidate"))["candidate"]["candidate"] for _ in range(20)]
    assert [int(p.split()[5]) for p in ports] == list(range(5000, 5020))
    assert (await call.officer.expect("candidate"))["candidate"] is None
    assert (await call.citizen.expect("answer"))["sdp"] == SDP
    assert (await call.citizen.expect("chat"))["text"] == "I can see you"


async def test_a_citizen_resumes_on_the_other_process_and_gets_what_she_missed(
    aiohttp_client, make_app, redis_url, connect, officer_cookie
):
    first, second = await two_servers(aiohttp_client, make_app, redis_url)
    cookie, _ = await officer_cookie()
    call = await open_call(connect, first, second, cookie)
    await call.citizen.ws.close()
    assert (await call.officer.expect("peer-left"))["side"] == "citizen"
    await call.officer.send("chat", text="while you were away")

    page = await connect(second)  # the load balancer sends her to the other process
    page.resume_token, page.last_seq = call.citizen.resume_token, call.citizen.last_seq
    assert (await page.resume(call.session))["peer"] == "connected"

    assert (await page.expect("chat"))["text"] == "while you were away"
    assert (await call.officer.expect("peer-joined"))["resumed"] is True
    await page.send("chat", text="back")
    assert (await call.officer.expect("chat"))["text"] == "back"


async def test_a_process_that_stops_sends_its_pages_away_and_they_resume_on_another(
    aiohttp_client, make_app, redis_url, connect, officer_cookie
):
    first, second = await two_servers(aiohttp_client, make_app, redis_url, grace_seconds=30)
    cookie, _ = await officer_cookie()
    call = await open_call(connect, first, second, cookie)

    stopping = asyncio.create_task(first.server.close())  # SIGTERM: shutdown, then cleanup
    error = await call.citizen.expect("error")
    assert error["code"] == "going_away" and error["fatal"] is True
    assert await call.citizen.closed() == 1001
    await stopping
    await call.officer.send("chat", text="are you still there?")

    page = await connect(second)
    page.resume_token, page.last_seq = call.citizen.resume_token, call.citizen.last_seq
    await page.resume(call.session)
    assert (await page.expect("chat"))["text"] == "are you still there?"


async def test_a_dropped_side_ends_the_session_once_even_with_two_sweepers(
    aiohttp_client, make_app, redis_url, connect, officer_cookie
):
    first, second = await two_servers(aiohttp_client, make_app, redis_url)
    events = recorder(first, second)
    cookie, _ = await officer_cookie()
    call = await open_call(connect, first, second, cookie)

    await call.citizen.ws.close()
    await until(lambda: any(isinstance(e, SessionEnded) for e in events))
    assert (await call.officer.expect("peer-left"))["side"] == "citizen"
    ended = await call.officer.expect("session-ended")
    await asyncio.sleep(0.3)  # both sweepers have had several turns

    assert ended["reason"] == "dropped" and ended["side"] == "citizen"
    assert [e for e in events if isinstance(e, SessionEnded)] == [
        SessionEnded("s-1", "dropped", "citizen")
    ]


async def test_a_hangup_on_one_process_ends_the_page_on_the_other(
    aiohttp_client, make_app, redis_url, connect, officer_cookie
):
    first, second = await two_servers(aiohttp_client, make_app, redis_url)
    events = recorder(first, second)
    cookie, _ = await officer_cookie()
    call = await open_call(connect, first, second, cookie)

    await call.officer.send("hangup")

    assert (await call.citizen.expect("hangup"))["from"] == "officer"
    assert (await call.citizen.expect("session-ended"))["reason"] == "hangup"
    assert await call.citizen.closed() == 1000
    assert await call.officer.closed() == 1000
    await until(lambda: any(isinstance(e, SessionEnded) for e in events))
    await asyncio.sleep(0.2)  # had the other process reported it too, it would be here by now
    assert [e for e in events if isinstance(e, SessionEnded)] == [
        SessionEnded("s-1", "hangup", "officer")
    ]


async def test_messages_published_while_a_bus_listener_was_away_are_sent_when_it_returns(
    aiohttp_client, make_app, redis_url, connect, officer_cookie
):
    first, second = await two_servers(aiohttp_client, make_app, redis_url)
    cookie, _ = await officer_cookie()
    call = await open_call(connect, first, second, cookie)
    hub = second.server.app[HUB]
    admin = Redis.from_url(redis_url, decode_responses=True)

    await hub.bus.close()  # her process's listener is away (Redis restarting, say)
    assert hub.bus.channel == f"{CHANNEL}:6"
    assert dict(await admin.pubsub_numsub(hub.bus.channel))[hub.bus.channel] == 1
    for text in ("lost one", "lost two"):
        await call.citizen.send("chat", text=text)
    await call.citizen.expect("ack")  # held in Redis; the bus message went nowhere
    await hub.bus.start(hub._on_bus, hub.resync)  # back: resync from the store

    assert (await call.officer.expect("chat"))["text"] == "lost one"
    assert (await call.officer.expect("chat"))["text"] == "lost two"
    await call.citizen.send("chat", text="live again")
    assert (await call.officer.expect("chat"))["text"] == "live again"
    await admin.aclose()


async def test_a_killed_listener_connection_is_noticed_and_nothing_is_lost(
    aiohttp_client, make_app, redis_url, connect, officer_cookie
):
    first, second = await two_servers(aiohttp_client, make_app, redis_url)
    cookie, _ = await officer_cookie()
    call = await open_call(connect, first, second, cookie)
    bus = second.server.app[HUB].bus
    admin = Redis.from_url(redis_url, decode_responses=True)
    name = f"safecall-signaling:{bus.node_id}"
    (listener,) = [c for c in await admin.client_list(_type="pubsub") if c["name"] == name]

    await admin.client_kill_filter(_id=listener["id"])
    for text in ("one", "two", "three"):
        await call.citizen.send("chat", text=text)

    texts = [(await call.officer.expect("chat", wait=15))["text"] for _ in range(3)]
    assert texts == ["one", "two", "three"]  # Page.recv checks: each once, in order
    await until(lambda: bus.reconnects > 0, wait=15)
    await admin.aclose()
