"""The processes a fault run starts, and only those: its own PostgreSQL cluster, its own
Redis servers (alone, or a master, a replica and three sentinels) and the ``safecall
serve`` nodes. Each is stopped by the process id (or the data directory) it was started
with; nothing is ever looked up or ended by name.

PostgreSQL is a cluster of the run's own (``initdb`` into a temporary folder, as the
``postgres`` user when run as root) on its own port, because stopping it is one of the
faults: the shared server other work uses is never touched.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

PUBLIC_URL = "http://helpline.example.org"
"""The nodes' public URL: what Twilio signs, the origin of their pages (plain http, so that
the driver's cookie jar sends the officers' login cookies to the nodes on loopback)."""
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "faults-token-" + "x" * 20
SERVICE = "safecall"
"""The master's name the sentinels watch."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], object], what: str, timeout: float = 30.0) -> float:
    """Wait for ``check()`` to be true; when it became so (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return time.monotonic()
        except (OSError, redis.RedisError, subprocess.SubprocessError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def _ask(port: int, command: str, *args: object) -> Any:
    with redis.Redis(port=port, socket_timeout=1, decode_responses=True) as client:
        return getattr(client, command)(*args)


# ---- PostgreSQL -------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found (install postgresql)")
    return path


@dataclass
class Postgres:
    """A PostgreSQL cluster of the run's own, on ``port``, trusting loopback."""

    directory: Path
    port: int = 5442
    database: str = "safecall_faults"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def sockets(self) -> Path:
        return self.directory / "sockets"

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str]) -> None:
        subprocess.run(
            self._as_owner(argv), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.directory, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(
            [_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
             "--no-sync", "-E", "UTF8"]
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sockets}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
            )
        self.start()
        self._run(
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             self.database]
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> float:
        """Start the cluster; when it accepts connections."""
        self._run(
            [_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "log"),
             "-w", "start"]
        )  # fmt: skip
        return wait_until(self.ready, "PostgreSQL to accept connections")

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            pass
        done = subprocess.run(
            [_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return done.returncode == 0

    def ready_quietly(self) -> bool:
        try:
            return self.ready()
        except OSError:
            return False

    def stop(self, mode: str = "fast") -> None:
        """``fast``: every client is disconnected, then the server stops (as a restart does)."""
        self._run([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.directory, ignore_errors=True)


# ---- Redis ------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """One redis-server of the run's own on ``port``, its files in ``directory``."""

    directory: Path
    port: int
    appendonly: bool = True
    replica_of: int | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
            "--dir", str(self.directory),
        ]  # fmt: skip
        if self.replica_of is not None:
            argv += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return wait_until(lambda: _ask(self.port, "ping"), f"Redis on {self.port}")

    def kill(self) -> None:
        """SIGKILL: gone at once, as when its machine dies."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class SentinelGroup:
    """A master, its replica and three sentinels (quorum 2, down after 500 ms)."""

    directory: Path
    master_port: int
    replica_port: int
    sentinel_ports: list[int]
    servers: dict[str, RedisServer] = field(default_factory=dict)
    sentinels: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> None:
        master = RedisServer(self.directory / "master", self.master_port)
        replica = RedisServer(self.directory / "replica", self.replica_port)
        replica.replica_of = self.master_port
        self.servers = {"master": master, "replica": replica}
        master.start()
        replica.start()
        wait_until(
            lambda: _ask(self.replica_port, "info", "replication")["master_link_status"] == "up",
            "the replica to sync",
        )
        ids = [f"{n:040x}" for n in range(1, len(self.sentinel_ports) + 1)]
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
            log = (self.directory / f"sentinel{number}.log").open("ab")
            self.sentinels.append(
                subprocess.Popen(
                    ["redis-sentinel", str(conf)], stdout=log, stderr=subprocess.STDOUT
                )
            )
            log.close()
        for port in self.sentinel_ports:
            wait_until(lambda port=port: self._knows(port), f"sentinel {port} to see the group")  # type: ignore[misc]

    def _knows(self, port: int) -> bool:
        master = _ask(port, "sentinel_master", SERVICE)
        return bool(master["num-slaves"] == 1 and master["num-other-sentinels"] == 2)

    def master_port_now(self) -> int:
        _, port = _ask(self.sentinel_ports[0], "sentinel_get_master_addr_by_name", SERVICE)
        return int(port)

    def stop(self) -> None:
        for process in self.sentinels:
            if process.poll() is None:
                process.terminate()
        for process in self.sentinels:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for server in self.servers.values():
            server.stop()


# ---- safecall nodes ---------------------------------------------------------------------


@dataclass
class Node:
    """One ``safecall serve`` process on its own port."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        log = self.log_path.open("ab")
        serve = str(Path(sys.executable).with_name("safecall"))
        self.process = subprocess.Popen(
            [serve, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def wait_ready(self, timeout: float = 60.0) -> None:
        import urllib.request

        def ready() -> bool:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as answer:
                return bool(answer.status == 200)

        wait_until(ready, f"{self.name} to be ready", timeout)

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def wait_exit(self, timeout: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.alive:
            self.signal(signal.SIGTERM)
            if self.wait_exit(30) is None:
                self.signal(signal.SIGKILL)
                self.wait_exit(10)


def node_env(
    name: str,
    port: int,
    var: Path,
    keys: Path,
    database_url: str,
    redis_url: str,
    grace_seconds: float,
    node_ttl_seconds: float,
    twilio_api_base: str,
) -> dict[str, str]:
    """The ``SAFECALL_`` settings of one node (docs: safecall/settings.py)."""
    folder = var / name
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECALL_")}
    env.update(
        {
            "SAFECALL_HOST": "127.0.0.1",
            "SAFECALL_PORT": str(port),
            "SAFECALL_PUBLIC_URL": PUBLIC_URL,
            "SAFECALL_VAR_DIR": str(folder),
            "SAFECALL_DATABASE_URL": database_url,
            "SAFECALL_REDIS_URL": redis_url,
            "SAFECALL_DATA_KEY_FILE": str(keys / "data.key"),
            "SAFECALL_AUDIT_KEY_FILE": str(keys / "audit.key"),
            "SAFECALL_RECORDINGS_KEY_FILE": str(keys / "recordings.key"),
            "SAFECALL_EVIDENCE_KEY_FILE": str(keys / "evidence.key"),
            "SAFECALL_RECORDINGS_STORE": "database",
            "SAFECALL_TRUST_FORWARDED": "true",
            "SAFECALL_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "SAFECALL_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "SAFECALL_TWILIO_API_BASE": twilio_api_base,
            "SAFECALL_TWILIO_CALLER_ID": "+15005550006",
            "SAFECALL_CALL_GRACE_SECONDS": str(grace_seconds),
            "SAFECALL_NODE_TTL_SECONDS": str(node_ttl_seconds),
            "SAFECALL_LOG_LEVEL": "WARNING",
        }
    )
    return env
