"""Bridge benchmark (not a test): server CPU per bridged call-minute, and late frames.

Servers run in their own processes on loopback; the clients (Twilio's streams
and the officers' aiortc pages) run in ``--client-processes`` processes of
their own (:class:`Clients`), so the server's CPU (user + system, every
thread, from ``/proc/<pid>/stat``) is what is measured.

* **bare** — ``--calls`` plain aiortc Opus legs in one server process, used
  as aiortc is out of the box: each sends a 20 ms tone frame every 20 ms
  (encoded by aiortc: 8 -> 48 kHz stereo, Opus, in its executor) and receives
  and decodes the client's Opus (aiortc's decoder thread; the frames read off
  the track). The baseline: one leg's CPU.
* **pcmu** / **opus** — ``--calls`` phone calls through the real app's
  ``/twilio/media`` (signed upgrade, stream token, in-process signaling side,
  aiortc leg to an officer page on ``/ws``, the call recorded as in
  production), both directions carrying audio all the time; the officer's
  page accepts PCMU (what Chrome does) or only Opus.

The same work is checked, not assumed: each phase prints the frames its
server actually moved per leg-second in each direction (50 is every frame).
A client too starved to send would otherwise make a phase look cheap.

Printed: CPU-seconds per call-minute, as a ratio to one bare leg measured in
the same run (target: PCMU at most 0.3), calls one core would carry, and the
share of *late* frames in each direction (target under 1%):

* to Twilio: a frame sent more than 20 ms after its due time on the pacer's
  20 ms clock (``media.outbound``);
* to the officer: a frame of the caller's handed to the officer's leg (encoded,
  for Opus) more than 20 ms after it came from Twilio (``media.caller_track``);

next to the share of ticks an idle 20 ms asyncio clock in a process of its
own wakes that late over the same window: on a shared machine, the floor the
host itself sets. The clients send pre-encoded audio and do not decode what
they receive (their receivers drop the frames), so that they stay light. They
run at the server's priority: niced, on a machine shared with other work they
were starved and sent a fraction of their frames, and the phase looked cheap.
Where the frames moved still fall short of 50 a second, the ratio "at full
flow" scales each phase's CPU by 50 over its mean flow (frames per
leg-second over each direction of each leg).

``python -m bench bridge [--calls N] [--seconds S] [--only PCMU|opus] [--profile DIR]
[--client-processes K]``
(``--profile``: py-spy's samples of each measured server, collapsed stacks, in DIR)

``python -m bench bridge storing [CALLS] [SECONDS]``: the recordings' write path
alone (:func:`storing`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fractions
import gc
import itertools
import json
import os
import queue
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
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


BEHIND = 0.06
"""Seconds a live source may fall behind before it skips ahead rather than catch up."""


async def real_time(due: float) -> float:
    """Wait until ``due``; the time the frame goes out, ``due`` unless the source fell behind.

    A microphone or a phone line does not burst to catch up after a stall: it
    skips ahead. A starved client catching up would hand the server a second of
    audio at once, which no real call does.
    """
    now = time.monotonic()
    if now < due:
        await asyncio.sleep(due - now)
        return due
    return now if now - due > BEHIND else due


# ---- servers ------------------------------------------------------------------


def _app_server(var: Path, recording: bool = True) -> web.Application:
    from cases.sessions import open_contact
    from media import stream_token
    from media.routes import BRIDGES
    from recordings.keys import RecordingsKey
    from safecall.app import create_app
    from safecall.endpoint import endpoint
    from safecall.settings import Settings
    from safecall.state import CLOCK, DATA_KEY, DB
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
        recording_off_lines=() if recording else ("women",),
    )
    RecordingsKey.ensure_file(settings.recordings_key_file)  # calls are recorded, as in production
    app = create_app(settings)

    @endpoint("Bench only: open phone calls.", public=True, document=False)
    async def open_calls(request: web.Request) -> web.Response:
        hub = request.app[HUB]
        calls = []
        for _ in range(int(request.query["n"])):
            async with request.app[DB]() as db, db.begin():
                contact, _ = await open_contact(
                    db,
                    request.app[DATA_KEY],
                    service_line="women",
                    channel="phone",
                    now=request.app[CLOCK](),
                )
                session = contact.id  # a real contact: the call is recorded
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
        running = request.app[BRIDGES]
        bridges = list(running)
        to_officer = [getattr(b, "to_officer", None) for b in bridges]
        return web.json_response(
            {
                "bridges": len(bridges),
                "codecs": sorted({str(b.codec) for b in bridges}),
                "recording": sorted({b.recording.state for b in bridges}),
                "frames": sum(b.outbound.stats.frames for b in bridges),
                "late": sum(b.outbound.stats.late for b in bridges),
                "dropped": sum(b.outbound.stats.dropped for b in bridges),
                "frames_in": sum(b.frames_in for b in bridges),
                # (a tree without the to-officer figures: -1)
                "to_officer": sum(t.frames for t in to_officer if t),
                "late_to_officer": sum(t.late for t in to_officer if t) if all(to_officer) else -1,
                # the worst since the call began (not only in the window): a stall or a trickle
                "max_late": max((b.outbound.stats.max_late for b in bridges), default=0.0),
                "max_late_to_officer": max((t.max_late for t in to_officer if t), default=0.0),
                "gc": COLLECTIONS.figures() if COLLECTIONS else {},
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
            self.n = 0
            """Frames handed to aiortc to encode and send."""
            self.start = time.monotonic()

        async def recv(self) -> Any:
            from av import AudioFrame

            self.n += 1
            self.start = await real_time(self.start + self.pts / 8000) - self.pts / 8000
            at = self.pts % 8000
            frame = AudioFrame.from_ndarray(
                self.samples[at : at + 160].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = 8000, self.pts
            frame.time_base = fractions.Fraction(1, 8000)
            self.pts += 160
            return frame

    pcs: set[Any] = set()
    received = [0]
    """Frames read off the clients' tracks (decoded), all legs."""
    sent: list[Tone] = []

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"received": received[0], "sent": sum(t.n for t in sent)})

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
                        received[0] += 1

            asyncio.ensure_future(drain())  # noqa: RUF006 (lives as long as the process)

        tone_track = Tone()
        sent.append(tone_track)
        pc.addTrack(tone_track)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="offer"))
        with pinned(("127.0.0.1",)):
            await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp})

    app = web.Application()
    app.router.add_post("/bench/offer", offer)
    app.router.add_get("/bench/stats", stats)
    return app


