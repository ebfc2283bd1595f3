"""A Redis master, its replica and three sentinels, each a real process of the test's own."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.calls.servers import free_port

SERVICE = "safecall"


def ask(port: int, command: str, *args: object) -> Any:
    """One command to the server or sentinel on ``port``, on a connection closed after it."""
    with redis.Redis(port=port, socket_timeout=1, decode_responses=True) as client:
        return getattr(client, command)(*args)


def wait_until(check: object, what: str, timeout: float = 30.0) -> None:
    """Wait for ``check()`` to be true (the event, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (OSError, redis.RedisError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class RedisGroup:
    directory: Path
    master_port: int = field(default_factory=free_port)
    replica_port: int = field(default_factory=free_port)
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.directory / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def _server(self, name: str, port: int, *extra: str) -> None:
        folder = self.directory / name
        folder.mkdir()
        self._spawn(
            name,
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "yes", "--dir", str(folder), *extra],
        )  # fmt: skip
        wait_until(lambda: ask(port, "ping"), f"{name} to answer")

    def start(self) -> None:
        self._server("master", self.master_port)
        self._server(
            "replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port)
        )
        wait_until(
            lambda: ask(self.replica_port, "info", "replication")["master_link_status"] == "up",
            "the replica to sync",
        )
        # Each sentinel is told the replica and the other sentinels up front (as the
        # configuration they rewrite would say), instead of learning them from hello
        # messages every 2 seconds: the group is ready at once.
        ids = [f"{number:040x}" for number in range(1, len(self.sentinel_ports) + 1)]
        for number, port in enumerate(self.sentinel_ports):
            known = "".join(
                f"sentinel known-sentinel {SERVICE} 127.0.0.1 {other} {ids[n]}\n"
                for n, other in enumerate(self.sentinel_ports)
                if other != port
            )
            conf = self.directory / f"sentinel{number}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\nsentinel myid {ids[number]}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 500\n"
                f"sentinel failover-timeout {SERVICE} 3000\n"
                f"sentinel known-replica {SERVICE} 127.0.0.1 {self.replica_port}\n{known}"
            )
            self._spawn(f"sentinel{number}", ["redis-sentinel", str(conf)])
        for port in self.sentinel_ports:  # each knows the replica and both other sentinels
            wait_until(
                lambda port=port: _sentinel_knows(port),  # type: ignore[misc]
                f"sentinel {port} to see the group",
            )

    def kill_master(self) -> None:
        """SIGKILL: the master is gone at once, as when its machine dies."""
        process = self.processes["master"]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _sentinel_knows(port: int) -> bool:
    master = ask(port, "sentinel_master", SERVICE)
    return bool(master["num-slaves"] == 1 and master["num-other-sentinels"] == 2)
