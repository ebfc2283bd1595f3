"""Bridge benchmark (not a test): server CPU per bridged call-minute, and late frames.

Servers run in their own processes on loopback; the clients (Twilio's streams
and the officers' aiortc pages) run in this process, so the server's CPU
(user + system, every thread, from ``/proc/<pid>/stat``) is what is measured.

* **bare** — ``--calls`` plain aiortc Opus legs in one server process: each
  sends a 20 ms tone frame every 20 ms (encoded by aiortc: 8 -> 48 kHz, Opus)
  and receives and decodes the client's Opus. The baseline: one leg's CPU.
* **pcmu** / **opus** — ``--calls`` phone calls through the real app's
  ``/twilio/media`` (signed upgrade, stream token, in-process signaling side,
  aiortc leg to an officer page on ``/ws``), both directions carrying audio
  all the time; the officer's page accepts PCMU (what Chrome does) or only Opus.

Printed: CPU-seconds per call-minute, as a ratio to one bare leg measured in
the same run (target: PCMU at most 0.3), calls one core would carry, and the
share of frames to Twilio sent more than 20 ms after their tick (target under
1%), next to the share of ticks an idle 20 ms asyncio clock in a process of
its own wakes that late over the same window: on a shared machine, the floor
the host itself sets. The clients send pre-encoded audio so that they stay
light, and run niced (+10) so that the server measured is not starved by its
own load.

``python -m bench bridge [--calls N] [--seconds S] [--only PCMU|opus] [--profile DIR]``
(``--profile``: py-spy's samples of each measured server, collapsed stacks, in DIR)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fractions
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
PUBLIC_URL = "https://bench.example.org"
STREAM_URL = "wss://bench.example.org/twilio/media"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """``(user, system)`` CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def tone(seconds: float, rate: int = 8000, frequency: float = 440.0) -> np.ndarray[Any, Any]:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * frequency * t) * 8000).astype(np.int16)


# ---- servers ------------------------------------------------------------------


def _app_server(var: Path) -> web.Application:
    from media import stream_token
    from media.routes import BRIDGES
    from safecall.app import create_app
    from safecall.endpoint import endpoint
    from safecall.settings import Settings
    from signaling.routes import HUB

    settings = Settings(
        var_dir=var,
        database_url=f"sqlite+aiosqlite:///{var / 'safecall.db'}",
        data_key_file=var / "data.key",
        audit_key_file=var / "audit.key",
        recordings_key_file=var / "recordings.key",
        evidence_key_file=var / "evidence.key",
        public_url=PUBLIC_URL,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base="http://127.0.0.1:9",  # nothing is hung up: the callers say stop
        media_ice_hosts=("127.0.0.1",),
    )
    app = create_app(settings)

    @endpoint("Bench only: open phone calls.", public=True, document=False)
    async def open_calls(request: web.Request) -> web.Response:
        hub = request.app[HUB]
        calls = []
        for i in range(int(request.query["n"])):
            session = f"{request.query['prefix']}-{i}"
            await hub.open_session(session)
            call_sid = "CA" + secrets.token_hex(16)
            calls.append(
                {
                    "session": session,
                    "call_sid": call_sid,
                    "token": stream_token.issue(request.app, session_id=session, call_sid=call_sid),
                    "officer": hub.join_token(session, "officer"),
                }
            )
        return web.json_response(calls)

    @endpoint("Bench only: the bridges' figures.", public=True, document=False)
    async def stats(request: web.Request) -> web.Response:
        bridges = list(request.app[BRIDGES])
        return web.json_response(
            {
                "bridges": len(bridges),
                "codecs": sorted({str(b.codec) for b in bridges}),
                "frames": sum(b.outbound.stats.frames for b in bridges),
                "late": sum(b.outbound.stats.late for b in bridges),
                "dropped": sum(b.outbound.stats.dropped for b in bridges),
                "frames_in": sum(b.frames_in for b in bridges),
            }
        )

    app.router.add_get("/bench/calls", open_calls)
    app.router.add_get("/bench/stats", stats)
    return app


