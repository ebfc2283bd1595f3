"""Shared test helpers: a clock the tests move, databases on both engines, OpenAPI checks."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

POSTGRES_ADMIN_URL = os.environ.get(
    "SAFECALL_TEST_POSTGRES_URL", "postgresql+asyncpg://safecall:safecall@127.0.0.1:5432/postgres"
)
REDIS_BASE = os.environ.get("SAFECALL_TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")
"""The Redis the tests use (each folder takes databases of its own on it); another port
lets two checkouts run their tests side by side."""


def redis_db(db: int) -> str:
    """The tests' Redis, database ``db``."""
    return f"{REDIS_BASE}/{db}"


def listening_socket() -> socket.socket:
    """A loopback socket bound to a free port, for a test server to listen on: its origin
    is known before the app is made (the Origin check trusts configured origins only)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def origin_of(sock: socket.socket) -> str:
    """``http://127.0.0.1:<port>``: the origin of pages served from ``sock``."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def listen_on(sock: socket.socket) -> dict[str, Any]:
    """``server_kwargs`` for ``aiohttp_client`` that make its server listen on ``sock``
    (on a duplicate, which the server closes; the fixture that made ``sock`` closes it)."""
    return {"socket_factory": lambda *_: sock.dup()}


class FakeClock:
    """Now, as the app sees it; ``advance`` moves it without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def copy_sqlite(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


class OpenAPIChecker:
    """Validates responses against the server's own OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry = Registry().with_resource("urn:safecall", resource)

    def check(self, method: str, route: str, status: int, body: Any) -> None:
        """Raise when ``body`` does not match what the document promises."""
        op = self.document["paths"][route][method.lower()]
        declared = op["responses"].get(str(status))
        assert declared is not None, f"{method} {route} answered {status}, not in the document"
        content = declared.get("content", {})
        if "application/json" not in content:
            return
        schema = content["application/json"]["schema"]
        rewritten = _rebase(schema)
        validator = jsonschema.Draft202012Validator(rewritten, registry=self.registry)
        validator.validate(body)


def _rebase(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: ("urn:safecall" + v if k == "$ref" and v.startswith("#") else _rebase(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


class Cuttable:
    """A TCP path to a real server (PostgreSQL, Redis) that a test can cut and restore:
    an outage as the app sees it (connections drop, new ones are refused), without
    stopping a server other tests share."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def restore(self) -> None:
        await self.start()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, ConnectionError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._links -= {writer, up_writer}


def put_in_env(monkeypatch: Any, settings: Any) -> None:
    """``settings`` as the ``SAFECALL_`` variables the ``safecall`` command reads."""
    for name, value in {
        "VAR_DIR": settings.var_dir,
        "DATABASE_URL": settings.database_url,
        "DATA_KEY_FILE": settings.data_key_file,
        "AUDIT_KEY_FILE": settings.audit_key_file,
        "RECORDINGS_KEY_FILE": settings.recordings_key_file,
        "EVIDENCE_KEY_FILE": settings.evidence_key_file,
        "RECORDINGS_STORE": settings.recordings_store,
    }.items():
        monkeypatch.setenv(f"SAFECALL_{name}", str(value))
