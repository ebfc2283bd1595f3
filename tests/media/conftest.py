"""Media bridge fixtures: an app with Twilio configured, Redis db 11, the officer's login.

The app runs on loopback over plain http; its public URL is a made-up https
host (as behind a reverse proxy that ends TLS), so Twilio's signature is over
``wss://helpline.example.org/twilio/media`` whatever port the test server has.
Twilio is the emulator (tests/twilio/, docs/twilio-emulator.md): its REST
server is ``twilio_api_base`` (hang-ups through ``ivr.twilio_api`` are checked
against the account's credentials and the calls it carries), and it reaches
the public host through ``TwilioCloud.proxies``. Every Media Stream belongs to
a call the cloud carries: ``incoming_call`` puts a caller on the line and
``bridged`` moves her call to the bridge as the IVR does when an officer accepts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.twilio_api import connect_to_bridge
from media.routes import MEDIA_CONFIG
from officers.auth import start_login
from officers.models import Officer
from safecall.app import create_app
from safecall.settings import Settings
from tests.support import FakeClock, copy_sqlite, listen_on, origin_of, redis_db
from tests.twilio.call import Call, Document
from tests.twilio.cloud import TwilioCloud
from tests.twilio.stream import MediaStream
from tests.twilio.twiml import parse

REDIS_URL = redis_db(11)
PUBLIC_URL = "https://helpline.example.org"
STREAM_URL = PUBLIC_URL.replace("https://", "wss://") + "/twilio/media"
ACCOUNT_SID = "AC" + "0" * 32


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the bridge keeps nothing in the database itself."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


class CallsResource:
    """Twilio's Calls resource, as the emulated cloud serves it: what a test asks of it.

    https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource
    """

    def __init__(self, cloud: TwilioCloud) -> None:
        self.cloud = cloud

    def hung_up(self, call_sid: str) -> bool:
        """The app asked Twilio, with the account's credentials, to complete ``call_sid``
        (``POST Calls/{sid}.json Status=completed``), and the call has ended."""
        path = f"/2010-04-01/Accounts/{self.cloud.account_sid}/Calls/{call_sid}.json"
        asked = [
            r
            for r in self.cloud.requests
            if r.method == "POST" and r.path == path and r.params.get("Status") == ["completed"]
        ]
        call = self.cloud.calls[call_sid]  # every stream is of a call the cloud carries
        return any(r.status == 200 for r in asked) and call.status == "completed"


@pytest.fixture
async def calls_resource(auth_token: str) -> AsyncIterator[tuple[CallsResource, str]]:
    """The emulated Twilio (account ``ACCOUNT_SID``, ``auth_token``) and its REST base URL.

    Self-contained (other test packages import it); fails the test at teardown on
    Twilio errors nobody expected, like the emulator's ``twilio_cloud`` fixture."""
    cloud = TwilioCloud(account_sid=ACCOUNT_SID, auth_token=auth_token, time_scale=0.02)
    await cloud.start()
    yield CallsResource(cloud), cloud.rest_base
    await cloud.close()
    unseen = cloud.unseen_errors()
    if unseen:
        pytest.fail("Twilio reported errors:\n  " + "\n  ".join(str(e) for e in unseen))


@pytest.fixture
def twilio_cloud(calls_resource: tuple[CallsResource, str]) -> TwilioCloud:
    """The cloud the app's settings point at."""
    return calls_resource[0].cloud


HOLD = '<Response><Pause length="3600"/></Response>'
"""A TwiML Bin that keeps the line open (an hour of simulated time)."""


@pytest.fixture
def incoming_call(twilio_cloud: TwilioCloud) -> Callable[[], Awaitable[Call]]:
    """A caller on the line: she dials a number whose TwiML Bin holds the call (no IVR);
    returns the live, answered call."""

    async def dial() -> Call:
        call = await twilio_cloud.incoming_call(twiml=HOLD)
        for _ in range(500):  # bounded: the first verb answers the call
            if call.answered:
                return call
            await asyncio.sleep(0.01)
        raise AssertionError(f"the call was not answered: {call.status}")

    return dial


async def bridged(
    app: web.Application, call: Call, session_id: str, *, line: str | None = None
) -> MediaStream:
    """The call moves to the media bridge as when an officer accepts it (``ivr.twilio_api``:
    ``Calls(sid).update`` with the bridge's TwiML and a fresh stream token); returns the
    Media Stream Twilio opened."""
    await connect_to_bridge(app, call.sid, session_id, line=line)
    return await call.wait_stream()


async def streamed_with(call: Call, token: str) -> MediaStream:
    """Twilio streams ``call`` to the bridge with ``token`` as its custom parameter (TwiML the
    test writes, as by ``Calls(sid).update``: a token the app did not give this call); returns
    the stream once it has closed and the call has ended (a refused upgrade fails the test)."""
    twiml = (
        f'<Response><Connect><Stream url="{STREAM_URL}">'
        f'<Parameter name="token" value={quoteattr(token)}/></Stream></Connect></Response>'
    )
    call.redirect(Document("", parse(twiml)))
    await call.wait_ended()
    (stream,) = call.streams
    return stream


@pytest.fixture
def auth_token() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    calls_resource: tuple[CallsResource, str],
    auth_token: str,
    page_socket: socket.socket,
) -> Settings:
    from audit.log import ensure_signing_key
    from sealing.data_key import DataKey

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
        allowed_origins=(origin_of(page_socket),),  # the console the browser tests open
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


def tune_for_tests(app: web.Application) -> None:
    """Shorter waits for a dead leg and a hang-up; larger backlogs."""
    config = app[MEDIA_CONFIG]
    config.leg_grace_seconds = 3.0
    config.hangup_wait_seconds = 1.0
    # The machine is shared: let a busy event loop delay audio rather than drop it.
    config.caller_backlog_frames = 50
    config.officer_backlog_frames = 50


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> web.Application:
    app = create_app(settings, clock=clock)
    tune_for_tests(app)
    return app


@pytest.fixture
async def server(
    calls_resource: tuple[CallsResource, str],
    aiohttp_client: Any,
    app: web.Application,
    page_socket: socket.socket,
) -> TestClient[Any, Any]:
    # calls_resource first: it must outlive the app, whose bridges hang up calls as it stops
    client: TestClient[Any, Any] = await aiohttp_client(app, server_kwargs=listen_on(page_socket))
    cloud = calls_resource[0].cloud
    cloud.proxies[urlsplit(PUBLIC_URL).netloc] = f"{client.host}:{client.port}"
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
