"""Fixtures: every database test runs on real SQLite and on real PostgreSQL.

The schema comes from the real Alembic migrations. SQLite tests copy a
migrated template file; PostgreSQL tests share one migrated database per run
and empty every table before each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.log import ensure_signing_key
from recordings.keys import RecordingsKey
from safecall.app import create_app
from safecall.db import Base, create_engine, session_factory
from safecall.migrate import upgrade
from safecall.settings import Settings
from sealing.data_key import DataKey
from tests.support import (
    POSTGRES_ADMIN_URL,
    FakeClock,
    OpenAPIChecker,
    copy_sqlite,
    listen_on,
    listening_socket,
    origin_of,
)

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]

# Hypothesis imports some modules lazily, in the middle of a test; pytest's assertion
# rewriter then parses them with the AST at a deep recursion level, which CPython 3.11.7
# can refuse ("AST constructor recursion depth mismatch", pytest-dev/pytest#10874).
# Importing them here, at collection time, avoids it (names differ between versions).
for _lazy in (
    "hypothesis.internal.conjecture.optimiser",
    "hypothesis.strategies._internal.flatmapped",
    "hypothesis.strategies._internal.random",
):
    with contextlib.suppress(ImportError):
        importlib.import_module(_lazy)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run."""
    name = f"safecall_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_url(POSTGRES_ADMIN_URL)
    url = admin.set(database=name).render_as_string(hide_password=False)

    async def admin_sql(sql: str) -> None:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    upgrade(url)
    yield url
    asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        yield copy_sqlite(sqlite_template, tmp_path / "safecall.db")
        return
    url: str = request.getfixturevalue("postgres_url")

    async def empty() -> None:
        engine = create_engine(url)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    asyncio.run(empty())
    yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def page_socket() -> Iterator[socket.socket]:
    """The socket the ``client`` fixture's server listens on; its origin is allowed in the
    ``settings``, so pages a browser test opens there pass the Origin check."""
    sock = listening_socket()
    yield sock
    sock.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, page_socket: socket.socket) -> Settings:
    var = tmp_path / "var"
    var.mkdir(exist_ok=True)
    data_key = var / "data.key"
    audit_key = var / "audit.key"
    DataKey.ensure_file(data_key)
    ensure_signing_key(audit_key)
    RecordingsKey.ensure_file(var / "recordings.key")
    return Settings(
        var_dir=var,
        database_url=database_url,
        data_key_file=data_key,
        audit_key_file=audit_key,
        recordings_key_file=var / "recordings.key",
        evidence_key_file=var / "evidence.key",
        allowed_origins=(origin_of(page_socket),),
    )


@pytest.fixture
def data_key(settings: Settings) -> DataKey:
    return DataKey.load(settings.data_key_file)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on the test database, for setting up and checking state."""
    engine = create_engine(settings.database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> web.Application:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, app: web.Application, page_socket: socket.socket
) -> TestClient[Any, Any]:
    return await aiohttp_client(app, server_kwargs=listen_on(page_socket))


@pytest.fixture
async def openapi(client: TestClient[Any, Any]) -> OpenAPIChecker:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    return OpenAPIChecker(await response.json())


@pytest.fixture
async def login_as(
    client: TestClient[Any, Any],
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
) -> AsyncIterator[Callable[..., Awaitable[tuple[TestClient[Any, Any], Any]]]]:
    """``client, officer = await login_as("supervisor", lines=["women"])``.

    Creates an officer and a client whose cookie holds a real login token.
    Each call gives a new client (a separate browser) on the same server.
    """
    from officers.auth import COOKIE, start_login
    from officers.models import Officer

    counter = iter(range(1, 10_000))

    async def make(role: str = "officer", **fields: Any) -> tuple[TestClient[Any, Any], Any]:
        n = next(counter)
        values: dict[str, Any] = {
            "badge": f"T-{role[:3].upper()}-{n}",
            "name": f"Test {role} {n}",
            "role": role,
            "gender": "female",
            "languages": ["ur", "en"],
            "skills": {},
            "lines": ["women", "child"],
            "password_hash": "not-a-hash",
        }
        values.update(fields)
        async with db() as session:
            officer = Officer(**values)
            session.add(officer)
            await session.flush()
            token = await start_login(session, officer, "127.0.0.1", clock(), 12)
            await session.commit()
        browser: TestClient[Any, Any] = TestClient(client.server)
        await browser.start_server()
        browser.session.cookie_jar.update_cookies({COOKIE: token})
        browsers.append(browser)
        return browser, officer

    browsers: list[TestClient[Any, Any]] = []
    yield make
    for browser in browsers:
        await browser.session.close()
