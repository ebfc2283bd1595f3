"""Media bridge fixtures: an app with Twilio configured, Redis db 11, the officer's login.

The app runs on loopback over plain http; its public URL is a made-up https
host (as behind a reverse proxy), so Twilio's signature is over
``wss://helpline.example.org/twilio/media`` whatever port the test server has.
Hanging up a call goes through ``ivr.twilio_api`` to ``twilio_api_base``: a
small local stand-in for Twilio's Calls resource (:class:`CallsResource`).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media.routes import MEDIA_CONFIG
from officers.auth import start_login
from officers.models import Officer
from safecall.app import create_app
from safecall.settings import Settings
from tests.support import FakeClock, copy_sqlite

REDIS_URL = "redis://127.0.0.1:6379/11"
PUBLIC_URL = "https://helpline.example.org"
ACCOUNT_SID = "AC" + "0" * 32


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the bridge keeps nothing in the database itself."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


class CallsResource:
    """Twilio's Calls resource, as far as hanging up goes (POST Calls/{sid}.json Status=completed).

    https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource
    """

    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{sid}.json", self._update)

    async def _update(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        sid = request.match_info["sid"]
        self.updates.append((sid, form))
        return web.json_response(
            {"sid": sid, "account_sid": request.match_info["account"], "status": "completed"}
        )

    def hung_up(self, call_sid: str) -> bool:
        return any(sid == call_sid and f.get("Status") == "completed" for sid, f in self.updates)


@pytest.fixture
async def calls_resource() -> AsyncIterator[tuple[CallsResource, str]]:
    resource = CallsResource()
    server = TestServer(resource.app, host="127.0.0.1")
    await server.start_server()
    yield resource, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def auth_token() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, calls_resource: tuple[CallsResource, str], auth_token: str
) -> Settings:
    from cases.audit import ensure_signing_key
    from cases.sealing import DataKey

    var = tmp_path / "var"
    var.mkdir(exist_ok=True)
    DataKey.ensure_file(var / "data.key")
    ensure_signing_key(var / "audit.key")
    return Settings(
        var_dir=var,
        database_url=database_url,
        data_key_file=var / "data.key",
        audit_key_file=var / "audit.key",
        recordings_key_file=var / "recordings.key",
        evidence_key_file=var / "evidence.key",
        public_url=PUBLIC_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=auth_token,
        twilio_api_base=calls_resource[1],
        media_ice_hosts=("127.0.0.1",),
    )


@pytest.fixture
def with_redis(settings: Settings) -> Settings:
    return dataclasses.replace(settings, redis_url=REDIS_URL)


@pytest.fixture(autouse=True)
async def _clean_redis() -> AsyncIterator[None]:
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.flushdb()
    yield
    await client.aclose()


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> web.Application:
    app = create_app(settings, clock=clock)
    app[MEDIA_CONFIG].leg_grace_seconds = 3.0
    app[MEDIA_CONFIG].hangup_wait_seconds = 1.0
    # The machine is shared: let a busy event loop delay audio rather than drop it.
    app[MEDIA_CONFIG].caller_backlog_frames = 50
    app[MEDIA_CONFIG].officer_backlog_frames = 50
    return app


@pytest.fixture
async def server(
    calls_resource: tuple[CallsResource, str], aiohttp_client: Any, app: web.Application
) -> TestClient[Any, Any]:
    # calls_resource first: it must outlive the app, whose bridges hang up calls as it stops
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


@pytest.fixture
async def officer_cookie(
    db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> Callable[[], Awaitable[str]]:
    """A logged-in officer's cookie value (the officer side of /ws needs her login)."""

    async def make() -> str:
        async with db() as session:
            officer = Officer(
                badge=f"M-{secrets.token_hex(3)}",
                name="Media officer",
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
            return token

    return make