def _bare_server() -> web.Application:
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    from media.ice import configuration, pinned

    class Tone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.samples = tone(1.0)
            self.pts = 0
            self.start = time.monotonic()

        async def recv(self) -> Any:
            from av import AudioFrame

            await asyncio.sleep(max(0.0, self.start + self.pts / 8000 - time.monotonic()))
            at = self.pts % 8000
            frame = AudioFrame.from_ndarray(
                self.samples[at : at + 160].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = 8000, self.pts
            frame.time_base = fractions.Fraction(1, 8000)
            self.pts += 160
            return frame

    pcs: set[Any] = set()

    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        pc = RTCPeerConnection(configuration())
        pcs.add(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            async def drain() -> None:
                with contextlib.suppress(MediaStreamError):
                    while True:
                        await track.recv()

            asyncio.ensure_future(drain())  # noqa: RUF006 (lives as long as the process)

        pc.addTrack(Tone())
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="offer"))
        with pinned(("127.0.0.1",)):
            await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp})

    app = web.Application()
    app.router.add_post("/bench/offer", offer)
    return app


def serve(argv: list[str]) -> None:
    """``serve app|bare VAR``: run one server on a free loopback port; print it."""
    kind, var = argv[0], Path(argv[1])
    app = _app_server(var) if kind == "app" else _bare_server()

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"ready {runner.addresses[0][1]}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def idle_clock(seconds: float, step: float = 0.02) -> float:
    """The share of ticks an idle asyncio 20 ms clock wakes more than ``step`` late.

    Run in its own process at the server's priority while the server is
    measured: how late the machine itself (other processes on the shared
    cores) makes a timer, the floor under the bridge's own figure.
    """

    async def run() -> float:
        start, ticks, late = time.monotonic(), 0, 0
        while time.monotonic() - start < seconds:
            ticks += 1
            due = start + ticks * step
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            late += time.monotonic() - due > step
        return late / ticks

    return asyncio.run(run())


class IdleClock:
    """:func:`idle_clock` in a process of its own, over the measured window."""

    def __init__(self, seconds: float) -> None:
        args = [sys.executable, "-m", "bench.bridge", "clock", str(seconds)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, text=True, preexec_fn=_normal_priority
        )

    def late(self) -> float:
        out, _ = self.process.communicate(timeout=60)
        return float(out.strip())


PROFILE_DIR: Path | None = None
"""``--profile DIR``: where py-spy's samples of each measured server go (collapsed stacks)."""

CLIENT_NICENESS = 10
"""The clients yield the CPU to the server being measured (they share two cores)."""


def _normal_priority() -> None:
    with contextlib.suppress(PermissionError):
        os.nice(-CLIENT_NICENESS)  # undo the clients' niceness the server inherited


