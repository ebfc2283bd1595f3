"""The faults, one scenario each: what is broken, how it comes back, and the moment it is
back (from which routing's recovery is measured).

Each scenario starts its own Redis (or Sentinel group) and nodes on the run's PostgreSQL,
puts the load on, waits ``warm`` seconds, injects the fault, keeps the load on for
``after`` seconds once the dependency is back, lets the conversations end, and reads what
was kept. Blocking process work runs in a thread so that the load never pauses.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.faults.processes import Node, Postgres, RedisServer, SentinelGroup

REDIS_PORT = 6394
MASTER_PORT, REPLICA_PORT = 6395, 6396
SENTINEL_PORTS = [26394, 26395, 26396]


@dataclass
class Stage:
    """What a fault acts on, made for its scenario."""

    directory: Path
    postgres: Postgres
    nodes: list[Node]
    redis: RedisServer | None = None
    sentinels: SentinelGroup | None = None
    mark_down: Callable[[str], None] = lambda url: None
    mark_up: Callable[[str], None] = lambda url: None
    overload: Callable[[float], None] = lambda rate: None
    webhook_target: float = 100.0
    quick: bool = False
    twilio_port: int = 0
    """Where the nodes find Twilio's Calls resource (the driver serves it)."""

    @property
    def redis_url(self) -> str:
        if self.sentinels is not None:
            return self.sentinels.url
        assert self.redis is not None
        return f"redis://127.0.0.1:{self.redis.port}/0"


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    redis: str
    """``aof`` (a Redis with an append-only file), ``none`` (without), ``sentinel``."""
    inject: Callable[[Stage], Awaitable[float]]
    """Break it, bring it back; the monotonic time it was back."""


def _in_thread(step: Callable[[], object]) -> Awaitable[object]:
    return asyncio.to_thread(step)


async def _restart(stage: Stage, node: Node) -> None:
    node.start()
    await _in_thread(node.wait_ready)
    stage.mark_up(node.url)


async def no_fault(stage: Stage) -> float:
    """Nothing breaks: the same load and checks, so that the table shows what the machine
    does without a fault (a busy shared machine fails rows by itself)."""
    return time.monotonic()


async def sigkill_node(stage: Stage) -> float:
    """SIGKILL one node; the balancer's health check drops it 2 s later; its supervisor
    restarts it after 5 s. Routing should never stop: measured from the kill."""
    node = stage.nodes[0]
    node.signal(signal.SIGKILL)
    at = time.monotonic()
    await _in_thread(lambda: node.wait_exit(10))
    await asyncio.sleep(2.0)
    stage.mark_down(node.url)
    await asyncio.sleep(3.0)
    await _restart(stage, node)
    return at


async def sigterm_node(stage: Stage) -> float:
    """SIGTERM one node (out of the balancer first, as operations.md asks); it drains and
    exits; restarted. Measured from the signal."""
    node = stage.nodes[0]
    stage.mark_down(node.url)
    node.signal(signal.SIGTERM)
    at = time.monotonic()
    code = await _in_thread(lambda: node.wait_exit(60))
    if code is None:
        raise RuntimeError(f"{node.name} did not stop within 60 s of SIGTERM")
    await _restart(stage, node)
    return at


async def kill_redis_aof(stage: Stage) -> float:
    """SIGKILL Redis; 3 s later it starts again on the same folder (append-only file)."""
    assert stage.redis is not None
    stage.redis.kill()
    await asyncio.sleep(3.0)
    return float(await _in_thread(stage.redis.start))  # type: ignore[arg-type]


async def kill_redis_fresh(stage: Stage) -> float:
    """SIGKILL a Redis without persistence; 3 s later a fresh one on the same port: every
    queue, session and presence gone."""
    assert stage.redis is not None
    stage.redis.kill()
    await asyncio.sleep(3.0)
    stage.redis.directory = stage.redis.directory.with_name("redis-fresh")
    return float(await _in_thread(stage.redis.start))  # type: ignore[arg-type]


async def sentinel_failover(stage: Stage) -> float:
    """SIGKILL the master; the sentinels promote the replica: back when they name it."""
    group = stage.sentinels
    assert group is not None
    group.servers["master"].kill()

    def promoted() -> float:
        from bench.faults.processes import wait_until

        return wait_until(
            lambda: group.master_port_now() == group.replica_port, "the replica's promotion"
        )

    return float(await _in_thread(promoted))  # type: ignore[arg-type]


async def stop_postgres(stage: Stage) -> float:
    """Stop PostgreSQL (fast: every connection cut) for 10 s, then start it again."""
    await _in_thread(lambda: stage.postgres.stop("fast"))
    await asyncio.sleep(10.0)
    return float(await _in_thread(stage.postgres.start))  # type: ignore[arg-type]


async def overload(stage: Stage) -> float:
    """Twice the webhook target for 15 s (8 s quick); back when the rate drops again."""
    stage.overload(2 * stage.webhook_target)
    await asyncio.sleep(8.0 if stage.quick else 15.0)
    stage.overload(0.0)
    return time.monotonic()


FAULTS = [
    Fault("baseline", "no fault: the same load", "aof", no_fault),
    Fault("sigkill", "SIGKILL a node (restarted 5 s later)", "aof", sigkill_node),
    Fault("redis-aof", "kill Redis, restart with its AOF", "aof", kill_redis_aof),
    Fault("redis-fresh", "kill Redis without AOF, fresh Redis", "none", kill_redis_fresh),
    Fault("sentinel", "Sentinel failover (master SIGKILLed)", "sentinel", sentinel_failover),
    Fault("postgres", "stop PostgreSQL 10 s", "aof", stop_postgres),
    Fault("sigterm", "SIGTERM a node (drain, restart)", "aof", sigterm_node),
    Fault("overload", "webhooks at 2x the target", "aof", overload),
]
