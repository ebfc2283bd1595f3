"""Push instead of polling: the console's and the wallboard's event streams, her place in line.

The officer's console and the wallboard read Server-Sent Events; the citizen's
page gets ``queue`` notices on her signaling socket. Real app, real router,
real sockets; nothing polls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import ClientResponse, web

from officers.auth import COOKIE, start_login
from officers.models import Officer
from safecall.app import create_app
from safecall.settings import Settings
from signaling.console_feed import FEED_CONFIG
from signaling.messages import server_adapter
from tests.support import FakeClock, redis_db

Client = Any
FAST = {"heartbeat": 0.2, "recheck": 0.2, "console_tick": 0.1, "wallboard_tick": 0.1}


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> web.Application:
    """The real app with the feeds' timers short, so heartbeats and re-checks come quickly."""
    app = create_app(settings, clock=clock)
    app[FEED_CONFIG] = dataclasses.replace(app[FEED_CONFIG], **FAST)
    return app


class Stream:
    """A page's ``EventSource``: reads ``event:``/``data:`` blocks and comments."""

    def __init__(self, response: ClientResponse) -> None:
        self.response = response
        self.comments = 0
        self.ids: list[int] = []
        self.latest: dict[str, dict[str, Any]] = {}
        """The last data of each event: what the page shows now."""

    async def next(self, wait: float = 5.0) -> tuple[str, dict[str, Any]]:
        async with asyncio.timeout(wait):
            event, data = "message", ""
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise EOFError("the stream ended")
                line = raw.decode().rstrip("\n")
                if line == "":
                    if data:
                        parsed: dict[str, Any] = json.loads(data)
                        self.latest[event] = parsed
                        return event, parsed
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "":
                    self.comments += 1
                elif field == "event":
                    event = value
                elif field == "data":
                    data += value
                elif field == "id":
                    self.ids.append(int(value))

    async def until(
        self, event: str, check: Any = lambda data: True, wait: float = 5.0
    ) -> dict[str, Any]:
        """What the page shows for ``event`` once it passes ``check`` (already, or later)."""
        shown = self.latest.get(event)
        if shown is not None and check(shown):
            return shown
        async with asyncio.timeout(wait):
            while True:
                name, data = await self.next()
                if name == event and check(data):
                    return data


async def open_stream(client: Client, path: str) -> Stream:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-store"
    return Stream(response)


async def start_contact(client: Client, **fields: Any) -> dict[str, Any]:
    body = {"service_line": "women", "channel": "video", **fields}
    response = await client.post("/api/contacts", json=body)
    assert response.status == 201, await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def available(officer_client: Client) -> None:
    response = await officer_client.post("/api/queues/me/state", json={"state": "available"})
    assert response.status == 200, await response.text()


