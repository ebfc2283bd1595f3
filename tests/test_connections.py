"""Issue 13 item 7, as the attacker tried it against ``safecall serve``: a half-sent
request stayed open (200 s and more), and one address could open as many as it liked.

Each test starts a real ``safecall serve`` process with short deadlines and talks
to it over raw sockets, as a slow or hostile client would. Waits are bounded;
nothing is proved by sleeping: each test reads until the server answers or closes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from audit.log import ensure_signing_key
from safecall.settings import Settings
from sealing.data_key import DataKey
from tests.calls.servers import Served, serve
from tests.support import copy_sqlite

BOUND = 30.0
"""The longest any test waits for the server to act (it acts within a second or two)."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Served]:
    """One server for the deadline tests (SQLite: what is proved is the HTTP server)."""
    settings = own_settings(tmp_path_factory, sqlite_template)
    logs = tmp_path_factory.mktemp("log")
    server = asyncio.run(serve(settings, logs, HEADER_TIMEOUT="1", BODY_TIMEOUT="1"))
    yield server
    server.stop()


def own_settings(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Settings:
    var = tmp_path_factory.mktemp("var")
    DataKey.ensure_file(var / "data.key")
    ensure_signing_key(var / "audit.key")
    return Settings(
        var_dir=var,
        database_url=copy_sqlite(sqlite_template, var / "safecall.db"),
        data_key_file=var / "data.key",
        audit_key_file=var / "audit.key",
    )


async def open_connection(
    served: Served,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(served.url)
    assert parts.hostname is not None and parts.port is not None
    return await asyncio.open_connection(parts.hostname, parts.port)


async def read_to_the_end(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (bounded)."""
    async with asyncio.timeout(BOUND):
        return await reader.read()


def status_and_body(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_a_half_sent_head_is_answered_408_and_closed(served: Served) -> None:
    reader, writer = await open_connection(served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never finished

    answer = await read_to_the_end(reader)

    status, body = status_and_body(answer)
    assert status == 408
    assert body["error"] == {
        "code": "request_timeout",
        "message": "The request did not arrive in time; send it again.",
    }
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    reader, writer = await open_connection(served)
    answer = await read_to_the_end(reader)
    assert answer == b""  # closed without a word: a browser's spare socket is retried
    writer.close()


async def test_a_body_sent_too_slowly_is_cut_off(served: Served) -> None:
    reader, writer = await open_connection(served)
    writer.write(
        b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 200\r\n\r\n"
        b'{"badge": "B-1", '  # and then nothing more
    )

    answer = await read_to_the_end(reader)

    assert b"200 OK" not in answer  # cut off: whatever the handler said, nothing was served
    writer.close()
    assert "Traceback" not in served.log.read_text()


async def test_requests_on_time_and_a_websocket_outlive_the_deadlines(served: Served) -> None:
    reader, writer = await open_connection(served)
    for _ in range(2):  # keep-alive: two requests on one connection, each head whole
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        async with asyncio.timeout(BOUND):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            assert json.loads(await reader.readexactly(length)) == {"status": "ok"}
        assert head.startswith(b"HTTP/1.1 200")
    writer.close()

    # A socket that never joins is closed by signaling's join timeout (10 s), long after
    # the 1 s head deadline: the error it sends first proves the deadline left it alone.
    async with aiohttp.ClientSession() as http, http.ws_connect(served.url + "/ws") as ws:
        message = await ws.receive(timeout=BOUND)
        assert message.type == aiohttp.WSMsgType.TEXT
        assert json.loads(message.data)["code"] == "join_timeout"


async def test_one_address_holds_only_so_many_connections(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, tmp_path: Path
) -> None:
    settings = own_settings(tmp_path_factory, sqlite_template)
    served = await serve(settings, tmp_path, MAX_CONNECTIONS_PER_ADDRESS="3")
    try:
        held = [await open_connection(served) for _ in range(3)]
        for _, writer in held:  # each one in use: a head sent and answered
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for reader, _ in held:
            async with asyncio.timeout(BOUND):
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")

        reader, writer = await open_connection(served)
        status, body = status_and_body(await read_to_the_end(reader))
        assert status == 429
        assert body["error"]["code"] == "too_many_connections"  # type: ignore[index]
        writer.close()

        # One closed frees its place (the server notices the close; ask until it has).
        held.pop()[1].close()
        async with asyncio.timeout(BOUND):
            while True:
                reader, writer = await open_connection(served)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answer = await reader.readuntil(b"\r\n\r\n")
                writer.close()
                if answer.startswith(b"HTTP/1.1 200"):
                    break
        for _, writer in held:
            writer.close()
    finally:
        served.stop()
