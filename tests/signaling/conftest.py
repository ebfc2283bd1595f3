"""Signaling fixtures: apps with a short grace period, pages (WebSockets), Redis db 6.

A :class:`Page` is what a browser page does on the socket: it numbers what
it sends, checks every frame the server sends against the documented schema,
and acknowledges on request. Apps are the real app (``create_app``) with
signaling's config adjusted before start; several apps sharing one database
(and Redis) play several server processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from officers.auth import COOKIE, start_login
from officers.models import Officer
from safecall.app import create_app
from safecall.settings import Settings
from signaling.messages import RELAYED_TYPES, server_adapter
from signaling.routes import CONFIG, HUB
from tests.support import FakeClock, redis_db

REDIS_URL = redis_db(6)
FAST = {"grace_seconds": 0.4, "sweep_seconds": 0.05, "ack_delay_seconds": 0.005}
"""Short timers so grace-period tests take a fraction of a second."""


class Closed(Exception):
    """The server closed the socket."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


class Page:
    """One page's WebSocket, speaking the protocol as docs/signaling.md tells pages to."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seq = 0
        """The last seq this page numbered."""
        self.last_seq = 0
        """The last server seq this page processed."""
        self.resume_token = ""
        self.side = ""

    async def send(self, type: str, **fields: Any) -> int:
        """Send a message; relayed ones get the next seq (returned)."""
        if type in RELAYED_TYPES and "seq" not in fields:
            self.seq += 1
            fields["seq"] = self.seq
        await self.ws.send_str(json.dumps({"v": 1, "type": type, **fields}))
        return int(fields.get("seq", 0))

    async def send_raw(self, text: str) -> None:
        await self.ws.send_str(text)

    async def recv(self, wait: float = 5.0) -> dict[str, Any]:
        """The next frame, checked against the server message schema."""
        frame = await self.ws.receive(timeout=wait)
        if frame.type is WSMsgType.CLOSE:
            raise Closed(
                frame.data
            )  # the code in the server's close frame, as a browser reports it
        if frame.type is not WSMsgType.TEXT:
            raise Closed(self.ws.close_code)
        server_adapter.validate_json(frame.data)  # every frame matches the documentation
        message: dict[str, Any] = json.loads(frame.data)
        seq = message.get("seq")
        if message["type"] not in ("ack", "error", "pong") and isinstance(seq, int):
            assert seq == self.last_seq + 1, f"server seq {seq} after {self.last_seq}"
            self.last_seq = seq
        return message

    async def expect(self, *types: str, wait: float = 5.0) -> dict[str, Any]:
        """The next frame of one of ``types``, skipping acks unless asked for."""
        while True:
            message = await self.recv(wait)
            if message["type"] in types:
                return message
            assert message["type"] == "ack", f"expected {types}, got {message}"

    async def ack(self) -> None:
        await self.send("ack", seq=self.last_seq)

    async def join(self, session: str, token: str) -> dict[str, Any]:
        await self.send("join", session=session, token=token)
        joined = await self.expect("joined")
        self.resume_token, self.side = joined["resume_token"], joined["side"]
        return joined

    async def resume(self, session: str) -> dict[str, Any]:
        await self.send(
            "resume", session=session, resume_token=self.resume_token, last_seq=self.last_seq
        )
        return await self.expect("joined")

    async def closed(self, wait: float = 5.0) -> int | None:
        """Read until the server closes; its close code."""
        while True:
            try:
                await self.recv(wait)
            except Closed as exc:
                return exc.code


Connect = Callable[..., Awaitable[Page]]


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """Redis db 6, empty before and after the test."""
    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    yield REDIS_URL
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def make_app(settings: Settings, clock: FakeClock) -> Callable[..., web.Application]:
    """``make_app(redis_url=None, **config)``: the real app, signaling config adjusted."""

    def make(redis_url: str | None = None, **config: Any) -> web.Application:
        app = create_app(dataclasses.replace(settings, redis_url=redis_url), clock)
        app[CONFIG] = dataclasses.replace(app[CONFIG], **{**FAST, **config})
        return app

    return make


@pytest.fixture
async def server(
    aiohttp_client: Any, make_app: Callable[..., web.Application]
) -> TestClient[Any, Any]:
    """One server process, sessions in memory."""
    client: TestClient[Any, Any] = await aiohttp_client(make_app())
    return client


@pytest.fixture
async def officer_cookie(
    db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> Callable[..., Awaitable[tuple[str, int]]]:
    """``token, officer_id = await officer_cookie()``: a logged-in officer's cookie value."""
    counter = iter(range(1, 1000))

    async def make(**fields: Any) -> tuple[str, int]:
        n = next(counter)
        values: dict[str, Any] = {
            "badge": f"S-{n}",
            "name": f"Signaling officer {n}",
            "role": "officer",
            "gender": "female",
            "languages": ["ur"],
            "skills": {},
            "lines": ["women"],
            "password_hash": "not-a-hash",
            **fields,
        }
        async with db() as session:
            officer = Officer(**values)
            session.add(officer)
            await session.flush()
            token = await start_login(session, officer, "127.0.0.1", clock(), 12)
            await session.commit()
            return token, officer.id

    return make


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """``page = await connect(server, cookie=None)``: a page's WebSocket, closed after the test."""
    pages: list[Page] = []

    async def open_page(
        client: TestClient[Any, Any], cookie: str | None = None, **kwargs: Any
    ) -> Page:
        headers = kwargs.pop("headers", {})
        if cookie is not None:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        ws = await client.ws_connect("/ws", headers=headers, **kwargs)
        page = Page(ws)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        await page.ws.close()


@dataclasses.dataclass
class Call:
    """A session with both pages joined."""

    session: str
    citizen: Page
    officer: Page
    citizen_token: str
    officer_token: str


async def open_call(
    connect: Connect,
    citizen_server: TestClient[Any, Any],
    officer_server: TestClient[Any, Any],
    cookie: str,
    session: str = "s-1",
    officer_id: int | None = None,
) -> Call:
    """Open a session on ``citizen_server``'s hub; the citizen joins there, the officer on hers."""
    hub = citizen_server.server.app[HUB]
    citizen_token, officer_token = await hub.open_session(session, officer_id)
    citizen = await connect(citizen_server)
    joined = await citizen.join(session, citizen_token)
    assert joined["side"] == "citizen" and joined["peer"] == "not_joined"
    officer = await connect(officer_server, cookie=cookie)
    joined = await officer.join(session, officer_token)
    assert joined["side"] == "officer" and joined["peer"] == "connected"
    peer = await citizen.expect("peer-joined")
    assert peer["side"] == "officer" and peer["resumed"] is False
    return Call(session, citizen, officer, citizen_token, officer_token)


async def until(predicate: Callable[[], bool], wait: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (polling; never a timing assertion)."""
    for _ in range(int(wait / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"still not true after {wait} s")
