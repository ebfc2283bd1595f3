"""Signaling benchmark (not a test): relay rate against a bare echo, idle sockets and their memory.

Servers run in their own processes (the real app from ``create_app``, on
loopback); the clients run in this process, so the server's work is what is
measured.

* **relay** — messages per second from one page's WebSocket to the other's
  through the hub (ICE candidates of about 250 bytes, 128 in flight, the
  receiving page acknowledging every 64 as pages do), next to a bare aiohttp
  WebSocket echo (one socket, the server sends each frame back) measured in
  the same run, rounds interleaved; printed as ratios (of the best rates, and
  the median of each round's ratio), with the server processes' CPU time per
  message (steadier than rates on a busy machine). Three set-ups: one
  process with sessions in memory (the embedded default), one process with
  sessions in Redis, and two processes over Redis (the citizen on one, the
  officer on the other).
* **idle** — how many joined, idle WebSockets one server process holds
  (both sides of N/2 sessions) and its memory growth per socket (VmRSS), the
  clients in a separate process. The file-descriptor limit is raised with
  ``resource.setrlimit`` in both processes.

``python -m bench.signaling [--messages N] [--rounds N] [--connections N] [--redis URL]``.
Server limits (message rate, connections per address) are lifted for the
run. Only ``sig:*`` keys of the Redis database are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

DEFAULT_REDIS = "redis://127.0.0.1:6379/8"  # routing uses 9 and flushes it
WINDOW = 128
ACK_EVERY = 64
CANDIDATE = (
    '{"candidate":"candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx '
    'raddr 0.0.0.0 rport 0 generation 0 ufrag sEMT network-cost 999","sdpMid":"0",'
    '"sdpMLineIndex":0,"usernameFragment":"sEMT"}'
)
"""A trickled ICE candidate, the bulk of signaling traffic (chat also goes to the timeline)."""
DEADLINE = 600.0
"""The whole run stops after this many seconds, whatever happens."""


def raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# ---- server processes -------------------------------------------------------


def _echo_app() -> web.Application:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo)
    return app


def _bare_relay_app() -> web.Application:
    """Two sockets, every frame from one sent on to the other: no protocol at all."""
    sockets: dict[str, web.WebSocketResponse] = {}

    async def forward(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        me = request.query["side"]
        sockets[me] = ws
        other = "officer" if me == "citizen" else "citizen"
        async for message in ws:
            peer = sockets.get(other)
            if message.type is aiohttp.WSMsgType.TEXT and peer is not None:
                await peer.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", forward)
    return app


def _hub_app(var: Path, redis_url: str | None) -> web.Application:
    from safecall.app import create_app
    from safecall.endpoint import endpoint
    from safecall.settings import Settings
    from signaling.routes import CONFIG, HUB

    settings = Settings(
        var_dir=var,
        database_url=f"sqlite+aiosqlite:///{var / 'safecall.db'}",
        data_key_file=var / "data.key",
        audit_key_file=var / "audit.key",
        redis_url=redis_url,
    )
    app = create_app(settings)
    app[CONFIG] = dataclasses.replace(
        app[CONFIG],
        messages_burst=1e9,
        messages_per_second=1e9,
        connections_burst=1e9,
        connections_per_second=1e9,
    )

    @endpoint("Bench only: open sessions.", public=True, document=False)
    async def open_sessions(request: web.Request) -> web.Response:
        hub = request.app[HUB]
        prefix = request.query.get("prefix", "b")
        sessions = []
        for i in range(int(request.query.get("n", "1"))):
            session = f"{prefix}-{i}"
            citizen, officer = await hub.open_session(session)
            sessions.append({"session": session, "citizen": citizen, "officer": officer})
        return web.json_response(sessions)

    @endpoint("Bench only: memory and sockets.", public=True, document=False)
    async def stats(request: web.Request) -> web.Response:
        gc.collect()
        hub = request.app[HUB]
        return web.json_response(
            {
                "rss_kib": rss_kib(os.getpid()),
                "sockets": len(hub.connections),
                "held": len(hub.local),
            }
        )

    app.router.add_get("/bench/open", open_sessions)
    app.router.add_get("/bench/stats", stats)
    return app


def serve(argv: list[str]) -> None:
    """``serve KIND VAR [REDIS]``: run one server on a free loopback port; print it."""
    kind, var = argv[0], Path(argv[1])
    redis_url = argv[2] if len(argv) > 2 else None
    raise_fd_limit()
    if kind == "echo":
        app = _echo_app()
    elif kind == "bare":
        app = _bare_relay_app()
    else:
        app = _hub_app(var, redis_url)

    async def run() -> None:
        from safecall.app import settle_heap

        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        settle_heap()  # as ``safecall serve`` does
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port = runner.addresses[0][1]
        print(f"ready {port}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


class Server:
    """A server process; ``url`` once it listens."""

    def __init__(self, kind: str, var: Path, redis_url: str | None = None) -> None:
        args = [sys.executable, "-m", "bench.signaling", "serve", kind, str(var)]
        if redis_url:
            args.append(redis_url)
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far, all its threads."""
        tasks = Path(f"/proc/{self.process.pid}/task")
        return sum(int((t / "schedstat").read_text().split()[0]) for t in tasks.iterdir()) / 1e9

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# ---- set-up in this process ---------------------------------------------------


