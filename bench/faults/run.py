"""One run: the PostgreSQL cluster, keys, schema and officers once; then each fault's
scenario on a Redis and nodes of its own; then the table."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bench.faults import checks
from bench.faults.faults import (
    MASTER_PORT,
    REDIS_PORT,
    REPLICA_PORT,
    SENTINEL_PORTS,
    Fault,
    Stage,
)
from bench.faults.ledger import Ledger, PhoneCall
from bench.faults.load import PASSWORD, Balancer, Driver, Login, Rates, run_officers
from bench.faults.processes import (
    Node,
    Postgres,
    RedisServer,
    SentinelGroup,
    free_port,
    node_env,
)
from bench.faults.table import Row
from bench.faults.twilio_calls import CallsResource


@dataclass
class Options:
    nodes: int = 2
    officers: int = 6
    contact_rate: float = 1.0
    webhook_rate: float = 20.0
    webhook_target: float = 100.0
    warm: float = 8.0
    after: float = 10.0
    drain: float = 30.0
    settle: float = 20.0
    grace_seconds: float = 10.0
    node_ttl_seconds: float = 10.0
    quick: bool = False


@dataclass
class World:
    directory: Path
    postgres: Postgres
    keys: Path
    badges: list[str]
    logins: dict[str, Login] = field(default_factory=dict)
    """The officers' logins, kept across faults (the first fault logs them in)."""
    calls: dict[str, PhoneCall] = field(default_factory=dict)
    """Every phone call of the run so far (Twilio's Calls resource answers for them all)."""


