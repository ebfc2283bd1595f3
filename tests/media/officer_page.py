"""The officer's end of a bridged phone call in Python (the caller's is the Twilio emulator's).

:class:`OfficerPage` does what the console does for a phone call, with aiortc
instead of Chromium: joins the officer side on ``/ws`` with her login,
answers each offer on a fresh peer connection, adds no trickle (aiortc puts
its candidates in the SDP), plays known audio and records what it hears.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from typing import Any

import numpy as np
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler

from media.ice import configuration, pinned
from signaling.messages import RELAYED_TYPES, server_adapter


class KnownAudio(MediaStreamTrack):
    """Plays 8 kHz samples in real time, 20 ms frames, then silence."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._samples = np.zeros(0, dtype=np.int16)
        self._pts = 0
        self._start: float | None = None

    def play(self, samples: np.ndarray[Any, Any]) -> None:
        self._samples = np.concatenate([self._samples, samples.astype(np.int16)])

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._pts / 8000 - time.monotonic()))
        chunk, self._samples = self._samples[:160], self._samples[160:]
        chunk = np.concatenate([chunk, np.zeros(160 - chunk.size, dtype=np.int16)])
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 8000
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, 8000)
        self._pts += 160
        return frame


class OfficerPage:
    """The officer's console for a phone call, in Python (see the module doc)."""

    def __init__(
        self, server: TestClient[Any, Any], cookie: str, codecs: tuple[str, ...] = ()
    ) -> None:
        self.server = server
        self.cookie = cookie
        self.codecs = codecs
        """Mime types this 'browser' accepts, best first; empty = aiortc's defaults."""
        self.ws: ClientWebSocketResponse | None = None
        self.seq = 0
        self.pc: RTCPeerConnection | None = None
        self.offers = 0
        self.messages: list[dict[str, Any]] = []
        self.heard: list[np.ndarray[Any, Any]] = []
        """8 kHz mono samples heard on the current peer connection."""
        self.audio = KnownAudio()
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.codec: str | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def join(self, session_id: str, token: str) -> dict[str, Any]:
        self.ws = await self.server.ws_connect(
            "/ws", headers={"Cookie": f"safecall_session={self.cookie}"}
        )
        await self._send("join", session=session_id, token=token)
        self._tasks.append(asyncio.create_task(self._read()))
        await self.wait_for(lambda m: m["type"] == "joined")
        return next(m for m in self.messages if m["type"] == "joined")

    async def _send(self, type: str, **fields: Any) -> None:
        assert self.ws is not None
        if type in RELAYED_TYPES:
            self.seq += 1
            fields["seq"] = self.seq
        await self.ws.send_str(json.dumps({"v": 1, "type": type, **fields}))

    async def wait_for(self, predicate: Any, within: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                await asyncio.sleep(0.02)

    async def hang_up(self) -> None:
        await self._send("hangup")

    async def leave(self) -> None:
        """The page goes away (a reload): socket and peer connection gone, no hang-up."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.ws is not None:
            await self.ws.close()
        if self.pc is not None:
            await self.pc.close()

    async def _read(self) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            if frame.type is not WSMsgType.TEXT:
                break
            server_adapter.validate_json(frame.data)  # the bridge's messages follow the protocol
            message = json.loads(frame.data)
            self.messages.append(message)
            if message["type"] == "joined":  # number on from what the server holds of this side
                self.seq = max(self.seq, message["last_seq"])
            if isinstance(message.get("seq"), int) and message["type"] != "ack":
                await self._send("ack", seq=message["seq"])
            if message["type"] == "offer":
                await self._answer(message["sdp"])
            elif message["type"] == "session-ended":
                self.ended.set()
        self.ended.set()

    async def _answer(self, sdp: str) -> None:
        if self.pc is not None:
            await self.pc.close()
        self.offers += 1
        self.connected.clear()
        self.heard = []
        pc = RTCPeerConnection(configuration())
        self.pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._listen(track, pc)))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                self.connected.set()

        self.audio = KnownAudio()
        transceiver = pc.addTransceiver(self.audio, direction="sendrecv")
        if self.codecs:  # before the offer is read: an answerer picks from these
            caps = RTCRtpSender.getCapabilities("audio").codecs
            transceiver.setCodecPreferences(
                [c for mime in self.codecs for c in caps if c.mimeType == mime]
            )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        with pinned(("127.0.0.1",)):
            await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription.sdp
        self.codec = next(
            (
                line.split()[1].split("/")[0]
                for line in answer.splitlines()
                if line.startswith("a=rtpmap:")
            ),
            None,
        )
        await self._send("answer", sdp=answer)

    async def _listen(self, track: MediaStreamTrack, pc: RTCPeerConnection) -> None:
        resampler = AudioResampler(format="s16", layout="mono", rate=8000)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if pc is not self.pc:
                return
            for out in resampler.resample(frame):
                self.heard.append(out.to_ndarray()[0].copy())

    def heard_samples(self) -> np.ndarray[Any, Any]:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, dtype=np.int16)