# --- who may listen ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/console/events", "/api/wallboard/events"])
async def test_the_streams_need_a_login(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "not_logged_in"


async def test_the_wallboard_is_for_supervisors_and_admins(login_as: Any) -> None:
    officer, _ = await login_as("officer")
    response = await officer.get("/api/wallboard/events")
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
    for role in ("supervisor", "admin"):
        manager, _ = await login_as(role)
        stream = await open_stream(manager, "/api/wallboard/events")
        assert (await stream.next())[0] == "lines"
        stream.response.close()


async def test_the_wallboard_page_is_a_frame_whose_feed_is_for_supervisors(
    client: Client, login_as: Any
) -> None:
    # The page holds nothing; its feed is what only supervisors and admins may read.
    assert (await client.get("/api/wallboard/events")).status == 401
    officer, _ = await login_as("officer")
    assert (await officer.get("/api/wallboard/events")).status == 403
    page = await client.get("/console/wallboard")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    body = await page.text()
    assert "/static/wallboard.js" in body and "<script>" not in body
    for name in ("wallboard.js", "wallboard.css", "console-case.js"):
        assert (await client.get(f"/static/{name}")).status == 200


async def test_the_streams_are_in_the_openapi_document(openapi: Any) -> None:
    paths = openapi.document["paths"]
    for path in ("/api/console/events", "/api/wallboard/events"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert "text/event-stream" in content


# --- the officer's console -----------------------------------------------------------------


async def test_the_console_stream_starts_with_a_snapshot(login_as: Any) -> None:
    officer_client, officer = await login_as("officer")
    stream = await open_stream(officer_client, "/api/console/events")
    name, me = await stream.next()
    assert name == "me"
    assert me["officer_id"] == officer.id
    assert me["state"] == "offline" and me["offer"] is None
    assert isinstance(me["server_time"], float)
    name, figures = await stream.next()
    assert name == "figures"
    assert {line["line"] for line in figures["lines"]} == {"women", "child"}
    assert stream.ids == [1, 2]  # numbered, as EventSource expects


async def test_an_offer_is_pushed_with_its_expiry_the_moment_she_is_chosen(
    client: Client, login_as: Any, clock: FakeClock
) -> None:
    officer_client, _ = await login_as("officer", skills={"harassment": 3})
    stream = await open_stream(officer_client, "/api/console/events")
    await stream.until("me")
    await available(officer_client)
    await stream.until("me", lambda me: me["state"] == "available")

    data = await start_contact(client, channel="chat", category="harassment", language="en")
    me = await stream.until("me", lambda me: me["offer"] is not None)
    offer = me["offer"]
    assert offer["task_id"] == data["session_id"]
    assert offer["channel"] == "chat" and offer["line"] == "women"
    assert offer["category"] == "harassment" and offer["language"] == "en"
    assert offer["silent"] is True
    assert offer["expires"] > me["server_time"] >= clock().timestamp() - 1
    assert me["state"] == "offered"
    assert "name" not in json.dumps(offer)  # nothing about who she is

    # Declining withdraws it from her console at once.
    declined = await officer_client.post(f"/api/queues/offers/{data['session_id']}/decline")
    assert declined.status == 200
    me = await stream.until("me", lambda me: me["offer"] is None)
    assert me["state"] == "available"


async def test_queue_figures_follow_the_line(client: Client, login_as: Any) -> None:
    officer_client, _ = await login_as("officer")
    stream = await open_stream(officer_client, "/api/console/events")
    figures = await stream.until("figures")
    women = next(line for line in figures["lines"] if line["line"] == "women")
    assert women["waiting"] == 0

    def waiting(figures: dict[str, Any]) -> dict[str, int]:
        return {line["line"]: line["waiting"] for line in figures["lines"]}

    await start_contact(client)  # nobody is available: she waits
    figures = await stream.until("figures", lambda f: waiting(f)["women"] == 1)
    women = next(line for line in figures["lines"] if line["line"] == "women")
    assert women["alarm"] is True  # nobody who may answer is on duty
    assert waiting(figures) == {"women": 1, "child": 0}

    await start_contact(client, service_line="child", channel="audio")
    figures = await stream.until("figures", lambda f: waiting(f)["child"] == 1)
    assert waiting(figures) == {"women": 1, "child": 1}


async def test_a_page_from_a_supervisor_reaches_her_console(login_as: Any) -> None:
    officer_client, officer = await login_as("officer")
    supervisor, _ = await login_as("supervisor")
    stream = await open_stream(officer_client, "/api/console/events")
    await available(officer_client)
    response = await supervisor.post(f"/api/queues/officers/{officer.id}/page")
    assert response.status == 204
    page = await stream.until("page")
    assert "supervisor" in page["message"]


async def test_heartbeats_keep_the_stream_alive_and_an_ended_login_closes_it(
    login_as: Any, clock: FakeClock
) -> None:
    officer_client, _ = await login_as("officer")
    stream = await open_stream(officer_client, "/api/console/events")
    await stream.next()
    await stream.next()
    # Nothing changes: only keep-alive comments flow.
    for _ in range(50):
        if stream.comments:
            break
        try:
            await stream.next(wait=0.1)
        except TimeoutError:
            pass
    assert stream.comments > 0
    clock.advance(13 * 3600)  # past the login's end (12 hours)
    logout = await stream.until("logout")
    assert "log in" in logout["message"]
    with pytest.raises(EOFError):
        await stream.next()


# --- the wallboard -------------------------------------------------------------------------


async def test_the_wallboard_shows_figures_alarms_and_officers_as_they_change(
    client: Client, login_as: Any
) -> None:
    supervisor, _ = await login_as("supervisor", lines=["women"])
    stream = await open_stream(supervisor, "/api/wallboard/events")
    lines = await stream.until("lines")
    assert {line["line"] for line in lines["lines"]} == {"women", "child"}
    women = next(line for line in lines["lines"] if line["line"] == "women")
    assert women["female_only"] is True
    assert (await stream.until("alarms"))["alarms"] == []

    # She waits on the women's line; only a man is on duty there: the alarm is raised.
    man_client, man = await login_as("officer", gender="male", lines=["women", "child"])
    await available(man_client)
    await start_contact(client)
    lines = await stream.until(
        "lines", lambda d: next(x for x in d["lines"] if x["line"] == "women")["waiting"] == 1
    )
    women = next(line for line in lines["lines"] if line["line"] == "women")
    assert women["alarm"] is True and women["estimated_wait"] is None
    alarms = await stream.until("alarms", lambda a: a["alarms"] != [])
    assert alarms["alarms"][0]["line"] == "women"
    assert "female officer" in alarms["alarms"][0]["message"]
    officers = await stream.until("officers", lambda d: len(d["officers"]) == 1)
    assert officers["officers"][0]["id"] == man.id
    assert officers["officers"][0]["state"] == "available"
    assert officers["officers"][0]["name"] == man.name

    # A woman comes on duty: the contact is offered to her, the alarm clears.
    woman_client, woman = await login_as("officer", lines=["women"])
    await available(woman_client)
    await stream.until("alarms", lambda a: a["alarms"] == [])
    officers = await stream.until(
        "officers",
        lambda d: any(o["id"] == woman.id and o["state"] == "offered" for o in d["officers"]),
    )
    states = {o["id"]: o["state"] for o in officers["officers"]}
    assert states == {man.id: "available", woman.id: "offered"}


# --- her place in line, on her socket -------------------------------------------------------


async def _frames(ws: Any, kind: str, wait: float = 5.0) -> dict[str, Any]:
    """The next frame of ``kind`` (others skipped), each checked against the schema."""
    async with asyncio.timeout(wait):
        while True:
            text = await ws.receive_str()
            server_adapter.validate_json(text)
            message: dict[str, Any] = json.loads(text)
            if message["type"] == kind:
                return message


@pytest.fixture
async def sockets(client: Client) -> AsyncIterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for ws in opened:
        await ws.close()


async def join(client: Client, sockets: list[Any], contact: dict[str, Any]) -> Any:
    ws = await client.ws_connect("/ws")
    sockets.append(ws)
    await ws.send_json(
        {"v": 1, "type": "join", "session": contact["session_id"], "token": contact["token"]}
    )
    return ws


async def test_her_place_in_line_is_pushed_on_her_socket_as_it_changes(
    client: Client, login_as: Any, sockets: list[Any]
) -> None:
    first = await start_contact(client, channel="chat")
    second = await start_contact(client, channel="chat")
    ws_first = await join(client, sockets, first)
    ws_second = await join(client, sockets, second)

    # At once after joining: her place and status.
    assert (await _frames(ws_second, "joined"))["side"] == "citizen"
    notice = await _frames(ws_second, "queue")
    assert notice["status"] == "waiting" and notice["position"] == 2
    assert notice["estimated_wait"] is None  # nobody on duty: no honest estimate
    assert (await _frames(ws_first, "queue"))["position"] == 1

    # The first leaves: the second moves up, without asking. (A push of the place she
    # already had may come first, when her own join and the first's cross; it says 2.)
    await ws_first.send_json({"v": 1, "type": "hangup", "seq": 1})
    notice = await _frames(ws_second, "queue")
    while notice["status"] == "waiting" and notice["position"] == 2:
        notice = await _frames(ws_second, "queue")
    assert notice["status"] == "waiting" and notice["position"] == 1

    # An officer comes on duty: she is offered, then accepted.
    officer_client, _ = await login_as("officer")
    await available(officer_client)
    notice = await _frames(ws_second, "queue")
    assert notice == {
        "v": 1,
        "type": "queue",
        "status": "offered",
        "position": None,
        "estimated_wait": None,
    }
    accepted = await officer_client.post(f"/api/queues/offers/{second['session_id']}/accept")
    assert accepted.status == 200
    assert (await _frames(ws_second, "queue"))["status"] == "assigned"


async def test_an_estimate_is_pushed_when_someone_may_answer(
    client: Client, login_as: Any, sockets: list[Any]
) -> None:
    officer_client, _ = await login_as("officer", lines=["child"])
    await available(officer_client)
    taken = await start_contact(client, service_line="child", channel="chat")  # offered to her
    waiting = await start_contact(client, service_line="child", channel="chat")
    ws = await join(client, sockets, waiting)
    notice = await _frames(ws, "queue")
    assert notice["position"] == 1
    assert isinstance(notice["estimated_wait"], float) and notice["estimated_wait"] > 0
    # The GET answer (a page without a socket) agrees with the push.
    place = await client.get(
        f"/api/contacts/{waiting['session_id']}",
        headers={"Authorization": f"Bearer {waiting['token']}"},
    )
    body = await place.json()
    assert body["position"] == 1 and body["estimated_wait"] == notice["estimated_wait"]
    assert taken["session_id"] != waiting["session_id"]


# --- several server processes ----------------------------------------------------------------

REDIS_URL = redis_db(14)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """Redis db 14 (the calls tests'), empty before and after the test."""
    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    yield REDIS_URL
    await client.flushdb()
    await client.aclose()


async def test_pushes_cross_server_processes_through_redis(
    aiohttp_client: Any,
    settings: Settings,
    clock: FakeClock,
    db: Any,
    redis_url: str,
    sockets: list[Any],
) -> None:
    """Her page on one process, the officer's console on another: both are told."""
    shared = dataclasses.replace(settings, redis_url=redis_url)
    citizen_side = await aiohttp_client(create_app(shared, clock=clock))
    officer_side = await aiohttp_client(create_app(shared, clock=clock))
    async with db() as session:
        officer = Officer(
            badge="R-1",
            name="Redis officer",
            role="officer",
            gender="female",
            languages=["ur"],
            skills={},
            lines=["women"],
            password_hash="not-a-hash",
        )
        session.add(officer)
        await session.flush()
        token = await start_login(session, officer, "127.0.0.1", clock(), 12)
        await session.commit()
    officer_side.session.cookie_jar.update_cookies({COOKIE: token})

    stream = await open_stream(officer_side, "/api/console/events")
    await stream.until("me")
    contact = await start_contact(citizen_side, channel="chat")
    ws = await join(citizen_side, sockets, contact)
    notice = await _frames(ws, "queue")
    assert notice["status"] == "waiting" and notice["position"] == 1
    figures = await stream.until("figures", lambda f: f["lines"][0]["waiting"] == 1)
    assert figures["lines"][0]["line"] == "women"

    await available(officer_side)
    me = await stream.until("me", lambda me: me["offer"] is not None)
    assert me["offer"]["task_id"] == contact["session_id"]
    # Her process may repeat what it told her (it heard the arrival from the stream after
    # she joined); it must never tell her anything else before the offer.
    notice = await _frames(ws, "queue")
    while notice["status"] == "waiting":
        assert notice["position"] == 1
        notice = await _frames(ws, "queue")
    assert notice["status"] == "offered"


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_every_waiting_page_is_told_her_true_place_whatever_leaves(
    client: Client, sockets: list[Any], seed: int, database_url: str
) -> None:
    """Contacts arrive and leave in a random order; after each step, what each waiting page
    was last pushed is what ``GET /api/contacts/{id}`` answers, and the places are 1..n."""
    if "postgresql" in database_url:
        pytest.skip("the pushes do not depend on the database; SQLite is enough")
    rng = random.Random(seed)
    latest: dict[str, dict[str, Any]] = {}
    readers: list[asyncio.Task[None]] = []

    async def read(session_id: str, ws: Any) -> None:
        async for frame in ws:
            message = json.loads(frame.data)
            if message["type"] == "queue":
                latest[session_id] = message

    waiting: dict[str, tuple[dict[str, Any], Any]] = {}
    for step in range(14):
        if waiting and (len(waiting) >= 6 or rng.random() < 0.4):
            session_id = rng.choice(sorted(waiting))
            leaver, ws = waiting.pop(session_id)
            await ws.send_json({"v": 1, "type": "hangup", "seq": 1})
            for _ in range(500):  # she leaves the line once her contact has ended
                place = await client.get(
                    f"/api/contacts/{session_id}",
                    headers={"Authorization": f"Bearer {leaver['token']}"},
                )
                if (await place.json())["status"] != "waiting":
                    break
                await asyncio.sleep(0.01)
        else:
            contact = await start_contact(client, channel="chat")
            ws = await join(client, sockets, contact)
            waiting[contact["session_id"]] = (contact, ws)
            readers.append(asyncio.create_task(read(contact["session_id"], ws)))
        truth = {}
        for session_id, (contact, _) in waiting.items():
            place = await client.get(
                f"/api/contacts/{session_id}",
                headers={"Authorization": f"Bearer {contact['token']}"},
            )
            truth[session_id] = await place.json()
        assert sorted(t["position"] for t in truth.values()) == list(range(1, len(truth) + 1))

        def told(truth: dict[str, Any] = truth) -> bool:
            return all(
                session_id in latest
                and {k: latest[session_id][k] for k in ("status", "position", "estimated_wait")}
                == place
                for session_id, place in truth.items()
            )

        for _ in range(500):
            if told():
                break
            await asyncio.sleep(0.01)
        assert told(), f"step {step}: pushed {latest}, true {truth}"
    for reader in readers:
        reader.cancel()
