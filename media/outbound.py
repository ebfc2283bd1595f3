"""The officer's voice to the caller: mu-law 20 ms frames to Twilio, paced, with marks.

Her audio comes as 8 kHz mu-law from :mod:`media.receiver_tap`, straight
from aiortc's receiver to :meth:`Outbound.add`: with PCMU on her leg the
frames untouched, with Opus decoded there (:class:`media.opus.Decoder`).

:meth:`Outbound.run` puts the call on the process's shared 20 ms clock
(:mod:`media.pacer`): every tick it sends one 160-byte frame, and lateness is
counted against the tick's deadline: a frame is *late* to Twilio when it is
sent more than one frame time (20 ms) after its tick. A tick the event loop
was late for is caught up at once (a frame or two back to back, which Twilio's own buffer
absorbs); a stall longer than ``resync_seconds`` re-anchors the clock instead
of sending a burst, dropping the audio of the ticks it missed so that the
delay does not stay. Twilio plays what it receives at the same pace, so its
buffer stays near empty; a ``mark`` every second tells how far it has played,
and a mark that does not come back means audio is piling up there, which
``clear`` drops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from media.config import MediaConfig
from media.pacer import Pacer, send_now

log = logging.getLogger(__name__)

FRAME_BYTES = 160
"""20 ms of 8 kHz mu-law."""


@dataclass
class PaceStats:
    frames: int = 0
    """Frames sent to Twilio."""
    late: int = 0
    """Frames sent more than one frame time after their tick."""
    max_late: float = 0.0
    """Seconds, the worst lateness seen."""
    dropped: int = 0
    """Officer audio dropped because it could not be sent in time."""
    clears: int = 0


class TwilioSink(Protocol):
    """Where paced audio goes: a Twilio stream (:class:`media.twilio_stream.MediaStream`)."""

    async def send_media(self, payload: bytes) -> None: ...

    async def send_mark(self, name: str) -> None: ...

    async def send_clear(self) -> None: ...


class Outbound:
    """Officer audio waiting to go to Twilio, sent a frame a tick of the shared pacer."""

    def __init__(self, config: MediaConfig) -> None:
        self.config = config
        self.stats = PaceStats()
        self._buffer = bytearray()
        self._limit = config.officer_backlog_frames * FRAME_BYTES
        self._marks: dict[str, float] = {}
        self._next_mark = 0
        self._sink: TwilioSink | None = None
        self._sending: asyncio.Future[None] | None = None
        """A send still waiting for its socket to drain (rare), else None."""

    def add(self, payload: bytes) -> None:
        """Mu-law bytes to send, in order."""
        self._buffer += payload
        excess = len(self._buffer) - self._limit
        if excess > 0:
            excess += -excess % FRAME_BYTES  # drop whole frames
            del self._buffer[:excess]
            self.stats.dropped += excess // FRAME_BYTES

    def _skip(self, frames: int) -> None:
        keep = FRAME_BYTES  # the frame due now
        excess = min(frames * FRAME_BYTES, len(self._buffer) - keep)
        if excess > 0:
            excess -= excess % FRAME_BYTES
            del self._buffer[:excess]
            self.stats.dropped += excess // FRAME_BYTES

    def played(self, name: str) -> None:
        """Twilio echoed a mark: the audio before it has played."""
        self._marks.pop(name, None)

    async def run(self, sink: TwilioSink) -> None:
        """Send a frame to ``sink`` on every tick of the shared pacer until cancelled."""
        pacer = Pacer.shared(self.config.frame_seconds, self.config.resync_seconds)
        self._sink = sink
        pacer.join(self)
        try:
            await asyncio.get_running_loop().create_future()  # until cancelled
        finally:
            pacer.leave(self)
            self._sink = None

    # ---- the pacer's turns (media.pacer.Paced) --------------------------------

    def tick(self, due: float) -> None:
        """The frame due at ``due``, if there is one, and a mark every so often."""
        sink = self._sink
        if sink is None or len(self._buffer) < FRAME_BYTES:
            return
        frame = bytes(self._buffer[:FRAME_BYTES])
        del self._buffer[:FRAME_BYTES]
        if self._sending is not None and not self._sending.done():
            self.stats.dropped += 1  # her socket still drains the last frame: do not pile up
            return
        self._count(time.monotonic() - due)
        if self.stats.frames % self.config.mark_every_frames:
            self._sending = send_now(sink.send_media(frame))
        else:
            self._sending = send_now(self._send_marked(sink, frame))

    def missed(self, ticks: int) -> None:
        """Drop the audio of ticks the pacer stalled over, so that the delay does not stay."""
        self._skip(ticks)

    async def _send_marked(self, sink: TwilioSink, frame: bytes) -> None:
        await sink.send_media(frame)
        await self._mark(sink)

    def _count(self, late: float) -> None:
        stats = self.stats
        stats.frames += 1
        if late > self.config.frame_seconds:
            stats.late += 1
        stats.max_late = max(stats.max_late, late)

    async def _mark(self, sink: TwilioSink) -> None:
        now = time.monotonic()
        if self._marks and now - min(self._marks.values()) > self.config.clear_after_seconds:
            log.info("media: Twilio is behind with the officer's audio; clearing it")
            self._marks.clear()
            self.stats.clears += 1
            await sink.send_clear()
        self._next_mark += 1
        name = f"m{self._next_mark}"
        self._marks[name] = now
        await sink.send_mark(name)
