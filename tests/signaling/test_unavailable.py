"""The session store (Redis) fails mid-call: ``unavailable`` (1013), then a resume.

A Redis of the test's own (append-only, fsync on every write, so a restart
keeps the sessions), stopped while a call is in progress and started again.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.calls.servers import free_port
from tests.signaling.conftest import Page, open_call


class OwnRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(200):
            # PING, not just a connection: a connect to a free ephemeral port can meet
            # itself (TCP simultaneous open) before redis-server listens on it.
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


async def test_a_store_failure_mid_call_says_unavailable_and_the_page_resumes_after(
    make_app, aiohttp_client, connect, officer_cookie, own_redis
):
    server = await aiohttp_client(make_app(own_redis.url, grace_seconds=30))
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)

    own_redis.stop()  # Redis goes away in the middle of the call
    sent = await call.citizen.send("chat", text="can you hear me?")
    error = await call.citizen.expect("error")
    assert error["code"] == "unavailable" and error["fatal"] is True
    assert await call.citizen.closed() == 1013
    # The process itself is fine: it still answers a page.
    other = await connect(server)
    await other.send("ping", nonce=3)
    assert (await other.expect("pong"))["nonce"] == 3

    own_redis.start()  # back, with what it held
    for _ in range(3):  # as a page does: a connection the pool held from before may fail once
        page: Page = await connect(server)
        page.resume_token, page.last_seq = call.citizen.resume_token, call.citizen.last_seq
        await page.send(
            "resume", session=call.session, resume_token=page.resume_token, last_seq=page.last_seq
        )
        joined = await page.expect("joined", "error")
        if joined["type"] == "joined":
            break
        assert joined["code"] == "unavailable"
    assert joined["side"] == "citizen" and joined["last_seq"] == sent - 1
    # What was refused was not taken: she sends it again, with the same seq.
    page.seq = sent - 1
    await page.send("chat", text="can you hear me?")
    back = await call.officer.expect("peer-joined")
    assert back["side"] == "citizen" and back["resumed"] is True
    assert (await call.officer.expect("chat"))["text"] == "can you hear me?"
