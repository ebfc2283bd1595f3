"""Webhook latency benchmark (not a test): Twilio webhooks at a fixed rate, beside a bare handler.

The server runs in its own process (the real app from ``create_app``, as
``safecall serve`` builds it, on loopback); the load generator runs in this
one and sends form posts signed as Twilio signs them (the real
``RequestValidator``), for the public URL the server checks against.

* **Open loop.** Requests go out at a fixed rate (200/s by default) on a
  schedule fixed in advance: call *j* starts at ``j / call_rate`` and its
  step *i* is due ``i * think`` seconds later. A step whose previous answer is
  late goes out as soon as it arrives, and every latency is measured from the
  step's *scheduled* time, so a slow server cannot hide its queue by slowing
  the sender (coordinated omission).
* **A realistic mix.** Each simulated call walks the menu as a caller does,
  following the ``<Gather action>`` of each answer: ``voice``, then her keys
  (``question``), the last of which opens her contact and puts her in line
  (``queue``: open_contact + hub session + router enqueue + the hold TwiML),
  then ``wait`` turns of the hold loop, then Twilio's ``status`` callback
  (``completed``: she hung up while waiting — the task leaves the line, the
  contact ends ``abandoned``). Callers: 40% give their number and accept a
  callback, 30% stay anonymous, 15% press "I am in danger now", 10% press the
  silent key, 5% press wrong keys until the menu gives up on the question.
* **Baseline.** A bare aiohttp handler that reads the form and answers a
  constant TwiML, at the same rate from the same generator, measured in the
  same run just before each target.

Targets: SQLite (the embedded default, no Redis) and PostgreSQL (127.0.0.1,
role safecall/safecall; a ``safecall_bench_webhooks`` database is made and
dropped), each with the in-process router unless ``--redis URL`` is given.
After each run the contacts in the database are counted: one per call that
reached the queue, none lost or doubled.

* **The steady part.** Calls start on schedule for ``--seconds``; the full
  rate is reached once the first call has walked all its steps (9 s), so the
  latencies reported are those of requests scheduled from then until
  ``--seconds`` (the rate reached there is printed), not the ramp up and down.

``python -m bench webhooks [--rate 200] [--seconds 30] [--db sqlite,postgresql]
[--redis URL] [--profile DIR]``. ``--profile`` runs the server under cProfile
and prints where the ``queue`` step spends its time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

PUBLIC_URL = "https://helpline.example.org"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "bench-token-" + "x" * 20
POSTGRES_ADMIN = "postgresql+asyncpg://safecall:safecall@127.0.0.1:5432/postgres"
PG_DATABASE = "safecall_bench_webhooks"
THINK = 1.0
"""Seconds between one call's steps on the schedule (a caller listens, then presses)."""
WAITS = 3
TARGET_P99_MS = 20.0
KINDS = ("voice", "question", "queue", "wait", "status")

CONSTANT_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="'
    + PUBLIC_URL
    + '/twilio/ivr/line?lang=ur&amp;in=1" input="dtmf speech" numDigits="1" timeout="6">'
    "<Play>https://helpline.example.org/twilio/prompts/ur/line.wav</Play></Gather>"
    '<Redirect method="POST">'
    + PUBLIC_URL
    + "/twilio/ivr/line?lang=ur&amp;in=1</Redirect></Response>"
)

# (share of callers, the keys she presses in the menu)
MIX: tuple[tuple[float, tuple[str, ...]], ...] = (
    (0.40, ("1", "1", "2", "2", "1")),  # Urdu, women, category, not anonymous, callback safe
    (0.30, ("2", "1", "1", "1")),  # English, women, category, anonymous
    (0.15, ("1", "4")),  # Urdu, "I am in danger now"
    (0.10, ("0",)),  # the silent key
    (0.05, ("3", "7", "7", "7")),  # Punjabi, then a key the line question does not know x3
)


# ---- server processes -------------------------------------------------------


def _bare_app() -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(text=CONSTANT_TWIML, content_type="application/xml")

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    return app


def _real_app(var: Path, database_url: str, redis_url: str | None) -> web.Application:
    from safecall.app import create_app
    from safecall.settings import Settings

    settings = Settings(
        var_dir=var,
        database_url=database_url,
        redis_url=redis_url,
        data_key_file=var / "data.key",
        audit_key_file=var / "audit.key",
        recordings_key_file=var / "recordings.key",
        evidence_key_file=var / "evidence.key",
        public_url=PUBLIC_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base="http://127.0.0.1:9",
        twilio_caller_id="+15005550006",
        log_level="WARNING",
    )
    return create_app(settings)