def prepare_var(var: Path) -> str:
    """Keys, a migrated SQLite database and one logged-in officer; the login cookie."""
    from audit.log import ensure_signing_key
    from safecall.migrate import upgrade
    from sealing.data_key import DataKey

    DataKey.ensure_file(var / "data.key")
    ensure_signing_key(var / "audit.key")
    url = f"sqlite+aiosqlite:///{var / 'safecall.db'}"
    upgrade(url)
    return asyncio.run(_officer_login(url))


async def _officer_login(url: str) -> str:
    from officers.auth import start_login
    from officers.models import Officer
    from safecall.db import create_engine, session_factory, utcnow

    engine = create_engine(url)
    async with session_factory(engine)() as session:
        officer = Officer(
            badge="BENCH-1",
            name="Bench officer",
            role="officer",
            gender="female",
            languages=["ur"],
            skills={},
            lines=["women"],
            password_hash="not-a-hash",
        )
        session.add(officer)
        await session.flush()
        token = await start_login(session, officer, "127.0.0.1", utcnow(), 12)
        await session.commit()
    await engine.dispose()
    return token


async def forget_sessions(redis_url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    keys = [key async for key in client.scan_iter("sig:*", count=1000)]
    for start in range(0, len(keys), 500):
        await client.delete(*keys[start : start + 500])
    await client.aclose()


# ---- relay rate ---------------------------------------------------------------


async def join(
    http: aiohttp.ClientSession, url: str, session: str, token: str, cookie: str | None = None
) -> aiohttp.ClientWebSocketResponse:
    headers = {"Cookie": f"safecall_session={cookie}"} if cookie else {}
    ws = await http.ws_connect(f"{url}/ws", headers=headers, compress=0, max_msg_size=0)
    await ws.send_str(json.dumps({"v": 1, "type": "join", "session": session, "token": token}))
    while True:
        reply = json.loads((await ws.receive(timeout=10)).data)
        if reply["type"] == "joined":
            return ws
        if reply["type"] == "error":
            raise RuntimeError(reply)


async def pump(
    sender: aiohttp.ClientWebSocketResponse,
    receiver: aiohttp.ClientWebSocketResponse,
    messages: int,
    ack_every: int = 0,
) -> float:
    """Candidates per second from ``sender`` until ``receiver`` has them all, WINDOW in flight.

    With ``ack_every`` the receiver acknowledges every so many, as pages do.
    """
    room = asyncio.Semaphore(WINDOW)
    done = asyncio.Event()

    async def receive() -> None:
        count = 0
        async for frame in receiver:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                break
            count += 1  # every frame is the next candidate (through the hub: seq == count)
            room.release()
            if ack_every and count % ack_every == 0:
                await receiver.send_str(f'{{"v":1,"type":"ack","seq":{count}}}')
            if count == messages:
                done.set()
                return

    reading = asyncio.create_task(receive())
    start = time.perf_counter()
    for seq in range(1, messages + 1):
        await room.acquire()
        await sender.send_str(f'{{"v":1,"type":"candidate","seq":{seq},"candidate":{CANDIDATE}}}')
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - start
    reading.cancel()
    return messages / elapsed


async def relay_rate(
    http: aiohttp.ClientSession,
    citizen_url: str,
    officer_url: str,
    cookie: str,
    messages: int,
    prefix: str,
) -> float:
    """Messages per second from the citizen's socket to the officer's, through the hub."""
    async with http.get(f"{citizen_url}/bench/open?n=1&prefix={prefix}") as response:
        (tokens,) = await response.json()
    sender = await join(http, citizen_url, tokens["session"], tokens["citizen"])
    receiver = await join(http, officer_url, tokens["session"], tokens["officer"], cookie)
    await sender.receive(timeout=10)  # peer-joined

    async def drain_acks() -> None:
        async for _ in sender:  # the server's acks to the sender
            pass

    acks = asyncio.create_task(drain_acks())
    rate = await pump(sender, receiver, messages, ACK_EVERY)
    await sender.close()
    await receiver.close()
    acks.cancel()
    return rate


async def bare_relay_rate(http: aiohttp.ClientSession, url: str, messages: int) -> float:
    """Messages per second through the bare relay: the same two sockets, no protocol."""
    receiver = await http.ws_connect(f"{url}/ws?side=officer", compress=0)
    sender = await http.ws_connect(f"{url}/ws?side=citizen", compress=0)
    rate = await pump(sender, receiver, messages)
    await sender.close()
    await receiver.close()
    return rate


async def echo_rate(http: aiohttp.ClientSession, url: str, messages: int) -> float:
    """Messages per second through a bare aiohttp echo (same frames, same window)."""
    ws = await http.ws_connect(f"{url}/ws", compress=0)
    rate = await pump(ws, ws, messages)
    await ws.close()
    return rate


RateRun = Callable[[aiohttp.ClientSession, str], Awaitable[float]]
"""One measurement: (client, a name unique to the round) -> messages per second."""


async def relay(args: argparse.Namespace, var: Path, cookie: str) -> None:
    await forget_sessions(args.redis)
    echo = Server("echo", var)
    bare = Server("bare", var)
    alone = Server("hub", var)
    shared = Server("hub", var, args.redis)
    other = Server("hub", var, args.redis)
    messages = args.messages

    def through_hub(citizen: Server, officer: Server, calls: int = 1) -> RateRun:
        async def run(http: aiohttp.ClientSession, name: str) -> float:
            each = messages // calls
            rates = [
                relay_rate(http, citizen.url, officer.url, cookie, each, f"{name}-{i}")
                for i in range(calls)
            ]
            return sum(await asyncio.gather(*rates))

        return run

    setups: dict[str, tuple[str, list[Server], RateRun]] = {
        "echo": (
            "bare aiohttp echo (one socket)",
            [echo],
            lambda http, _: echo_rate(http, echo.url, messages),
        ),
        "bare": (
            "bare aiohttp relay (two sockets)",
            [bare],
            lambda http, _: bare_relay_rate(http, bare.url, messages),
        ),
        "memory": ("hub, one process, in memory", [alone], through_hub(alone, alone)),
        "redis": ("hub, one process, Redis store", [shared], through_hub(shared, shared)),
        "two": ("hub, two processes over Redis", [shared, other], through_hub(shared, other)),
        "two16": (
            "  the same, 16 calls at once (sum)",
            [shared, other],
            through_hub(shared, other, calls=16),
        ),
    }
    rates: dict[str, list[float]] = {key: [] for key in setups}
    cpu: dict[str, list[float]] = {key: [] for key in setups}
    try:
        async with aiohttp.ClientSession() as http:
            for n in range(args.rounds):
                for key, (_, servers, run) in setups.items():
                    before = sum(server.cpu_seconds() for server in servers)
                    rates[key].append(await run(http, f"{key}{n}"))
                    used = sum(server.cpu_seconds() for server in servers) - before
                    cpu[key].append(used / messages * 1e6)
    finally:
        for server in (echo, bare, alone, shared, other):
            server.stop()
        await forget_sessions(args.redis)
    best = {k: max(v) for k, v in rates.items()}
    median = {k: statistics.median(v) for k, v in rates.items()}
    print(f"relay: {args.messages} candidates x {args.rounds} rounds, {WINDOW} in flight")
    print(
        f"  {'':34} {'best msg/s':>11} {'median':>9} {'ratio to echo':>14}"
        f" {'per round':>10} {'server CPU us/msg':>18}"
    )
    for key, (label, _, _) in setups.items():
        ratio = best[key] / best["echo"]
        # Rounds are interleaved: a round's ratio compares runs made under the same load.
        per_round = statistics.median(r / e for r, e in zip(rates[key], rates["echo"], strict=True))
        used = statistics.median(cpu[key])
        print(
            f"  {label:34} {best[key]:11,.0f} {median[key]:9,.0f} {ratio:14.2f}"
            f" {per_round:10.2f} {used:18.1f}"
        )
    verdict = "meets" if best["memory"] / best["echo"] >= 0.6 else "MISSES"
    print(f"  one process in memory {verdict} the 0.6 target (ratio of the best rates)")


# ---- idle sockets ---------------------------------------------------------------


def hold(argv: list[str]) -> None:
    """``hold URL COOKIE SESSIONS_JSON``: join every side, report, then idle until stdin closes."""
    url, cookie, path = argv
    raise_fd_limit()
    sessions = json.loads(Path(path).read_text())

    async def run() -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            pending = [
                (s["session"], s[side], cookie if side == "officer" else None)
                for s in sessions
                for side in ("citizen", "officer")
            ]

            async def keep_reading(ws: aiohttp.ClientWebSocketResponse) -> None:
                async for _ in ws:  # answers pings (autoping), takes peer-joined
                    pass

            # Each socket is read from the moment it joins: a socket left unread
            # while the others join would miss the server's heartbeat and be closed.
            readers: list[asyncio.Task[None]] = []
            for start in range(0, len(pending), 200):
                batch = pending[start : start + 200]
                joined = await asyncio.gather(*(join(http, url, *item) for item in batch))
                readers += [asyncio.create_task(keep_reading(ws)) for ws in joined]
            print(f"held {len(readers)}", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
            for task in readers:
                task.cancel()

    asyncio.run(run())


async def idle(args: argparse.Namespace, var: Path, cookie: str) -> None:
    limit = raise_fd_limit()
    wanted = args.connections
    if wanted + 200 > limit:
        print(f"idle: the file-descriptor limit is {limit}; holding {limit - 200} sockets")
        wanted = limit - 200
    server = Server("hub", var)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/bench/open?n={wanted // 2}&prefix=idle") as r:
                sessions = await r.json()
            async with http.get(f"{server.url}/bench/stats") as r:
                before = await r.json()
            path = var / "sessions.json"
            path.write_text(json.dumps(sessions))
            start = time.perf_counter()
            clients = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "bench.signaling", "hold", server.url, cookie, str(path)],
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert clients.stdout is not None and clients.stdin is not None
            line = (await asyncio.wait_for(clients.stdout.readline(), 300)).decode()
            joined_in = time.perf_counter() - start
            await asyncio.sleep(3)  # idle: heartbeats only
            async with http.get(f"{server.url}/bench/stats") as r:
                after = await r.json()
            clients.stdin.close()
            await asyncio.wait_for(clients.wait(), 30)
    finally:
        server.stop()
    held = after["sockets"]
    per = (after["rss_kib"] - before["rss_kib"]) / max(held, 1)
    print(f"idle: {line.strip()} by the client process in {joined_in:.1f} s")
    print(f"  server holds {held} sockets ({after['held']} sides of sessions joined)")
    print(
        f"  server memory {before['rss_kib'] / 1024:.0f} MiB -> {after['rss_kib'] / 1024:.0f} MiB:"
        f" {per:.1f} KiB per socket (target < 40 KB at 10,000)"
    )


# ---- entry ------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    if argv and argv[0] == "serve":
        serve(argv[1:])
        return
    if argv and argv[0] == "hold":
        hold(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench.signaling", description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    parser.add_argument("--skip-idle", action="store_true")
    args = parser.parse_args(argv)

    async def run(var: Path, cookie: str) -> None:
        async with asyncio.timeout(DEADLINE):
            await relay(args, var, cookie)
            if not args.skip_idle:
                await idle(args, var, cookie)

    with tempfile.TemporaryDirectory(prefix="safecall-bench-") as tmp:
        var = Path(tmp)
        cookie = prepare_var(var)
        asyncio.run(run(var, cookie))


if __name__ == "__main__":
    main(sys.argv[1:])
