"""Recording a bridged phone call: the caller and the officer as the two channels of one WAV.

Both sides are already 8 kHz mu-law at the bridge (the caller's Twilio
frames; the officer's frames as the pacer sends them to Twilio), so the
recording is those bytes, untouched: a WAV of format 7 (``WAVE_FORMAT_MULAW``),
2 channels (0 = caller, 1 = officer), 8 bits a sample, interleaved. The
writer cannot seek back, so the header is written first with the RIFF and
``data`` sizes unknown (``0xFFFFFFFF``, the streaming convention FFmpeg reads
to the end of the file); the true length is the recording's size, and its
duration is stored when it closes.

Both channels run on one clock that starts when the officer's leg first
connects, and each frame is placed where it belongs on it, silence filling
what a side did not send, so the two stay aligned in time:

- the caller's frames by Twilio's ``timestamp`` (milliseconds of the stream,
  mapped onto the clock at her first frame): network bursts and a busy event
  loop move nothing, and a frame Twilio never sent is silence;
- the officer's frames as the pacer sends them: right after her previous
  frame when it comes within ``JITTER`` of it, otherwise (her audio began,
  resumed after a page reload, or the pacer dropped what it could not send)
  at the time it is sent.

What is older than ``HORIZON`` is interleaved and handed to the recordings
writer (:func:`recordings.service.open_recording`) every ``FLUSH_EVERY``,
which stores it in chunks of ``CHUNK_BYTES`` (about 8 s); nothing is buffered
beyond that, and nothing plain is written to disk (the writer seals each chunk
in memory). A chunk stored is a database transaction, an encryption and an
``fsync``: the calls of the process store one chunk at a time (``_storing``),
so that calls begun together do not run their transactions at once, hold up
the event loop together and make every call's audio late. If the process
dies, a recording loses at most what was not yet in a stored chunk:
``MAX_LOST_SECONDS`` and the time the chunk being stored takes (the rest of the
call up to the crash; the recording is then closed ``incomplete`` by the
recordings sweep).

A recording that cannot start is written on the session's timeline by the
recordings service; one whose storing fails later is closed ``failed`` with
the reason. Either way the call goes on. A service line listed in
``SAFECALL_RECORDING_OFF_LINES`` is not recorded at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import weakref
from collections.abc import Callable

import numpy as np
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import ContactSession
from media.mulaw import SILENCE
from media.outbound import TwilioSink
from recordings import custody
from recordings.custody import RecordingError
from recordings.service import RECORDINGS, RecordingWriter, open_recording
from safecall.state import CLOCK, DB, SETTINGS

log = logging.getLogger(__name__)

RATE = 8000
WAVE_FORMAT_MULAW = 7
TRACKS = ("caller", "officer")
MEDIA_TYPE = "audio/wav"
UNKNOWN_SIZE = 0xFFFFFFFF
HORIZON = 2.0
"""Seconds: audio older than this is handed over; a side with nothing there is silence
(a frame held up for less than this is still placed where it belongs)."""
JITTER = 0.12
"""Seconds: the officer's frame sent this soon after her previous one's end follows it."""
FLUSH_EVERY = 0.2
"""Seconds between hand-overs of finished audio to the writer."""
CHUNK_BYTES = 128 * 1024
"""Bytes of a stored chunk: 8.2 s of the two channels (16,000 bytes a second)."""
MAX_LOST_SECONDS = CHUNK_BYTES / (RATE * len(TRACKS)) + HORIZON + FLUSH_EVERY
"""What a crash can cost a recording at most (10.4 s), besides the time a chunk takes to
store: a chunk not yet full (or being stored), and what was not yet handed over."""

_SILENCE = bytes([SILENCE])


def wav_header(channels: int = len(TRACKS), rate: int = RATE) -> bytes:
    """A mu-law WAV header whose RIFF and ``data`` sizes are unknown (``0xFFFFFFFF``)."""
    fmt = struct.pack(
        "<HHIIHHH", WAVE_FORMAT_MULAW, channels, rate, rate * channels, channels, 8, 0
    )
    return (
        b"RIFF"
        + struct.pack("<I", UNKNOWN_SIZE)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", UNKNOWN_SIZE)
    )


def recorded(off_lines: tuple[str, ...], service_line: str) -> bool:
    """Whether calls of ``service_line`` are recorded (``SAFECALL_RECORDING_OFF_LINES``)."""
    return service_line not in off_lines


async def service_line_of(db: async_sessionmaker[AsyncSession], session_id: str) -> str | None:
    async with db() as session:
        contact = await session.get(ContactSession, session_id)
        return None if contact is None else contact.service_line


_STORING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _storing() -> asyncio.Lock:
    """The running loop's lock for storing chunks: one at a time in the process."""
    loop = asyncio.get_running_loop()
    lock = _STORING.get(loop)
    if lock is None:
        lock = _STORING[loop] = asyncio.Lock()
    return lock