class Collections:
    """The garbage collector's pauses in this process, by generation: a stall holds every call."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self.over_20ms = [0, 0, 0]
        self._began = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        took, generation = time.perf_counter() - self._began, info["generation"]
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], took)
        self.over_20ms[generation] += took > 0.02

    def figures(self) -> dict[str, list[Any]]:
        return {"count": self.count, "longest": self.longest, "over_20ms": self.over_20ms}


COLLECTIONS: Collections | None = None


def serve(argv: list[str]) -> None:
    """``serve app|app-unrecorded|bare VAR``: run one server on a free loopback port; print it."""
    global COLLECTIONS
    COLLECTIONS = Collections()
    kind, var = argv[0], Path(argv[1])
    app = _bare_server() if kind == "bare" else _app_server(var, recording=kind == "app")

    async def run() -> None:
        from safecall.app import settle_heap

        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        settle_heap()  # as ``safecall serve`` does
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

CLIENT_NICENESS = 0
"""Niceness of the clients (the servers and the idle clock run at 0). Not above 0: on a
shared machine a niced client is starved by other processes and moves few frames."""


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
        return subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_normal_priority,  # a niced sampler loses most of its samples
        )

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
            self.start = await real_time(self.start + self.n * 0.02) - self.n * 0.02
            packet = Packet(payloads[self.n % len(payloads)])
            packet.pts = self.n * rate // 50
            packet.time_base = fractions.Fraction(1, rate)
            self.n += 1
            return packet

    return Packets()


class Discard(queue.Queue[Any]):
    """A client receiver's decoder queue: counts the 20 ms frames and drops them, undecoded."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the end of the stream, for the decoder thread
            super().put(item, block, timeout)
        elif item[0].mimeType.lower() == "audio/pcmu":  # a packet may hold several 20 ms frames
            self.frames += max(1, len(item[1].data) // 160)
        else:
            self.frames += 1


def discard(receiver: Any) -> Discard:
    """Keep a client light: what ``receiver`` gets is counted, not decoded."""
    tap = Discard()
    setattr(receiver, "_RTCRtpReceiver__decoder_queue", tap)  # noqa: B010 (name-mangled)
    return tap


class Call:
    """Twilio's stream and the officer's page of one bridged call."""

    def __init__(self, http: aiohttp.ClientSession, url: str, info: dict[str, Any]) -> None:
        self.http, self.url, self.info = http, url, info
        self.connected = asyncio.Event()
        self.tasks: list[asyncio.Task[Any]] = []
        self.pc: Any = None
        self.twilio: aiohttp.ClientWebSocketResponse | None = None
        self.page: aiohttp.ClientWebSocketResponse | None = None
        self.heard: Discard | None = None
        """The officer page's receiver: frames of the caller it got."""
        self.twilio_heard = 0
        """``media`` messages (the officer's frames) Twilio's side got."""
        self.said: Any = None
        """The officer page's track (``n``: frames it sent)."""

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
                    self.said = packet_track(codec)
                    transceiver = pc.addTransceiver(self.said, direction="sendrecv")
                    caps = RTCRtpSender.getCapabilities("audio").codecs
                    mime = "audio/PCMU" if codec == "PCMU" else "audio/opus"
                    transceiver.setCodecPreferences([c for c in caps if c.mimeType == mime])
                    self.heard = discard(transceiver.receiver)
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
                if '"event":"media"' in frame.data[:90]:
                    self.twilio_heard += 1
                    continue
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
            began = await real_time(began + n * 0.02) - n * 0.02

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


def snapshot(url: str) -> tuple[dict[str, Any], float]:
    """The server's figures, and when (the middle of the request)."""
    sent = time.monotonic()
    with urllib.request.urlopen(url + "/bench/stats", timeout=30) as r:
        figures = json.loads(r.read())
    return figures, (sent + time.monotonic()) / 2


# ---- the clients' processes ----------------------------------------------------


async def _bare_clients(http: aiohttp.ClientSession, url: str, legs: int) -> Any:
    """``legs`` bare Opus legs to the bare server; a function counting the frames they got."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from media.ice import configuration, pinned

    pcs = []
    connected = []
    heard: list[Discard] = []
    for _ in range(legs):
        pc = RTCPeerConnection(configuration())
        pc.addTrack(packet_track("opus"))
        heard.append(discard(pc.getTransceivers()[0].receiver))
        event = asyncio.Event()
        pc.on("connectionstatechange", _on_connected(pc, event))
        with pinned(("127.0.0.1",)):
            await pc.setLocalDescription(await pc.createOffer())
        async with http.post(url + "/bench/offer", json={"sdp": pc.localDescription.sdp}) as r:
            answer = await r.json()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        pcs.append(pc)
        connected.append(event)
    async with asyncio.timeout(60):
        await asyncio.gather(*(e.wait() for e in connected))

    async def close() -> None:
        for pc in pcs:
            await pc.close()

    return lambda: {"heard": sum(h.frames for h in heard)}, close


async def _call_clients(
    http: aiohttp.ClientSession, url: str, cookie: str, codec: str, infos: list[dict[str, Any]]
) -> Any:
    running = [Call(http, url, info) for info in infos]
    for call in running:
        await call.start(cookie, codec)
    async with asyncio.timeout(60):
        await asyncio.gather(*(c.connected.wait() for c in running))

    def count() -> dict[str, int]:
        return {
            "pages": sum(c.heard.frames for c in running if c.heard is not None),
            "twilio": sum(c.twilio_heard for c in running),
            "said": sum(c.said.n for c in running if c.said is not None),
        }

    async def close() -> None:
        for call in running:
            await call.stop()

    return count, close


def clients(argv: list[str]) -> None:
    """``clients SPEC_FILE``: one process's share of the clients (see :class:`Clients`)."""
    spec = json.loads(Path(argv[0]).read_text())

    async def run() -> None:
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as http:
            if spec["kind"] == "bare":
                count, close = await _bare_clients(http, spec["url"], spec["legs"])
            else:
                count, close = await _call_clients(
                    http, spec["url"], spec["cookie"], spec["kind"], spec["infos"]
                )
            print("ready", flush=True)
            for _ in ("start", "stop"):
                await loop.run_in_executor(None, sys.stdin.readline)
                print(json.dumps(count()), flush=True)
            await close()

    asyncio.run(run())


class Clients:
    """The clients of a phase, spread over processes of their own.

    One process holding every client (20 aiortc pages and 20 Twilio streams)
    needs about as much CPU as the server it measures; on a shared machine it
    fell behind and the server moved a fraction of the frames. Each process
    prints ``ready`` once its clients are connected, then its frame counts on
    each line it reads (the window's start, then its end).
    """

    def __init__(self, specs: list[dict[str, Any]], tmp: Path) -> None:
        self.processes = []
        for n, spec in enumerate(specs):
            path = tmp / f"clients-{spec['kind']}-{n}.json"
            path.write_text(json.dumps(spec))
            args = [sys.executable, "-m", "bench.bridge", "clients", str(path)]
            self.processes.append(
                subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            )

    def ready(self) -> None:
        for process in self.processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            if line.strip() != "ready":
                self.close()
                raise RuntimeError(f"a client process did not start: {line!r}")

    def counts(self) -> dict[str, int]:
        """Frames the clients got and sent so far, all processes."""
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write("count\n")
            process.stdin.flush()
        total: dict[str, int] = {}
        for process in self.processes:
            assert process.stdout is not None
            for key, value in json.loads(process.stdout.readline()).items():
                total[key] = total.get(key, 0) + value
        return total

    def close(self) -> None:
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def shares(items: int, processes: int) -> list[range]:
    """``range(items)`` cut into ``processes`` nearly equal runs (none empty)."""
    processes = max(1, min(processes, items))
    cuts = [items * k // processes for k in range(processes + 1)]
    return [range(a, b) for a, b in itertools.pairwise(cuts)]


class Window:
    """The measured window: server CPU, its figures and the clients' counts at both ends."""

    def __init__(self, server: Server, clients: Clients, seconds: float, name: str) -> None:
        self.server, self.clients, self.seconds, self.name = server, clients, seconds, name

    def measure(self) -> dict[str, Any]:
        profiler = self.server.profile(self.seconds, self.name)
        clock = IdleClock(self.seconds)
        first, t_first = snapshot(self.server.url)
        heard_first = self.clients.counts()
        before, t0 = self.server.cpu(), time.monotonic()
        time.sleep(self.seconds)
        after, elapsed = self.server.cpu(), time.monotonic() - t0
        heard_last = self.clients.counts()
        last, t_last = snapshot(self.server.url)
        if profiler is not None:
            profiler.wait()
        self.clients.close()
        return {
            "cpu": (before, after, elapsed),
            "server": (first, last),
            "clients": {k: heard_last[k] - heard_first[k] for k in heard_last},
            "per_second": 1 / (t_last - t_first),
            "idle_clock_late": clock.late(),
        }


def bare_legs(
    server: Server, calls: int, seconds: float, processes: int, tmp: Path
) -> dict[str, Any]:
    """CPU-seconds per leg-minute of ``calls`` bare Opus legs (all, user only), frames moved."""
    specs = [{"kind": "bare", "url": server.url, "legs": len(r)} for r in shares(calls, processes)]
    clients = Clients(specs, tmp)
    clients.ready()
    time.sleep(3)  # warm up
    w = Window(server, clients, seconds, "bare").measure()
    first, last = w["server"]
    rate = w["per_second"] / calls
    return {
        "per_minute": per_minute(w["cpu"][0], w["cpu"][1], w["cpu"][2], calls),
        "in": (last["received"] - first["received"]) * rate,
        "out": w["clients"]["heard"] * rate,
        "idle_clock_late": w["idle_clock_late"],
    }


def bridged_calls(
    server: Server, cookie: str, codec: str, calls: int, seconds: float, processes: int, tmp: Path
) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/bench/calls?n={calls}", timeout=60) as r:
        infos = json.loads(r.read())
    specs = [
        {"kind": codec, "url": server.url, "cookie": cookie, "infos": infos[r.start : r.stop]}
        for r in shares(calls, processes)
    ]
    clients = Clients(specs, tmp)
    clients.ready()
    time.sleep(3)  # warm up
    w = Window(server, clients, seconds, codec).measure()
    first, last = w["server"]

    def delta(key: str) -> int:
        return int(last[key] - first[key])

    frames, to_officer = delta("frames"), delta("to_officer")
    rate = w["per_second"] / calls
    return {
        "per_call_minute": per_minute(w["cpu"][0], w["cpu"][1], w["cpu"][2], calls),
        "codecs": last["codecs"],
        "recording": last["recording"],
        "bridges": last["bridges"],
        "from_twilio": delta("frames_in") * rate,
        "to_officer": w["clients"]["pages"] * rate,
        "from_officer": w["clients"]["said"] * rate,
        "to_twilio": w["clients"]["twilio"] * rate,
        "frames": frames,
        "late": delta("late") / frames if frames else float("nan"),
        "officer_frames": to_officer,
        "late_to_officer": (
            delta("late_to_officer") / to_officer
            if to_officer and last["late_to_officer"] >= 0
            else float("nan")
        ),
        "idle_clock_late": w["idle_clock_late"],
        "dropped": delta("dropped"),
        "max_late": (last["max_late"], last["max_late_to_officer"]),
        "gc": {
            "count": [
                a - b for a, b in zip(last["gc"]["count"], first["gc"]["count"], strict=True)
            ],
            "over_20ms": [
                a - b
                for a, b in zip(last["gc"]["over_20ms"], first["gc"]["over_20ms"], strict=True)
            ],
            "longest_ms": [round(t * 1000) for t in last["gc"]["longest"]],
        },
    }


def storing(argv: list[str]) -> None:
    """``storing [CALLS] [SECONDS]``: the CPU the recordings' write path takes, in-process.

    ``CALLS`` recordings take what the bridge hands their writers (every 0.2 s,
    the two channels' 3,200 bytes), as fast as they can, on a real app
    (SQLite, the recordings key, encryption, ``fsync``): the process's CPU (all
    threads) per recorded call-minute, with 64 KiB chunks stored by every call
    at once (before) beside ``media.recording``'s chunks stored one at a time.
    CPU time per operation in one process: little moved by a busy machine.
    """
    import resource

    from media.recording import CHUNK_BYTES, _storing
    from recordings.service import open_recording

    calls = int(argv[0]) if argv else 20
    seconds = int(argv[1]) if len(argv) > 1 else 120

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    async def one(var: Path, chunk_bytes: int, one_at_a_time: bool) -> float:
        from cases.sessions import open_contact
        from safecall.state import CLOCK, DATA_KEY, DB

        app = _app_server(var)
        runner = web.AppRunner(app)
        await runner.setup()
        writers = []
        for _ in range(calls):
            async with app[DB]() as db, db.begin():
                contact, _ = await open_contact(
                    db, app[DATA_KEY], service_line="women", channel="phone", now=app[CLOCK]()
                )
            writers.append(
                await open_recording(
                    app,
                    session_id=contact.id,
                    kind="phone",
                    media_type="audio/wav",
                    tracks=["caller", "officer"],
                    chunk_bytes=chunk_bytes,
                )
            )
        data = os.urandom(3200)

        async def hand(writer: Any) -> None:
            if one_at_a_time:
                async with _storing():
                    await writer.append(data)
            else:
                await writer.append(data)

        start = cpu()
        for _ in range(seconds * 5):
            await asyncio.gather(*(hand(w) for w in writers))
        for writer in writers:
            await writer.close(complete=True)
        used = cpu() - start
        await runner.cleanup()
        return used * 1000 / (calls * seconds / 60)

    from bench.signaling import prepare_var

    ways = {"64 KiB chunks, every call at once": (64 * 1024, False)}
    ways[f"{CHUNK_BYTES // 1024} KiB chunks, one at a time"] = (CHUNK_BYTES, True)
    figures: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(3):
        for name, (chunk_bytes, one_at_a_time) in ways.items():
            with tempfile.TemporaryDirectory() as tmp:
                prepare_var(Path(tmp))
                figures[name].append(asyncio.run(one(Path(tmp), chunk_bytes, one_at_a_time)))
    print(f"recordings' write path: {calls} calls, {seconds} s each, 3 runs (median)")
    for name, values in figures.items():
        print(f"  {name}: {sorted(values)[1]:.1f} CPU-ms per recorded call-minute")


def main(argv: list[str]) -> None:
    if argv and argv[0] == "storing":
        storing(argv[1:])
        return
    if argv and argv[0] == "serve":
        serve(argv[1:])
        return
    if argv and argv[0] == "clock":
        print(idle_clock(float(argv[1])))
        return
    if argv and argv[0] == "clients":
        clients(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench bridge")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--only", choices=("PCMU", "opus"), help="bridge this codec only")
    parser.add_argument("--profile", type=Path, help="py-spy samples of the servers into DIR")
    parser.add_argument(
        "--client-processes", type=int, default=4, help="processes the clients are spread over"
    )
    parser.add_argument(
        "--no-recording", action="store_true", help="calls not recorded (production records them)"
    )
    args = parser.parse_args(argv)
    global PROFILE_DIR
    PROFILE_DIR = args.profile
    if PROFILE_DIR is not None:
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    from bench.signaling import prepare_var

    os.nice(CLIENT_NICENESS)
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        cookie = prepare_var(var)
        bare = Server("bare", var)
        try:
            baseline = bare_legs(bare, args.calls, args.seconds, args.client_processes, var)
        finally:
            bare.stop()
        results: dict[str, dict[str, Any]] = {}
        for codec in (args.only,) if args.only else ("PCMU", "opus"):
            app = Server("app-unrecorded" if args.no_recording else "app", var)
            try:
                results[codec] = bridged_calls(
                    app, cookie, codec, args.calls, args.seconds, args.client_processes, var
                )
            finally:
                app.stop()
    bare, bare_user = baseline["per_minute"]
    print(f"bridge benchmark: {args.calls} concurrent calls, {args.seconds:.0f} s measured each")
    print(
        "  late: to Twilio = sent > 20 ms after its tick on the 20 ms clock; to the officer = "
        "handed to her leg > 20 ms after it came from Twilio"
    )
    print(
        f"  bare aiortc Opus leg: {bare:.3f} CPU-s per leg-minute ({bare / 60:.1%} of a core; "
        f"user {bare_user:.3f}); frames per leg-second: in {baseline['in']:.1f}, out "
        f"{baseline['out']:.1f} (of 50); idle 20 ms clock late meanwhile "
        f"{baseline['idle_clock_late']:.2%}"
    )
    bare_flow = (baseline["in"] + baseline["out"]) / 2
    for codec, r in results.items():
        used, user = r["per_call_minute"]
        flows = ("from_twilio", "to_officer", "from_officer", "to_twilio")
        flow = sum(r[k] for k in flows) / len(flows)
        full = (used * 50 / flow) / (bare * 50 / bare_flow) if flow and bare_flow else float("nan")
        print(
            f"  bridged call, {codec:4}: {used:.3f} CPU-s per call-minute = {used / bare:.2f} x "
            f"a bare leg (user time only: {user / bare_user:.2f} x; at full flow: {full:.2f} x); "
            f"{60 / used:.0f} calls per core\n"
            f"    frames per call-second (of 50): from Twilio {r['from_twilio']:.1f}, to the "
            f"officer {r['to_officer']:.1f}, from the officer {r['from_officer']:.1f}, to "
            f"Twilio {r['to_twilio']:.1f}\n"
            f"    late > 20 ms: to Twilio {r['late']:.2%} of {r['frames']}, to the officer "
            f"{r['late_to_officer']:.2%} of {r['officer_frames']} (an idle 20 ms clock on this "
            f"machine meanwhile: {r['idle_clock_late']:.2%}); dropped {r['dropped']}; the "
            f"latest since the calls began: {r['max_late'][0] * 1000:.0f} ms to Twilio, "
            f"{r['max_late'][1] * 1000:.0f} ms to the officer\n"
            f"    negotiated {','.join(r['codecs'])} on {r['bridges']} bridges; recording "
            f"{','.join(r['recording'])}"
        )
    for codec, r in results.items():
        print(f"  {codec} server's garbage collections by generation in the window: {r['gc']}")
    if "PCMU" in results:
        pcmu = results["PCMU"]["per_call_minute"][0] / bare
        print(f"  target PCMU <= 0.3 x bare: {'met' if pcmu <= 0.3 else 'NOT met'} ({pcmu:.2f})")


if __name__ == "__main__":
    main(sys.argv[1:])