def serve(argv: list[str]) -> None:
    """``serve bare`` or ``serve app VAR DATABASE_URL [REDIS]``: one server on a free port."""
    kind = argv[0]
    app = _bare_app() if kind == "bare" else _real_app(Path(argv[1]), argv[2], _arg(argv, 3))
    profile_to = os.environ.get("BENCH_PROFILE")
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()

    async def run() -> None:
        from safecall.app import settle_heap

        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        settle_heap()  # as ``safecall serve`` does
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print(f"ready {runner.addresses[0][1]}", flush=True)
        if profiler is not None:
            profiler.enable()
        await stop.wait()
        if profiler is not None and profile_to:
            profiler.disable()
            profiler.dump_stats(profile_to)
        await runner.cleanup()

    import logging

    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def _arg(argv: list[str], n: int) -> str | None:
    return argv[n] if len(argv) > n and argv[n] else None


class Server:
    """A server process; ``url`` once it listens."""

    def __init__(
        self, args: list[str], profile: Path | None = None, tree: Path | None = None
    ) -> None:
        env = dict(os.environ)
        if profile is not None:
            env["BENCH_PROFILE"] = str(profile)
        if tree is not None:  # the same benchmark, served from another copy of the code
            env["PYTHONPATH"] = str(tree)
        command = [sys.executable, "-m", "bench.webhooks", "serve", *args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env=env, cwd=tree
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError(f"server {args[0]} did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def cpu_seconds(self) -> float:
        """User and system CPU the server process has used so far (all its threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---- databases ----------------------------------------------------------------


def prepare_keys(var: Path) -> None:
    from audit.log import ensure_signing_key
    from recordings.keys import RecordingsKey
    from sealing.data_key import DataKey

    DataKey.ensure_file(var / "data.key")
    ensure_signing_key(var / "audit.key")
    RecordingsKey.ensure_file(var / "recordings.key")
    ensure_signing_key(var / "evidence.key")


async def _admin_sql(sql: str) -> None:
    from sqlalchemy import text

    from safecall.db import create_engine

    engine = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


def prepare_database(kind: str, var: Path) -> str:
    """A fresh, migrated database of ``kind``; its URL."""
    from sqlalchemy.engine import make_url

    from safecall.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{var / 'safecall.db'}"
    else:
        asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        asyncio.run(_admin_sql(f'CREATE DATABASE "{PG_DATABASE}"'))
        url = make_url(POSTGRES_ADMIN).set(database=PG_DATABASE).render_as_string(False)
    upgrade(url)
    return url


def drop_database(kind: str) -> None:
    if kind == "postgresql":
        asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))


async def count_contacts(url: str) -> tuple[int, int]:
    """Contacts, and contacts whose CallSid leg appears more than once (should be 0)."""
    from sqlalchemy import func, select

    from cases.models import ContactSession, Leg
    from safecall.db import create_engine

    engine = create_engine(url)
    async with engine.connect() as conn:
        contacts = await conn.scalar(select(func.count()).select_from(ContactSession))
        doubled = await conn.scalar(
            select(func.count()).select_from(
                select(Leg.external_id)
                .where(Leg.external_id.is_not(None))
                .group_by(Leg.external_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
    await engine.dispose()
    return int(contacts or 0), int(doubled or 0)


# ---- the load generator -------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    queued: int = 0
    sent: int = 0
    cpu: float = 0.0
    """Server CPU seconds during the run (warm-up included)."""


def _signed(url: str, params: dict[str, str]) -> dict[str, str]:
    from twilio.request_validator import RequestValidator

    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, params)}


def _caller() -> str:
    return "+92300" + "".join(random.choice("0123456789") for _ in range(7))


def _params(sid: str, caller: str, **extra: str) -> dict[str, str]:
    params = {
        "CallSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": caller,
        "To": "+9215",
        "Caller": caller,
        "Called": "+9215",
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params


def _next_url(text: str) -> str | None:
    """The action of the answer's ``<Gather>`` (the next question), if it asks one."""
    root = ET.fromstring(text)
    gather = root.find("Gather")
    return None if gather is None else gather.get("action")


class Load:
    """One run of the schedule against one server.

    Latencies are kept for requests scheduled inside ``window`` (seconds after
    ``start``): the steady part of the run, once the first calls have walked
    every step and the full rate is reached, before the last calls thin out.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base: str,
        bare: bool,
        start: float,
        window: tuple[float, float] = (0.0, float("inf")),
    ) -> None:
        self.http, self.base, self.bare, self.start = http, base, bare, start
        self.window = window
        self.results = Results()

    async def post(self, kind: str, url: str, params: dict[str, str], due: float) -> str | None:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.results.sent += 1
        try:
            async with self.http.post(
                self.base + path, data=params, headers=_signed(url, params)
            ) as response:
                text = await response.text()
                status = response.status
        except aiohttp.ClientError:
            status, text = 0, ""
        if self.window[0] <= due - self.start < self.window[1]:
            self.results.latencies[kind].append((time.perf_counter() - due) * 1000)
        if status != 200:
            self.results.errors[kind] += 1
            return None
        return text

    async def call(self, keys: tuple[str, ...], begins: float) -> None:
        sid = "CA" + secrets.token_hex(16)
        caller = _caller()
        due = begins
        text = await self.post(
            "voice", PUBLIC_URL + "/twilio/voice", _params(sid, caller, CallStatus="ringing"), due
        )
        for n, key in enumerate(keys):
            if text is None:
                return
            action = (
                PUBLIC_URL + "/twilio/ivr/language?lang=ur&in=1" if self.bare else _next_url(text)
            )
            if action is None:
                return
            due += THINK
            last = n == len(keys) - 1
            text = await self.post(
                "queue" if last else "question", action, _params(sid, caller, Digits=key), due
            )
        if text is None:
            return
        if not self.bare and _next_url(text) is not None and "/twilio/ivr/hold-key" not in text:
            self.results.errors["queue"] += 1  # she should be in line, not asked again
        self.results.queued += 1
        for _ in range(WAITS):
            due += THINK
            await self.post("wait", PUBLIC_URL + "/twilio/ivr/wait", _params(sid, caller), due)
        due += THINK
        await self.post(
            "status",
            PUBLIC_URL + "/twilio/status",
            _params(sid, caller, CallStatus="completed", CallDuration="42"),
            due,
        )


def _steps(keys: tuple[str, ...]) -> int:
    return 1 + len(keys) + WAITS + 1


def _script(n: int) -> tuple[str, ...]:
    """The n-th caller's keys, in the mix's proportions (spread evenly, not random)."""
    point = (n * 0.6180339887) % 1.0
    for share, keys in MIX:
        if point < share:
            return keys
        point -= share
    return MIX[0][1]


def ramp_seconds() -> float:
    """How long the schedule takes to reach its full rate: the longest call's length."""
    return (max(_steps(keys) for _, keys in MIX) - 1) * THINK


async def drive(base: str, rate: float, seconds: float, bare: bool) -> Results:
    """Calls at the rate that makes ``rate`` requests per second, for ``seconds``;
    latencies of the steady part (after :func:`ramp_seconds`, up to ``seconds``)."""
    mean_steps = sum(share * _steps(keys) for share, keys in MIX)
    call_rate = rate / mean_steps
    calls = max(1, int(call_rate * seconds))
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        warm = Load(http, base, bare, time.perf_counter())
        await asyncio.gather(*(warm.call(_script(n), warm.start + n / call_rate) for n in range(8)))
        start = time.perf_counter() + 0.2
        load = Load(http, base, bare, start, (ramp_seconds(), seconds))
        await asyncio.gather(*(load.call(_script(n), start + n / call_rate) for n in range(calls)))
    return load.results


# ---- the run ------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _row(label: str, values: list[float], errors: int, base_p99: float | None) -> str:
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    ratio = "" if base_p99 is None else f"{p99 / base_p99:8.1f}"
    return (
        f"  {label:10} {len(values):6} {p50:8.1f} {p99:8.1f} {max(values, default=0):8.1f}"
        f" {errors:6} {ratio}"
    )


def report(
    name: str, baseline: Results, results: Results, contacts: tuple[int, int], seconds: float
) -> None:
    every = [v for values in results.latencies.values() for v in values]
    base_all = [v for values in baseline.latencies.values() for v in values]
    base_p99 = percentile(base_all, 0.99)
    steady = max(1e-9, seconds - ramp_seconds())
    print(
        f"\n{name}: {results.sent} webhooks, {results.queued} calls put in line; "
        f"{len(every)} scheduled in the steady {steady:.0f} s ({len(every) / steady:.0f}/s), "
        f"baseline {len(base_all) / steady:.0f}/s"
    )
    print(
        f"  {'step':10} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6} p99/base"
    )
    print(_row("baseline", base_all, sum(baseline.errors.values()), None))
    for kind in KINDS:
        print(_row(kind, results.latencies[kind], results.errors[kind], base_p99))
    print(_row("all", every, sum(results.errors.values()), base_p99))
    opened, doubled = contacts
    print(f"  contacts in the database: {opened} (calls put in line: {results.queued});")
    print(f"  CallSids with two contacts: {doubled}")
    base_cpu = baseline.cpu / max(1, baseline.sent) * 1000
    cpu = results.cpu / max(1, results.sent) * 1000
    print(
        f"  server CPU per webhook: {cpu:.2f} ms (baseline {base_cpu:.2f} ms, "
        f"ratio {cpu / base_cpu if base_cpu else float('nan'):.1f})"
    )
    p99 = percentile(every, 0.99)
    verdict = "meets" if p99 < TARGET_P99_MS else "misses"
    print(f"  p99 of all webhooks {p99:.1f} ms {verdict} the {TARGET_P99_MS:.0f} ms target")


def _profile_summary(path: Path) -> None:
    import pstats

    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative")
    print(f"\n  profile of the server (cumulative, {path}):")
    stats.print_stats(r"ivr/|cases/|signaling/hub|queues/router|sqlalchemy/ext/asyncio", 30)


def measure_app(
    args: argparse.Namespace, kind: str, tree: Path | None
) -> tuple[Results, tuple[int, int]]:
    """One run against the app (from ``tree`` when given) on a fresh database."""
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        var = Path(tmp)
        prepare_keys(var)
        url = prepare_database(kind, var)
        try:
            profile = None
            if args.profile and tree is None:
                profile = args.profile / f"{kind}.pstats"
            server = Server(["app", str(var), url, args.redis or ""], profile, tree)
            try:
                used = server.cpu_seconds()
                results = asyncio.run(drive(server.url, args.rate, args.seconds, bare=False))
                results.cpu = server.cpu_seconds() - used
            finally:
                server.stop()
            contacts = asyncio.run(count_contacts(url))
        finally:
            drop_database(kind)
    return results, contacts


def run(args: argparse.Namespace) -> None:
    for kind in args.db:
        bare = Server(["bare"])
        try:
            used = bare.cpu_seconds()
            baseline = asyncio.run(drive(bare.url, args.rate, args.seconds, bare=True))
            baseline.cpu = bare.cpu_seconds() - used
        finally:
            bare.stop()
        store = f"Redis {args.redis}" if args.redis else "router in memory"
        if args.before is not None:
            before, contacts = measure_app(args, kind, args.before)
            title = f"{kind} ({store}) at {args.rate:.0f}/s, code from {args.before}"
            report(title, baseline, before, contacts, args.seconds)
        results, contacts = measure_app(args, kind, None)
        report(f"{kind} ({store}) at {args.rate:.0f}/s", baseline, results, contacts, args.seconds)
        if args.profile:
            _profile_summary(args.profile / f"{kind}.pstats")


def main(argv: list[str]) -> None:
    if argv and argv[0] == "serve":
        serve(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench webhooks")
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--db", type=lambda s: s.split(","), default=["sqlite", "postgresql"])
    parser.add_argument("--redis", default=None, help="a Redis URL for the router (db 9)")
    parser.add_argument("--profile", type=Path, default=None, help="a directory for pstats")
    parser.add_argument(
        "--before", type=Path, default=None, help="another source tree to measure in the same run"
    )
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(
        f"webhooks: open loop at {args.rate:.0f}/s for {args.seconds:.0f} s per target, "
        f"latency from each request's scheduled time; {THINK:.0f} s between a call's steps; "
        f"latencies of requests scheduled from {ramp_seconds():.0f} s (full rate) "
        f"to {args.seconds:.0f} s"
    )
    if args.seconds <= ramp_seconds():
        parser.error(f"--seconds must be more than the ramp ({ramp_seconds():.0f} s)")
    run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