class _Side:
    """One channel's audio not yet handed over: samples from the recording's flushed point."""

    def __init__(self) -> None:
        self.pending = bytearray()
        self.base: int | None = None
        """For stamped frames: the stream's sample time at the recording's sample 0."""


class CallRecording:
    """The two channels of one call, from :meth:`start` to :meth:`close`."""

    def __init__(
        self,
        app: web.Application,
        session_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._clock = clock
        self.session_id = session_id
        self.recording_id: str | None = None
        self.state = "idle"
        """``idle``, ``starting``, ``recording``, ``off``, ``failed`` or ``closed``."""
        self.reason: str | None = None
        self._writer: RecordingWriter | None = None
        self._sides = {name: _Side() for name in TRACKS}
        self._t0 = 0.0
        self._flushed = 0
        """Samples per channel handed to the writer (the header not counted)."""
        self._end: int | None = None
        """Samples from the start to the end of the call, once it is over."""
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # ---- the bridge's side -------------------------------------------------

    def start(self) -> None:
        """The caller and the officer are connected: the clock starts now (once)."""
        if self.state != "idle":
            return
        self.state = "starting"
        self._t0 = self._clock()
        self._task = asyncio.create_task(self._run(), name="phone-recording")

    def caller(self, payload: bytes, timestamp: int | None = None) -> None:
        """A frame of the caller's mu-law, as Twilio sent it (``timestamp`` in ms)."""
        side = self._sides["caller"]
        if not self._taking() or not payload:
            return
        if timestamp is None:
            self._place(side, payload, self._arrival(side, payload))
            return
        stamp, began = timestamp * RATE // 1000, self._now() - len(payload)
        position = None if side.base is None else stamp - side.base
        at = self._flushed + len(side.pending)
        if (
            position is None
            or position > began + HORIZON * RATE
            or position + len(payload) <= at - HORIZON * RATE
        ):
            # Her first frame; or the stream's clock jumped (far ahead of the arrival, or
            # far behind what is placed). A frame merely late keeps its place: what the
            # writer already has is not moved, so only audio later than HORIZON is lost.
            side.base = stamp - began
            position = began
        self._place(side, payload, position)

    def officer(self, payload: bytes) -> None:
        """A frame of the officer's mu-law, as it goes to Twilio."""
        side = self._sides["officer"]
        if self._taking() and payload:
            self._place(side, payload, self._arrival(side, payload))

    def tap(self, sink: TwilioSink) -> TwilioSink:
        """``sink`` with the officer's frames recorded on their way to it."""
        return _Tap(sink, self)

    def end(self) -> None:
        """The call is over: what comes after this is not recorded."""
        if self._end is None and self.state != "idle":
            self._end = self._now()

    async def close(self) -> None:
        """Store the rest and close the recording complete. Safe to call twice."""
        task, self._task = self._task, None
        if task is None:
            return
        self.end()
        self._stopping.set()
        await asyncio.shield(task)  # a cancelled bridge must not cut a chunk in half

    # ---- placing the audio -------------------------------------------------

    def _now(self) -> int:
        """Samples since the clock started."""
        return int((self._clock() - self._t0) * RATE)

    def _taking(self) -> bool:
        return self.state in ("starting", "recording") and self._end is None

    def _arrival(self, side: _Side, payload: bytes) -> int:
        """Where an unstamped frame goes: after the side's last one, or when it arrived."""
        at = self._flushed + len(side.pending)
        began = self._now() - len(payload)
        return began if at < began - JITTER * RATE else at

    def _place(self, side: _Side, payload: bytes, position: int) -> None:
        """``payload`` at sample ``position``: silence before it, what was covered dropped."""
        at = self._flushed + len(side.pending)
        if position > at:
            side.pending += _SILENCE * int(position - at)
        elif position < at:
            payload = payload[int(at - position) :]
        side.pending += payload

    def _take(self, upto: int) -> bytes:
        """Interleaved samples from the flushed point to ``upto``; silence fills a side."""
        count = upto - self._flushed
        if count <= 0:
            return b""
        out = np.empty(2 * count, dtype=np.uint8)
        for channel, side in enumerate(self._sides.values()):
            if len(side.pending) < count:
                side.pending += _SILENCE * (count - len(side.pending))
            out[channel::2] = np.frombuffer(side.pending, dtype=np.uint8, count=count)
            del side.pending[:count]
        self._flushed = upto
        return out.tobytes()

    # ---- storing -----------------------------------------------------------

    async def _run(self) -> None:
        try:
            if not await self._open():
                return
            writer = self._writer
            assert writer is not None
            await writer.append(wav_header())
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FLUSH_EVERY):
                        await self._stopping.wait()
                if self._stopping.is_set():
                    break
                upto = self._now() - int(HORIZON * RATE)
                await self._store(self._take(upto if self._end is None else min(upto, self._end)))
            end = max(
                self._now() if self._end is None else self._end,
                *(self._flushed + len(s.pending) for s in self._sides.values()),
            )
            await self._store(self._take(end))
            async with _storing():
                await writer.close(complete=True, duration_seconds=self._flushed / RATE)
            self.state = "closed"
            log.info("media: the call's recording is complete (%.1f s)", self._flushed / RATE)
        except Exception as exc:
            await self._fail(exc)

    async def _store(self, data: bytes) -> None:
        """Hand ``data`` to the writer, which stores a chunk it fills: when no other call is."""
        assert self._writer is not None
        async with _storing():
            await self._writer.append(data)

    async def _open(self) -> bool:
        line = await service_line_of(self.app[DB], self.session_id)
        if line is not None and not recorded(self.app[SETTINGS].recording_off_lines, line):
            self.state = "off"
            self._drop()
            log.info("media: calls of the %s line are not recorded", line)
            return False
        try:
            self._writer = await open_recording(
                self.app,
                session_id=self.session_id,
                kind="phone",
                media_type=MEDIA_TYPE,
                tracks=list(TRACKS),
                chunk_bytes=CHUNK_BYTES,
            )
        except RecordingError as exc:  # already on the session's timeline
            self.state, self.reason = "failed", exc.message
            self._drop()
            log.warning("media: the call is not recorded: %s", exc.message)
            return False
        self.recording_id = self._writer.recording_id
        self.state = "recording"
        return True

    async def _fail(self, exc: Exception) -> None:
        """Storing failed: the recording closes ``failed`` with the reason; the call goes on."""
        message = exc.message if isinstance(exc, RecordingError) else str(exc) or type(exc).__name__
        self.state = "failed"
        message = " ".join(message.split())  # one line: the reason goes on the timeline
        self.reason = f"the phone recording could not be stored: {message}"[:200]
        self._drop()
        log.error("media: %s", self.reason)
        try:
            if self.recording_id is None:
                await self._failed_to_start(self.reason)
                return
            await custody.close(
                self.app[DB],
                self.app[RECORDINGS].store,
                self.recording_id,
                state="failed",
                now=self.app[CLOCK](),
                reason=self.reason,
                duration_seconds=self._flushed / RATE,
            )
        except Exception:
            log.exception("media: the failed recording could not be marked failed")

    async def _failed_to_start(self, reason: str) -> None:
        async with self.app[DB]() as session, session.begin():
            contact = await session.get(ContactSession, self.session_id)
            if contact is not None:
                await custody.record_failure(
                    session, contact, kind="phone", reason=reason, now=self.app[CLOCK]()
                )

    def _drop(self) -> None:
        for side in self._sides.values():
            side.pending.clear()


class _Tap:
    """A Twilio sink that records the officer's frames it passes on."""

    def __init__(self, sink: TwilioSink, recording: CallRecording) -> None:
        self._sink = sink
        self._recording = recording

    async def send_media(self, payload: bytes) -> None:
        self._recording.officer(payload)
        await self._sink.send_media(payload)

    async def send_mark(self, name: str) -> None:
        await self._sink.send_mark(name)

    async def send_clear(self) -> None:
        await self._sink.send_clear()
