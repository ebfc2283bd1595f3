"""The caller's voice as an aiortc track, fed by Twilio ``media`` messages.

With PCMU negotiated on the officer's leg the track yields ``av.Packet``
frames holding Twilio's mu-law bytes: aiortc packs them into RTP as they are
(no decode, no encode). With Opus it yields decoded 8 kHz frames, which
aiortc resamples and encodes.

Twilio sends a frame every 20 ms; the sender reads as fast as frames come.
A frame that waits because the officer's leg is not up yet is stale by the
time it could be sent: beyond a few frames the oldest are dropped, so the
officer always hears the caller now, not a second ago.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from av.packet import Packet

from media import mulaw

SAMPLE_RATE = 8000
SAMPLES = 160
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


class CallerTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, backlog: int = 5) -> None:
        super().__init__()
        self.passthrough = False
        """Yield mu-law packets untouched (PCMU negotiated); decoded frames otherwise."""
        self._frames: deque[bytes] = deque(maxlen=backlog)
        self._waiter: asyncio.Future[None] | None = None
        """What a ``recv()`` with no frame to take waits on (a bare future: 50 a second)."""
        self._pts = 0
        self.dropped = 0
        """Frames dropped because they waited too long."""

    def push(self, payload: bytes) -> None:
        """One 20 ms mu-law frame from Twilio."""
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(payload)
        self._wake()

    async def recv(self) -> Packet | AudioFrame:  # type: ignore[type-arg]
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        payload = self._frames.popleft()
        pts, self._pts = self._pts, self._pts + len(payload)
        if self.passthrough:
            packet = Packet(payload)
            packet.pts = pts
            packet.time_base = TIME_BASE
            return packet
        samples = mulaw.decode(payload)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = pts
        frame.time_base = TIME_BASE
        return frame

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
