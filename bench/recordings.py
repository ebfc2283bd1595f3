"""What a recorded video session costs the server: chunk uploads at a real bitrate.

``python -m bench recordings [--sessions N] [--seconds S] [--kbps K] [--chunk-seconds C]``

The console's recorder uploads a chunk every few seconds over the officer's
login. Here N sessions upload at K kbit/s each, in real time, to a real
``safecall serve`` (SQLite, its own keys) for S seconds; the server process's
CPU time (from /proc) over that window, divided by N x S, is the share of one
core one recorded session costs (target: at most 3%). The baseline, measured
in the same run with the same client and load, is a bare aiohttp server that
reads each chunk and throws it away: the cost of HTTP alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from cases.sessions import mark_answered, open_contact
from officers.auth import COOKIE, start_login
from officers.models import Officer
from safecall.db import create_engine, session_factory, utcnow
from sealing.data_key import DataKey

SAFECALL = Path(sys.executable).with_name("safecall")

BARE = """
import sys
from aiohttp import web

async def chunk(request):
    await request.read()
    return web.json_response({"ok": True}, status=201)

async def close(request):
    return web.json_response({"id": 1})

async def start(request):
    return web.json_response({"id": 1}, status=201)

app = web.Application(client_max_size=16 * 1024 * 1024)
app.router.add_put("/api/recordings/{id}/chunks/{index}", chunk)
app.router.add_post("/api/sessions/{id}/recordings", start)
app.router.add_post("/api/recordings/{id}/close", close)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def make_sessions(env: dict[str, str], count: int) -> list[tuple[str, str]]:
    """``count`` answered video sessions, each with its own officer's login token."""
    engine = create_engine(env["SAFECALL_DATABASE_URL"])
    db = session_factory(engine)
    data_key = DataKey.load(Path(env["SAFECALL_DATA_KEY_FILE"]))
    out: list[tuple[str, str]] = []
    async with db() as session, session.begin():
        for n in range(count):
            officer = Officer(
                badge=f"BENCH-{n}",
                name=f"Bench officer {n}",
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
            contact, _ = await open_contact(
                session, data_key, service_line="women", channel="browser_video", now=utcnow()
            )
            await mark_answered(session, contact, officer_id=officer.id, answered_at=utcnow())
            out.append((contact.id, token))
    await engine.dispose()
    return out


async def upload(
    base: str, sessions: list[tuple[str, str]], seconds: float, chunk_bytes: int, every: float
) -> int:
    """Every session uploads one chunk every ``every`` s, in real time; the chunks sent."""
    sent = 0

    async def one(session_id: str, token: str, offset: float) -> None:
        nonlocal sent
        headers = {"Origin": base}
        cookies = {COOKIE: token}
        async with aiohttp.ClientSession(cookies=cookies, headers=headers) as http:
            async with http.post(
                f"{base}/api/sessions/{session_id}/recordings",
                json={"media_type": "video/webm;codecs=vp8,opus", "tracks": ["remote", "local"]},
            ) as response:
                assert response.status == 201, await response.text()
                recording = (await response.json())["id"]
            await asyncio.sleep(offset)
            start = time.monotonic()
            index = 0
            while time.monotonic() - start < seconds:
                body = secrets.token_bytes(chunk_bytes)
                async with http.put(
                    f"{base}/api/recordings/{recording}/chunks/{index}", data=body
                ) as response:
                    assert response.status in (200, 201), await response.text()
                sent += 1
                index += 1
                await asyncio.sleep(max(0.0, start + index * every - time.monotonic()))
            async with http.post(f"{base}/api/recordings/{recording}/close", json={}) as response:
                assert response.status == 200, await response.text()

    # Spread the sessions over one chunk interval, as real calls would be.
    await asyncio.gather(
        *(one(sid, token, every * i / len(sessions)) for i, (sid, token) in enumerate(sessions))
    )
    return sent


async def measure(
    base: str, pid: int, sessions: list[tuple[str, str]], seconds: float, size: int, every: float
) -> tuple[float, int]:
    before = cpu_seconds(pid)
    sent = await upload(base, sessions, seconds, size, every)
    used = cpu_seconds(pid) - before
    return used / (len(sessions) * seconds), sent


def prepare(var: Path) -> dict[str, str]:
    """Keys and a migrated SQLite database in ``var``; the server's environment."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECALL_")}
    env.update(
        SAFECALL_VAR_DIR=str(var),
        SAFECALL_DATABASE_URL=f"sqlite+aiosqlite:///{var / 'safecall.db'}",
        SAFECALL_DATA_KEY_FILE=str(var / "data.key"),
        SAFECALL_PORT=str(port),
        SAFECALL_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SAFECALL_LOG_LEVEL="WARNING",
    )
    subprocess.run([str(SAFECALL), "keys"], env=env, check=True, capture_output=True)
    subprocess.run([str(SAFECALL), "migrate"], env=env, check=True, capture_output=True)
    return env


async def run(args: argparse.Namespace, var: Path, env: dict[str, str]) -> None:
    size = int(args.kbps * 1000 / 8 * args.chunk_seconds)
    base = env["SAFECALL_PUBLIC_URL"]
    sessions = await make_sessions(env, args.sessions)
    bare_port = free_port()
    bare_base = f"http://127.0.0.1:{bare_port}"
    with process([sys.executable, "-c", BARE, str(bare_port)], env) as bare:
        await wait_up(bare_base + "/")
        bare_share, _ = await measure(
            bare_base, bare.pid, sessions, args.seconds, size, args.chunk_seconds
        )
    with process([str(SAFECALL), "serve"], env) as server:
        await wait_up(base + "/healthz")
        share, sent = await measure(
            base, server.pid, sessions, args.seconds, size, args.chunk_seconds
        )
    stored = sum(f.stat().st_size for f in (var / "recordings").rglob("*") if f.is_file())

    print(
        f"recordings: {args.sessions} sessions x {args.seconds:.0f} s at {args.kbps} kbit/s, "
        f"a {size // 1024} KiB chunk every {args.chunk_seconds} s ({sent} chunks, "
        f"{stored / 1e6:.1f} MB stored encrypted)"
    )
    print(f"{'server':<34}{'core per session':>18}{'ratio':>8}")
    print(f"{'bare aiohttp (read and discard)':<34}{bare_share * 100:>17.3f}%{1.0:>8.2f}")
    ratio = share / bare_share if bare_share else float("nan")
    print(f"{'safecall (hash, chain, seal, db)':<34}{share * 100:>17.3f}%{ratio:>8.2f}")
    print("target: a recorded video session costs the server at most 3% of a core")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench recordings")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--kbps", type=int, default=800)
    parser.add_argument("--chunk-seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="safecall-bench-") as tmp:
        var = Path(tmp)
        asyncio.run(run(args, var, prepare(var)))


if __name__ == "__main__":
    main(sys.argv[1:])