class Server:
    def __init__(self, kind: str, var: Path) -> None:
        args = [sys.executable, "-m", "bench.bridge", "serve", kind, str(var)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, text=True, preexec_fn=_normal_priority
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def cpu(self) -> tuple[float, float]:
        return cpu_seconds(self.process.pid)

    def profile(self, seconds: float, name: str) -> subprocess.Popen[bytes] | None:
        """With ``--profile DIR``: py-spy samples the server while it is measured."""
        if PROFILE_DIR is None:
            return None
        out = PROFILE_DIR / f"{name}.txt"
        beside = Path(sys.executable).with_name("py-spy")  # installed in the venv, or on PATH
        spy = str(beside) if beside.exists() else "py-spy"
        args = [spy, "record", "--pid", str(self.process.pid), "--duration"]
        args += [str(int(seconds)), "--rate", "200", "--format", "raw", "--threads"]
        args += ["--nonblocking", "--output", str(out)]
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# ---- clients ------------------------------------------------------------------


def encoded_packets(codec: str) -> list[bytes]:
    """One second of a tone, encoded once: the officer pages send these in a loop."""
    from av import AudioFrame, CodecContext

    samples = tone(1.0)
    if codec == "PCMU":
        from media import mulaw

        data = mulaw.encode(samples)
        return [data[i : i + 160] for i in range(0, len(data), 160)]
    from aiortc.codecs.opus import OpusEncoder

    encoder = OpusEncoder()
    out: list[bytes] = []
    for i in range(0, samples.size, 160):
        frame = AudioFrame.from_ndarray(samples[i : i + 160].reshape(1, -1), "s16", "mono")
        frame.sample_rate, frame.pts = 8000, i
        frame.time_base = fractions.Fraction(1, 8000)
        payloads, _ = encoder.encode(frame)
        out += payloads
    del CodecContext
    return out


def packet_track(codec: str) -> Any:
    """A track of pre-encoded packets, one per 20 ms."""
    from aiortc.mediastreams import MediaStreamTrack
    from av.packet import Packet

    payloads = encoded_packets(codec)
    rate = 8000 if codec == "PCMU" else 48000

    class Packets(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.n = 0
            self.start = time.monotonic()

        async def recv(self) -> Any:
            await asyncio.sleep(max(0.0, self.start + self.n * 0.02 - time.monotonic()))
            packet = Packet(payloads[self.n % len(payloads)])
            packet.pts = self.n * rate // 50
            packet.time_base = fractions.Fraction(1, rate)
            self.n += 1
            return packet

    return Packets()


async def drain_track(track: Any) -> None:
    from aiortc.mediastreams import MediaStreamError

    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


class Call:
    """Twilio's stream and the officer's page of one bridged call."""

    def __init__(self, http: aiohttp.ClientSession, url: str, info: dict[str, Any]) -> None:
        self.http, self.url, self.info = http, url, info
        self.connected = asyncio.Event()
        self.tasks: list[asyncio.Task[Any]] = []
        self.pc: Any = None
        self.twilio: aiohttp.ClientWebSocketResponse | None = None
        self.page: aiohttp.ClientWebSocketResponse | None = None

    async def start(self, cookie: str, codec: str) -> None:
        from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription

        from media.ice import configuration, pinned

        ws_url = self.url.replace("http://", "ws://")
        self.page = await self.http.ws_connect(
            ws_url + "/ws", headers={"Cookie": f"safecall_session={cookie}"}
        )
        page = self.page
        seq = 0

        async def send(kind: str, **fields: Any) -> None:
            nonlocal seq
            if kind in ("answer", "hangup"):
                seq += 1
                fields["seq"] = seq
            await page.send_str(json.dumps({"v": 1, "type": kind, **fields}))

        async def officer() -> None:
            async for frame in page:
                message = json.loads(frame.data)
                if isinstance(message.get("seq"), int) and message["type"] != "ack":
                    await send("ack", seq=message["seq"])
                if message["type"] == "offer":
                    pc = RTCPeerConnection(configuration())
                    self.pc = pc
                    transceiver = pc.addTransceiver(packet_track(codec), direction="sendrecv")
                    caps = RTCRtpSender.getCapabilities("audio").codecs
                    mime = "audio/PCMU" if codec == "PCMU" else "audio/opus"
                    transceiver.setCodecPreferences([c for c in caps if c.mimeType == mime])

                    @pc.on("track")
                    def on_track(track: Any) -> None:
                        self.tasks.append(asyncio.create_task(drain_track(track)))

                    pc.on("connectionstatechange", _on_connected(pc, self.connected))

                    await pc.setRemoteDescription(
                        RTCSessionDescription(sdp=message["sdp"], type="offer")
                    )
                    with pinned(("127.0.0.1",)):
                        await pc.setLocalDescription(await pc.createAnswer())
                    await send("answer", sdp=pc.localDescription.sdp)

        await send("join", session=self.info["session"], token=self.info["officer"])
        self.tasks.append(asyncio.create_task(officer()))
        self.tasks.append(asyncio.create_task(self._twilio()))

    async def _twilio(self) -> None:
        from media.mulaw import encode
        from tests.twilio.signing import signature

        ws_url = self.url.replace("http://", "ws://")
        self.twilio = await self.http.ws_connect(
            ws_url + "/twilio/media",
            headers={"X-Twilio-Signature": signature(AUTH_TOKEN, STREAM_URL)},
        )
        twilio = self.twilio
        stream_sid = "MZ" + secrets.token_hex(16)
        await twilio.send_str(json.dumps({"event": "connected", "protocol": "Call"}))
        start = {
            "streamSid": stream_sid,
            "callSid": self.info["call_sid"],
            "tracks": ["inbound"],
            "customParameters": {"token": self.info["token"]},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        await twilio.send_str(json.dumps({"event": "start", "start": start}))
        data = encode(tone(1.0, frequency=300.0))
        frames = [base64.b64encode(data[i : i + 160]).decode() for i in range(0, len(data), 160)]

        async def echo_marks() -> None:
            async for frame in twilio:
                message = json.loads(frame.data)
                if message["event"] == "mark":
                    await twilio.send_str(frame.data)

        self.tasks.append(asyncio.create_task(echo_marks()))
        began, n = time.monotonic(), 0
        while True:
            media = {"track": "inbound", "chunk": str(n + 1), "payload": frames[n % len(frames)]}
            await twilio.send_str(
                json.dumps({"event": "media", "streamSid": stream_sid, "media": media})
            )
            n += 1
            await asyncio.sleep(max(0.0, began + n * 0.02 - time.monotonic()))

    async def stop(self) -> None:
        if self.twilio is not None and not self.twilio.closed:
            with contextlib.suppress(Exception):
                await self.twilio.send_str(json.dumps({"event": "stop", "stop": {}}))
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for ws in (self.twilio, self.page):
            if ws is not None:
                await ws.close()
        if self.pc is not None:
            await self.pc.close()


def _on_connected(pc: Any, event: asyncio.Event) -> Any:
    def changed() -> None:
        if pc.connectionState == "connected":
            event.set()

    return changed


def per_minute(
    before: tuple[float, float], after: tuple[float, float], elapsed: float, calls: int
) -> tuple[float, float]:
    """``(user + system, user)`` CPU-seconds per call-minute."""
    user, system = after[0] - before[0], after[1] - before[1]
    scale = 1 / (elapsed / 60) / calls
    return (user + system) * scale, user * scale


async def bare_legs(server: Server, calls: int, seconds: float) -> tuple[float, float]:
    """CPU-seconds per leg-minute of ``calls`` bare Opus legs (all, user only)."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from media.ice import configuration, pinned

    pcs = []
    connected = []
    async with aiohttp.ClientSession() as http:
        for _ in range(calls):
            pc = RTCPeerConnection(configuration())
            pc.addTrack(packet_track("opus"))
            event = asyncio.Event()
            pc.on("connectionstatechange", _on_connected(pc, event))
            pc.on("track", lambda track: asyncio.ensure_future(drain_track(track)))
            with pinned(("127.0.0.1",)):
                await pc.setLocalDescription(await pc.createOffer())
            async with http.post(
                server.url + "/bench/offer", json={"sdp": pc.localDescription.sdp}
            ) as r:
                answer = await r.json()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            pcs.append(pc)
            connected.append(event)
        async with asyncio.timeout(30):
            await asyncio.gather(*(e.wait() for e in connected))
        await asyncio.sleep(3)  # warm up
        profiler = server.profile(seconds, "bare")
        before, t0 = server.cpu(), time.monotonic()
        await asyncio.sleep(seconds)
        after, elapsed = server.cpu(), time.monotonic() - t0
        if profiler is not None:
            profiler.wait()
    for pc in pcs:
        await pc.close()
    return per_minute(before, after, elapsed, calls)


async def bridged_calls(
    server: Server, cookie: str, codec: str, calls: int, seconds: float
) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + f"/bench/calls?n={calls}&prefix={codec}") as r:
            infos = await r.json()
        running = [Call(http, server.url, info) for info in infos]
        for call in running:
            await call.start(cookie, codec)
        async with asyncio.timeout(60):
            await asyncio.gather(*(c.connected.wait() for c in running))
        await asyncio.sleep(3)
        async with http.get(server.url + "/bench/stats") as r:
            first = await r.json()
        profiler = server.profile(seconds, codec)
        clock = IdleClock(seconds)
        before, t0 = server.cpu(), time.monotonic()
        await asyncio.sleep(seconds)
        after, elapsed = server.cpu(), time.monotonic() - t0
        if profiler is not None:
            profiler.wait()
        async with http.get(server.url + "/bench/stats") as r:
            last = await r.json()
        for call in running:
            await call.stop()
    frames = last["frames"] - first["frames"]
    return {
        "per_call_minute": per_minute(before, after, elapsed, calls),
        "codecs": last["codecs"],
        "bridges": last["bridges"],
        "frames": frames,
        "late": (last["late"] - first["late"]) / frames if frames else float("nan"),
        "idle_clock_late": clock.late(),
        "dropped": last["dropped"] - first["dropped"],
    }


def main(argv: list[str]) -> None:
    if argv and argv[0] == "serve":
        serve(argv[1:])
        return
    if argv and argv[0] == "clock":
        print(idle_clock(float(argv[1])))
        return
    parser = argparse.ArgumentParser(prog="python -m bench bridge")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--only", choices=("PCMU", "opus"), help="bridge this codec only")
    parser.add_argument("--profile", type=Path, help="py-spy samples of the servers into DIR")
    args = parser.parse_args(argv)
    global PROFILE_DIR
    PROFILE_DIR = args.profile
    from bench.signaling import prepare_var

    os.nice(CLIENT_NICENESS)
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        cookie = prepare_var(var)
        bare = Server("bare", var)
        try:
            baseline = asyncio.run(bare_legs(bare, args.calls, args.seconds))
        finally:
            bare.stop()
        results: dict[str, dict[str, Any]] = {}
        for codec in (args.only,) if args.only else ("PCMU", "opus"):
            app = Server("app", var)
            try:
                results[codec] = asyncio.run(
                    bridged_calls(app, cookie, codec, args.calls, args.seconds)
                )
            finally:
                app.stop()
    bare, bare_user = baseline
    print(f"bridge benchmark: {args.calls} concurrent calls, {args.seconds:.0f} s measured each")
    print(
        f"  bare aiortc Opus leg: {bare:.3f} CPU-s per leg-minute ({bare / 60:.1%} of a core; "
        f"user {bare_user:.3f})"
    )
    for codec, r in results.items():
        used, user = r["per_call_minute"]
        print(
            f"  bridged call, {codec:4}: {used:.3f} CPU-s per call-minute = {used / bare:.2f} x "
            f"a bare leg (user time only: {user / bare_user:.2f} x); {60 / used:.0f} calls per "
            f"core; late > 20 ms: {r['late']:.2%} of {r['frames']} frames (an idle 20 ms clock "
            f"on this machine meanwhile: {r['idle_clock_late']:.2%}); dropped "
            f"{r['dropped']}; negotiated {','.join(r['codecs'])} on {r['bridges']} bridges"
        )
    if "PCMU" in results:
        pcmu = results["PCMU"]["per_call_minute"][0] / bare
        print(f"  target PCMU <= 0.3 x bare: {'met' if pcmu <= 0.3 else 'NOT met'} ({pcmu:.2f})")


if __name__ == "__main__":
    main(sys.argv[1:])
