"""A server process told to stop (SIGTERM), and a session store that fails mid-call.

Each test runs real ``safecall serve`` processes (tests/calls/servers.py) and
talks to them as a page does: ``POST /api/contacts``, then ``/ws``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import ContactSession
from safecall.settings import Settings
from signaling.errors import SignalingError
from signaling.routes import HUB
from tests.browser import browser
from tests.calls.media import arm_first_frames, first_frames, media_flows
from tests.calls.servers import REDIS_URL, Served, serve
from tests.calls.test_call import (
    DESKTOP,
    PHONE,
    log_in,
    make_officer,
    open_page,
    wait_for_end,
)
from tests.support import copy_sqlite

__all__ = ["browser"]
Db = async_sessionmaker[AsyncSession]
INTAKE = {"service_line": "women", "channel": "video"}


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: what is tested here is the process, not the database."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    yield REDIS_URL
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def servers() -> AsyncIterator[list[Served]]:
    started: list[Served] = []
    yield started
    for served in started:
        served.stop()


@pytest.fixture
async def login_as_on(db: Db) -> AsyncIterator[Callable[[Served], Awaitable[Any]]]:
    """``officer = await login_as_on(server)``: an officer logged in on a served process (a
    browser: a client session with her login cookie, on that process's address)."""
    from officers.auth import COOKIE, start_login
    from officers.models import Officer
    from safecall.db import utcnow

    sessions: list[aiohttp.ClientSession] = []

    async def login(server: Served) -> aiohttp.ClientSession:
        async with db() as session:
            officer = Officer(
                badge=f"R-{len(sessions) + 1}",
                name="Resilience officer",
                role="officer",
                gender="female",
                languages=["ur", "en"],
                skills={},
                lines=["women", "child"],
                password_hash="not-a-hash",
            )
            session.add(officer)
            await session.flush()
            token = await start_login(session, officer, "127.0.0.1", utcnow(), 12)
            await session.commit()
        page = aiohttp.ClientSession(base_url=server.url, cookies={COOKIE: token})
        sessions.append(page)
        return page

    yield login
    for page in sessions:
        await page.close()


async def start_contact(http: aiohttp.ClientSession, server: Served) -> dict[str, Any]:
    async with http.post(server.url + "/api/contacts", json=INTAKE) as response:
        assert response.status == 201, await response.text()
        data: dict[str, Any] = await response.json()
        return data


async def send(ws: aiohttp.ClientWebSocketResponse, type: str, **fields: Any) -> None:
    await ws.send_str(json.dumps({"v": 1, "type": type, **fields}))


async def expect(
    ws: aiohttp.ClientWebSocketResponse, kind: str, wait: float = 10
) -> dict[str, Any]:
    """The next frame of type ``kind``, skipping acks and queue news."""
    while True:
        frame = await ws.receive(timeout=wait)
        assert frame.type is aiohttp.WSMsgType.TEXT, f"expected {kind}, got {frame}"
        message: dict[str, Any] = json.loads(frame.data)
        if message["type"] == kind:
            return message
        assert message["type"] in ("ack", "queue"), f"expected {kind}, got {message}"


async def close_code(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    while (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.TEXT:
        pass
    return ws.close_code


async def contacts(db: Db) -> list[ContactSession]:
    async with db() as session:
        return list((await session.execute(select(ContactSession))).scalars())


async def draining(http: aiohttp.ClientSession, server: Served) -> None:
    """Until the process says it is stopping (``GET /ws`` without an upgrade has no effect)."""
    for _ in range(200):
        async with http.get(server.url + "/ws") as response:
            if response.status == 503:
                return
            assert response.status == 400  # not_websocket: still taking sockets
        await asyncio.sleep(0.02)
    raise AssertionError("the process never started draining")


async def test_sigterm_alone_refuses_new_contacts_and_waits_for_the_call_in_progress(
    settings: Settings, tmp_path: Path, db: Db, http: aiohttp.ClientSession, servers: list[Served]
) -> None:
    server = await serve(settings, tmp_path)
    servers.append(server)
    her = await start_contact(http, server)
    ws = await http.ws_connect(server.url + "/ws")
    await send(ws, "join", session=her["session_id"], token=her["token"])
    await expect(ws, "joined")

    server.terminate()
    await draining(http, server)
    async with http.post(server.url + "/api/contacts", json=INTAKE) as response:
        assert response.status == 503 and response.headers["Retry-After"] == "1"
        assert (await response.json())["error"]["code"] == "going_away"
    with pytest.raises(aiohttp.WSServerHandshakeError) as no_socket:
        await http.ws_connect(server.url + "/ws")
    assert no_socket.value.status == 503
    # Her call goes on: the process still reads her socket, and waits for her.
    await send(ws, "ping", nonce=41)
    assert (await expect(ws, "pong"))["nonce"] == 41
    await send(ws, "chat", seq=1, text="are you still there?")
    assert (await expect(ws, "ack"))["seq"] == 1
    assert server.process.poll() is None

    await send(ws, "hangup", seq=2)
    assert (await expect(ws, "session-ended"))["reason"] == "hangup"
    assert await close_code(ws) == 1000
    assert await server.exited() == 0
    # The ending was written before the process let its database go; what was
    # refused left nothing behind.
    (contact,) = await contacts(db)
    assert contact.id == her["session_id"]
    assert contact.ended_at is not None and contact.disposition == "abandoned"


async def test_sigterm_with_redis_sends_pages_away_and_another_process_takes_them(
    settings: Settings,
    tmp_path: Path,
    db: Db,
    http: aiohttp.ClientSession,
    servers: list[Served],
    redis_url: str,
) -> None:
    first = await serve(settings, tmp_path, redis_url)
    second = await serve(settings, tmp_path, redis_url)
    servers += [first, second]
    her = await start_contact(http, first)
    ws = await http.ws_connect(first.url + "/ws")
    await send(ws, "join", session=her["session_id"], token=her["token"])
    joined = await expect(ws, "joined")
    await send(ws, "chat", seq=1, text="I am waiting")
    assert (await expect(ws, "ack"))["seq"] == 1

    first.terminate()
    error = await expect(ws, "error")
    assert error["code"] == "going_away" and error["fatal"] is True
    assert await close_code(ws) == 1001
    assert await first.exited() == 0

    # Her page reconnects, to the process that is still there, and resumes.
    ws = await http.ws_connect(second.url + "/ws")
    await send(
        ws,
        "resume",
        session=her["session_id"],
        resume_token=joined["resume_token"],
        last_seq=0,
    )
    back = await expect(ws, "joined")
    assert back["side"] == "citizen" and back["last_seq"] == 1
    # She is still in line, where she was: nothing waiting was lost.
    place = await http.get(
        f"{second.url}/api/contacts/{her['session_id']}",
        headers={"Authorization": f"Bearer {her['token']}"},
    )
    assert (await place.json())["status"] == "waiting"
    (contact,) = await contacts(db)
    assert contact.ended_at is None
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(ContactSession)) == 1
    await ws.close()


async def test_a_killed_process_s_sides_are_marked_away_by_another_and_the_call_ends_dropped(
    settings: Settings,
    tmp_path: Path,
    db: Db,
    http: aiohttp.ClientSession,
    servers: list[Served],
    redis_url: str,
    login_as_on: Any,
) -> None:
    """Issue 14, D3: her socket died with its process (SIGKILL). The process still alive
    sees its heartbeat stop, marks her side away (the officer is told), and when she does
    not come back the call ends as dropped: not "connected" forever."""
    quick = {"call_grace_seconds": "1", "node_ttl_seconds": "1"}
    first = await serve(settings, tmp_path, redis_url, **quick)
    second = await serve(settings, tmp_path, redis_url, **quick)
    servers += [first, second]
    her = await start_contact(http, first)
    ws = await http.ws_connect(first.url + "/ws")
    await send(ws, "join", session=her["session_id"], token=her["token"])
    await expect(ws, "joined")

    officer = await login_as_on(second)
    await officer.post("/api/queues/me/state", json={"state": "available"})
    accepted = await officer.post(f"/api/queues/offers/{her['session_id']}/accept")
    assert accepted.status == 200, await accepted.text()
    answer = await (await officer.post(f"/api/contacts/{her['session_id']}/answer")).json()
    seat = await officer.ws_connect("/ws")
    await send(seat, "join", session=her["session_id"], token=answer["token"])
    assert (await expect(seat, "joined"))["peer"] == "connected"

    first.stop()  # SIGKILL: her socket dies with the process, nobody marks her away there
    left = await expect(seat, "peer-left", wait=30)
    assert left["side"] == "citizen"
    ended = await expect(seat, "session-ended", wait=30)
    assert ended["reason"] == "dropped"
    for _ in range(300):
        (contact,) = await contacts(db)
        if contact.ended_at is not None:
            break
        await asyncio.sleep(0.05)
    assert contact.disposition == "dropped"
    await seat.close()


# ---- in the browser ---------------------------------------------------------------------

UFRAG = "(pc) => pc.remoteDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]"


async def answered_call(client: Any, db: Db, browser: Any, badge: str) -> tuple[Any, ...]:
    """A video call from the citizen page to a console, with media flowing both ways."""
    await make_officer(db, badge)
    citizen_ctx, citizen, problems = await open_page(browser, str(client.make_url("/")), PHONE)
    console_ctx, console, _ = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await log_in(console, badge)
    await console.get_by_test_id("status-available").click()
    await citizen.get_by_test_id("start-video").click()
    await console.get_by_test_id("offer").wait_for(state="visible")
    await arm_first_frames(console, citizen)
    await console.get_by_test_id("accept").click()
    took = await first_frames(console, citizen)
    # A figure for the closing note, not an assertion: this machine is shared.
    print(f"accept to first decoded frame on both sides: {took:.3f} s")
    await media_flows(console)
    await media_flows(citizen)
    return citizen_ctx, citizen, console_ctx, console, problems


@pytest.mark.browser
async def test_her_socket_drops_mid_call_she_resumes_and_the_call_goes_on(
    client: Any, db: Db, browser: Any
) -> None:
    citizen_ctx, citizen, console_ctx, console, problems = await answered_call(
        client, db, browser, "LHR-401"
    )
    session_id = await citizen.evaluate("() => window.safecallCall.id")
    ufrag = await citizen.evaluate(f"() => ({UFRAG})(window.safecallCall.pc)")

    await citizen.evaluate("() => window.safecallCall.ws.close()")  # her network changes

    await citizen.wait_for_function("() => window.safecallCall.resumes === 1", timeout=20_000)
    assert await citizen.evaluate("() => window.safecallCall.id") == session_id
    # The officer's console, the offerer, restarted ICE: new credentials reached her.
    await console.wait_for_function("() => window.safecallCall.restarts >= 1", timeout=20_000)
    await citizen.wait_for_function(
        f"() => ({UFRAG})(window.safecallCall.pc) !== {json.dumps(ufrag)}", timeout=20_000
    )
    await media_flows(citizen)
    await media_flows(console)
    await citizen.get_by_test_id("chat-input").fill("back again")
    await citizen.get_by_test_id("chat-send").click()
    await console.get_by_text("back again").wait_for()

    # The server sends her socket away (as a stopping process does): she resumes again.
    hub = client.server.app[HUB]
    await hub.local[(session_id, "citizen")].refuse(SignalingError("going_away"))
    await citizen.wait_for_function("() => window.safecallCall.resumes === 2", timeout=20_000)
    # The officer's socket drops: the console resumes and restarts ICE itself.
    restarts = await console.evaluate("() => window.safecallCall.restarts")
    ufrag = await citizen.evaluate(f"() => ({UFRAG})(window.safecallCall.pc)")
    await console.evaluate("() => window.safecallCall.ws.close()")
    await console.wait_for_function("() => window.safecallCall.resumes === 1", timeout=20_000)
    await console.wait_for_function(
        f"() => window.safecallCall.restarts > {restarts}", timeout=20_000
    )
    await citizen.wait_for_function(
        f"() => ({UFRAG})(window.safecallCall.pc) !== {json.dumps(ufrag)}", timeout=20_000
    )
    await media_flows(citizen)
    await media_flows(console)

    await console.get_by_test_id("hangup").click()
    await citizen.locator("#ended").wait_for(state="visible")
    contact = await wait_for_end(db, session_id)
    assert contact.disposition == "answered"  # not dropped
    assert problems == []
    await citizen_ctx.close()
    await console_ctx.close()


NO_CAMERA = """(() => {
  const devices = navigator.mediaDevices;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => constraints && constraints.video
    ? Promise.reject(new DOMException("Permission denied", "NotAllowedError"))
    : original(constraints);
})();"""
"""The camera is refused (the microphone is not), as when she says no to the camera."""

AUDIO_ONLY = "() => document.querySelector('[data-testid=remote-video]').dataset.audioOnly"


async def refuse_camera(context: Any, page: Any) -> None:
    await context.add_init_script(NO_CAMERA)
    await page.reload()


@pytest.mark.browser
async def test_her_camera_refused_the_call_goes_on_with_sound_and_she_is_told(
    client: Any, db: Db, browser: Any
) -> None:
    await make_officer(db, "LHR-411")
    citizen_ctx, citizen, problems = await open_page(browser, str(client.make_url("/")), PHONE)
    console_ctx, console, _ = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await refuse_camera(citizen_ctx, citizen)

    await citizen.get_by_test_id("start-video").click()
    await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
    assert "sound only" in (await citizen.locator("#call-state").text_content() or "")
    await log_in(console, "LHR-411")
    await console.get_by_test_id("status-available").click()
    await console.get_by_test_id("offer").wait_for(state="visible")
    assert "Voice call" in (await console.get_by_test_id("offer").text_content() or "")
    await console.get_by_test_id("accept").click()
    await media_flows(console, video=False)
    await media_flows(citizen, video=False)

    await citizen.get_by_test_id("hangup").click()
    await citizen.get_by_test_id("hangup-confirm").click()  # End asks first
    session_id = await citizen.evaluate("() => window.safecallCall.id")
    contact = await wait_for_end(db, session_id)
    assert contact.channel == "browser_audio" and contact.disposition == "answered"
    assert problems == []
    await citizen_ctx.close()
    await console_ctx.close()


@pytest.mark.browser
async def test_when_no_video_gets_through_each_side_shows_a_sound_only_call(
    client: Any, db: Db, browser: Any
) -> None:
    await make_officer(db, "LHR-421")
    citizen_ctx, citizen, problems = await open_page(browser, str(client.make_url("/")), PHONE)
    console_ctx, console, _ = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await refuse_camera(console_ctx, console)  # the officer's camera is refused
    await log_in(console, "LHR-421")
    await console.get_by_test_id("status-available").click()
    await citizen.get_by_test_id("start-video").click()
    await console.get_by_test_id("offer").wait_for(state="visible")
    await console.get_by_test_id("accept").click()

    # The console goes on with its microphone; her page sees no video and says so.
    await media_flows(console)  # her video reaches the officer
    await media_flows(citizen, video=False)
    await citizen.wait_for_function(f"() => ({AUDIO_ONLY})() === 'true'", timeout=30_000)
    assert "sound only" in (await citizen.locator("#call-state").text_content() or "")
    assert await console.evaluate(AUDIO_ONLY) != "true"

    # Her video stops getting through too (here: her page stops sending it).
    await citizen.evaluate(
        "() => window.safecallCall.pc.getSenders()"
        ".find((s) => s.track && s.track.kind === 'video').replaceTrack(null)"
    )
    await console.wait_for_function(f"() => ({AUDIO_ONLY})() === 'true'", timeout=30_000)
    assert "sound only" in (await console.get_by_test_id("call-state").text_content() or "")
    await media_flows(console, video=False)  # the call itself goes on

    await console.get_by_test_id("hangup").click()
    await citizen.locator("#ended").wait_for(state="visible")
    assert problems == []
    await citizen_ctx.close()
    await console_ctx.close()
