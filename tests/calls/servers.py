"""Real ``safecall serve`` processes for tests: each on a free loopback port, one database.

Used where a test needs what only a process has: a signal (SIGTERM), its own
process id, several processes over one Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from safecall.settings import Settings
from tests.support import redis_db

SAFECALL = Path(sys.executable).with_name("safecall")
REDIS_URL = redis_db(14)
"""Calls tests use Redis database 14."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    async def exited(self, wait: float = 60.0) -> int:
        """The exit code, once the process has stopped (bounded wait)."""
        for _ in range(int(wait / 0.05)):
            code = self.process.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.05)
        raise AssertionError(f"the server did not stop; its log:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def serve(
    settings: Settings, directory: Path, redis_url: str | None = None, **env: str
) -> Served:
    """Start ``safecall serve`` on ``settings``' database and keys; wait until it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SAFECALL_")}
    environment.update(
        SAFECALL_HOST="127.0.0.1",
        SAFECALL_PORT=str(port),
        SAFECALL_PUBLIC_URL=url,
        SAFECALL_VAR_DIR=str(settings.var_dir),
        SAFECALL_DATABASE_URL=settings.database_url,
        SAFECALL_DATA_KEY_FILE=str(settings.data_key_file),
        SAFECALL_AUDIT_KEY_FILE=str(settings.audit_key_file),
        SAFECALL_LOG_LEVEL="WARNING",
        **{f"SAFECALL_{k.upper()}": v for k, v in env.items()},
    )
    if redis_url:
        environment["SAFECALL_REDIS_URL"] = redis_url
    log = directory / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 (it runs beside the test)
            [str(SAFECALL), "serve"], env=environment, stdout=out, stderr=subprocess.STDOUT
        )
    served = Served(process, url, log)
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if process.poll() is not None:
                raise AssertionError(f"safecall serve exited; its log:\n{log.read_text()}")
            try:
                async with http.get(url + "/healthz") as response:
                    if response.status == 200:
                        return served
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    served.stop()
    raise AssertionError(f"safecall serve never answered; its log:\n{log.read_text()}")
