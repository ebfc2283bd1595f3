"""The caller's voice as an aiortc track, fed by Twilio ``media`` messages.

With PCMU negotiated on the officer's leg the track yields ``av.Packet``
frames holding Twilio's mu-law bytes: aiortc packs them into RTP as they are
(no decode, no encode). With Opus it yields packets too, encoded here at
8 kHz mono (:class:`media.opus.Encoder`): aiortc's own encoder would resample
to 48 kHz stereo in a thread hop per frame.

Twilio sends a frame every 20 ms; the sender reads as fast as frames come.
With PCMU, ``packet_frames`` of them go in one packet (2: a 40 ms packet
every 40 ms). Each RTP packet costs aiortc the same Python work (a turn of
its sender's task, the RTP header, SRTP, ICE, a ``sendto``) whatever it
holds, so two frames a packet halve that work for the caller's audio, for
20 ms more delay; any WebRTC receiver takes packets of any length
(``ptime``) for PCMU. Opus packets stay one a 20 ms frame.
A frame that waits because the officer's leg is not up yet is stale by the
time it could be sent: beyond a few frames the oldest are dropped, so the
officer always hears the caller now, not a second ago.

A frame is *late* to the officer when aiortc's sender takes it (encoded)
more than one frame time (20 ms) after it could go: when it came from Twilio,
or, in a packet of several frames, when the packet's last frame came. That is
the delay the bridge itself adds in that direction besides the packet's length.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.packet import Packet

from media import mulaw, opus

SAMPLE_RATE = 8000
SAMPLES = 160
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
FRAME_SECONDS = SAMPLES / SAMPLE_RATE
_SILENCE = bytes([mulaw.SILENCE])


@dataclass
class ToOfficer:
    """The caller's frames handed to the officer's leg, over the whole call (every leg)."""

    frames: int = 0
    late: int = 0
    """Frames taken by aiortc's sender more than 20 ms after they came from Twilio."""
    max_late: float = 0.0
    """Seconds, the longest a frame waited."""


class CallerTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self, backlog: int = 5, stats: ToOfficer | None = None, packet_frames: int = 1
    ) -> None:
        super().__init__()
        self.passthrough = False
        """Yield mu-law packets untouched (PCMU negotiated); Opus packets otherwise."""
        self.packet_frames = max(1, packet_frames)
        """Frames in one mu-law packet (with ``passthrough``)."""
        self.stats = stats if stats is not None else ToOfficer()
        self._frames: deque[tuple[bytes, float]] = deque(maxlen=max(backlog, packet_frames))
        """Twilio's payloads with when they came (monotonic seconds)."""
        self._opus: opus.Encoder | None = None
        self._waiter: asyncio.Future[None] | None = None
        """What a ``recv()`` with no frame to take waits on (a bare future: 50 a second)."""
        self._pts = 0
        self.dropped = 0
        """Frames dropped because they waited too long."""

    def push(self, payload: bytes) -> None:
        """Mu-law from Twilio: one 20 ms frame (160 bytes), as Twilio sends; longer is split."""
        came = time.monotonic()
        for at in range(0, len(payload), SAMPLES):
            if len(self._frames) == self._frames.maxlen:
                self.dropped += 1
            self._frames.append((payload[at : at + SAMPLES], came))
        if len(self._frames) >= self._wanted():
            self._wake()

    def _wanted(self) -> int:
        """Frames the next packet takes."""
        return self.packet_frames if self.passthrough else 1

    async def recv(self) -> Packet:  # type: ignore[type-arg]
        while True:
            while len(self._frames) < self._wanted():
                if self.readyState != "live":
                    raise MediaStreamError
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            payload, came = self._frames.popleft()
            count = 1
            if self.passthrough:
                for _ in range(self.packet_frames - 1):
                    more, came = self._frames.popleft()
                    payload += more
                    count += 1
            else:
                payload = payload.ljust(SAMPLES, _SILENCE)
            pts, self._pts = self._pts, self._pts + len(payload)
            if not self.passthrough:
                if self._opus is None:
                    self._opus = opus.Encoder()
                samples = mulaw.decode(payload)
                encoded = self._opus.encode(samples)
                if not encoded:  # the encoder is filling up: take the next frame
                    continue
                payload = encoded[0]  # its frame is 20 ms: one packet a frame
            self._count(time.monotonic() - came, count)
            packet = Packet(payload)
            packet.pts = pts
            packet.time_base = TIME_BASE
            return packet

    def _count(self, late: float, frames: int = 1) -> None:
        stats = self.stats
        stats.frames += frames
        if late > FRAME_SECONDS:
            stats.late += frames
        if late > stats.max_late:
            stats.max_late = late

    def stop(self) -> None:
        super().stop()
        self._wake()  # a recv() waiting for a frame ends

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def silence(count: int) -> bytes:
    """``count`` samples of mu-law silence."""
    return mulaw.encode(np.zeros(count, dtype=np.int16))