def _cli_env(world_dir: Path, keys: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECALL_")}
    env.update(
        SAFECALL_VAR_DIR=str(world_dir / "cli"),
        SAFECALL_DATABASE_URL=database_url,
        SAFECALL_DATA_KEY_FILE=str(keys / "data.key"),
        SAFECALL_AUDIT_KEY_FILE=str(keys / "audit.key"),
        SAFECALL_RECORDINGS_KEY_FILE=str(keys / "recordings.key"),
        SAFECALL_EVIDENCE_KEY_FILE=str(keys / "evidence.key"),
        SAFECALL_RECORDINGS_STORE="database",
    )
    return env


def prepare(directory: Path, options: Options, port: int) -> World:
    """The cluster, the keys, the schema, the officers (female, the women's line)."""
    safecall = str(Path(sys.executable).with_name("safecall"))
    directory.chmod(0o755)  # the postgres user reaches its cluster's folder through it
    postgres = Postgres(directory / "pg-cluster", port=port)
    postgres.init()
    keys = directory / "keys"
    keys.mkdir()
    env = _cli_env(directory, keys, postgres.url)
    subprocess.run([safecall, "keys"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([safecall, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    badges = [f"F-{n:03d}" for n in range(1, options.officers + 1)]
    for badge in badges:
        subprocess.run(
            [safecall, "officer", "add", "--badge", badge, "--name", f"Officer {badge}",
             "--role", "officer", "--gender", "female", "--languages", "ur,en",
             "--lines", "women", "--password-stdin"],
            input=PASSWORD + "\n", text=True, env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return World(directory, postgres, keys, badges)


def _stage(world: World, fault: Fault, options: Options) -> Stage:
    folder = world.directory / fault.name
    folder.mkdir()
    stage = Stage(folder, world.postgres, [], quick=options.quick)
    stage.webhook_target = options.webhook_target
    stage.twilio_port = free_port()
    if fault.redis == "sentinel":
        stage.sentinels = SentinelGroup(
            folder / "sentinel", MASTER_PORT, REPLICA_PORT, list(SENTINEL_PORTS)
        )
        stage.sentinels.directory.mkdir()
        stage.sentinels.start()
    else:
        stage.redis = RedisServer(folder / "redis", REDIS_PORT, appendonly=fault.redis == "aof")
        stage.redis.start()
    for n in range(options.nodes):
        port = free_port()
        env = node_env(
            f"node{n + 1}", port, folder, world.keys, world.postgres.url, stage.redis_url,
            options.grace_seconds, options.node_ttl_seconds,
            f"http://127.0.0.1:{stage.twilio_port}",
        )  # fmt: skip
        stage.nodes.append(Node(f"node{n + 1}", port, env, folder / f"node{n + 1}.log"))
    for node in stage.nodes:
        node.start()
    for node in stage.nodes:
        node.wait_ready()
    return stage


def _teardown(stage: Stage) -> None:
    for node in stage.nodes:
        node.stop()
    if stage.redis is not None:
        stage.redis.stop()
    if stage.sentinels is not None:
        stage.sentinels.stop()
    if not stage.postgres.ready_quietly():
        stage.postgres.start()


def _p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 1)


async def _scenario(stage: Stage, fault: Fault, world: World, options: Options) -> Row:
    ledger = Ledger()
    balancer = Balancer([n.url for n in stage.nodes], ledger)
    stage.mark_down = balancer.down.add
    stage.mark_up = balancer.down.discard
    rates = Rates(options.contact_rate, options.webhook_rate)
    driver = Driver(balancer, ledger, world.badges, rates, world.logins)

    def overload(rate: float) -> None:
        driver.webhook_rate = rate

    stage.overload = overload
    since = datetime.now(UTC) - timedelta(seconds=1)
    twilio = CallsResource(ledger, world.calls)
    await twilio.start(stage.twilio_port)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        officers = run_officers(driver)
        await asyncio.sleep(1.0)  # they log in and go available
        load = [
            asyncio.create_task(driver.citizens(http)),
            asyncio.create_task(driver.phones(http)),
        ]
        await asyncio.sleep(options.warm)
        fault_at = time.monotonic()
        back_at = await fault.inject(stage)
        await asyncio.sleep(options.after)
        await driver.finish(options.drain)
        for task in load + officers:
            task.cancel()
        ended = await asyncio.gather(*load, *officers, return_exceptions=True)
        for outcome in ended:  # the driver's own failures are said, never swallowed
            if isinstance(outcome, Exception):
                ledger.notes[f"driver failed: {outcome!r}"[:160]] += 1
    try:
        kept, settled = await checks.read(stage.postgres.url, since, ledger, options.settle)
    finally:
        await twilio.stop()
        world.calls.update(ledger.calls)
    offered_after = [
        c.offered_at - back_at
        for c in ledger.contacts.values()
        if c.offered_at is not None and getattr(c, "attempted_at", 0.0) >= back_at
    ]
    bad = ledger.bad_answers()
    bad_by_kind: dict[str, int] = {}
    for a in bad:
        key = f"{a.kind} {a.status or 'timeout'}{' json' if a.json else ''} {a.code}".strip()
        bad_by_kind[key] = bad_by_kind.get(key, 0) + 1
    hooks = [a for a in ledger.answers if a.kind.startswith("twilio.")]
    return Row(
        fault=fault.name,
        what=fault.what,
        open_contacts=kept.open_contacts,
        double_assignments=ledger.double_assignments() + kept.callsids_doubled,
        chats_acked=kept.acked_chats,
        chats_missing=kept.chats_missing,
        twilio_json=ledger.twilio_json(),
        bad_answers=len(bad),
        recovery=round(min(offered_after), 2) if offered_after else None,
        figures={
            "contacts": {
                "browser_opened": len(ledger.contacts),
                "offered": sum(1 for c in ledger.contacts.values() if c.offered_at),
                "phone_calls": len(ledger.calls),
                "phone_queued": sum(1 for c in ledger.calls.values() if c.queued),
                "in_database": kept.contacts,
            },
            "dispositions": kept.dispositions,
            "open_by_channel": kept.open_by_channel,
            "open": [
                {"session": sid, "channel": channel, "call": ledger.calls[cs].trace}
                if cs in ledger.calls
                else {"session": sid, "channel": channel}
                for sid, channel, cs in kept.open_ids[:10]
            ],
            "webhooks": len(hooks),
            "webhook_p99_ms": _p99([a.seconds for a in hooks]),
            "fault_at": f"@{fault_at - ledger.began:.1f}s, back @{back_at - ledger.began:.1f}s",
            "cut": ledger.cut(),
            "bad_by_kind": dict(sorted(bad_by_kind.items())),
            "notes": dict(ledger.notes),
            "settle_seconds": round(settled, 1),
            "twilio_asked": dict(twilio.asked),
            "answers": ledger.answered_by_status(),
        },
    )


def run_fault(world: World, fault: Fault, options: Options) -> Row:
    stage: Stage | None = None
    try:
        stage = _stage(world, fault, options)
        return asyncio.run(_scenario(stage, fault, world, options))
    except Exception as exc:  # the row says so; the other faults still run
        return Row(fault.name, fault.what, 0, 0, 0, 0, 0, 0, None, error=repr(exc))
    finally:
        if stage is not None:
            _teardown(stage)


def meta(options: Options, started: float) -> dict[str, object]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "options": json.loads(json.dumps(options.__dict__, default=str)),
        "load_average": os.getloadavg(),
    }
