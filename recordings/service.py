"""The recordings service of one server process, and the writer the phone bridge uses.

``app[RECORDINGS]`` holds the chunk store; the recordings key is read on
first use, so a server without one still serves everything else (a recording
then fails with a reason saying to run ``safecall keys``). A background task
closes as ``incomplete`` the recordings whose sender went silent
(:func:`recordings.custody.sweep`).

The bridge records in-process::

    writer = await open_recording(app, session_id=..., kind="phone",
                                  media_type="audio/wav", tracks=["caller", "officer"])
    await writer.append(data)          # any sizes; cut into chunks here
    await writer.close(complete=True)  # or complete=False, reason="..."
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import ContactSession
from recordings import custody
from recordings.custody import RecordingError, refused
from recordings.keys import RecordingsKey
from recordings.models import Recording
from recordings.store import ChunkStore, open_store
from safecall.background import Periodic
from safecall.refusals import NotFound, Unavailable
from safecall.state import CLOCK, DB, SETTINGS

log = logging.getLogger(__name__)

DbFactory = async_sessionmaker[AsyncSession]

SWEEP_EVERY = 30.0
"""Seconds between sweeps for silent uploads."""
IDLE = timedelta(minutes=2)
"""A recording with no chunk for this long (and its session over or not) is incomplete."""


class Recordings:
    """Chunk store and key of this process (key loaded on first use)."""

    def __init__(self, kind: str, root: Path, key_file: Path, db: Callable[[], DbFactory]) -> None:
        self._kind = kind
        self._root = root
        self._key_file = key_file
        self._db = db
        self._store: ChunkStore | None = None

    @property
    def store(self) -> ChunkStore:
        """The store; :class:`RecordingError` (unavailable) when the key file cannot be read."""
        if self._store is None:
            try:
                key = RecordingsKey.load(self._key_file)
            except ValueError as exc:
                raise refused(Unavailable, "recordings_unavailable", str(exc)) from None
            self._store = open_store(self._kind, self._root, key, self._db())
        return self._store


RECORDINGS = web.AppKey("recordings", Recordings)


def setup_service(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[RECORDINGS] = Recordings(
        settings.recordings_store,
        settings.var_dir / "recordings",
        settings.recordings_key_file,
        lambda: app[DB],  # the database opens with the app, after this
    )


async def sweeper_context(app: web.Application) -> AsyncIterator[None]:
    async with Periodic(
        lambda: _sweep(app),
        every=SWEEP_EVERY,
        name="recordings-sweep",
        failure="recordings sweep failed; trying again later",
    ):
        yield


async def _sweep(app: web.Application) -> None:
    """Close recordings whose writer went quiet (``custody.sweep``)."""
    with contextlib.suppress(RecordingError):  # no key: nothing can have been recorded
        await custody.sweep(app[DB], app[RECORDINGS].store, app[CLOCK](), idle=IDLE)


async def start_recording(
    app: web.Application,
    *,
    session_id: str,
    kind: str,
    media_type: str,
    tracks: Sequence[str],
) -> Recording:
    """Open a recording of a live session. On refusal the failure is written on the
    session's timeline (the call goes on) and :class:`RecordingError` is raised."""
    now = app[CLOCK]()
    async with app[DB]() as session, session.begin():
        contact = await session.get(ContactSession, session_id)
        if contact is None:
            raise refused(NotFound, "session_not_found", "There is no such session.")
        try:
            key_id = app[RECORDINGS].store.key.current
            return await custody.start(
                session,
                contact,
                kind=kind,
                media_type=media_type,
                tracks=tracks,
                key_id=key_id,
                now=now,
            )
        except RecordingError as exc:
            failure = exc
    async with app[DB]() as session, session.begin():
        await custody.record_failure(
            session, contact, kind=kind, reason=failure.message[:200], now=now
        )
    raise failure


class RecordingWriter:
    """Cuts what it is given into chunks of ``chunk_bytes`` and stores each as it fills."""

    def __init__(self, app: web.Application, recording: Recording, chunk_bytes: int) -> None:
        self._app = app
        self.recording_id = recording.id
        self._chunk_bytes = chunk_bytes
        self._buffer = bytearray()
        self._next = 0
        self._closed = False

    async def append(self, data: bytes) -> None:
        if self._closed:
            raise RuntimeError("this recording is closed")
        self._buffer += data
        while len(self._buffer) >= self._chunk_bytes:
            piece = bytes(self._buffer[: self._chunk_bytes])
            del self._buffer[: self._chunk_bytes]
            await self._store(piece)

    async def _store(self, piece: bytes) -> None:
        await custody.add_chunk(
            self._app[DB],
            self._app[RECORDINGS].store,
            self.recording_id,
            self._next,
            piece,
            self._app[CLOCK](),
        )
        self._next += 1

    async def close(
        self,
        *,
        complete: bool = True,
        reason: str | None = None,
        duration_seconds: float | None = None,
    ) -> Recording:
        """Store what is buffered and close; safe to call twice."""
        if self._buffer and not self._closed:
            piece, self._buffer = bytes(self._buffer), bytearray()
            await self._store(piece)
        self._closed = True
        state = "complete" if complete else ("failed" if reason else "incomplete")
        return await custody.close(
            self._app[DB],
            self._app[RECORDINGS].store,
            self.recording_id,
            state=state,
            now=self._app[CLOCK](),
            reason=reason,
            duration_seconds=duration_seconds,
        )


async def open_recording(
    app: web.Application,
    *,
    session_id: str,
    kind: str,
    media_type: str,
    tracks: Sequence[str],
    chunk_bytes: int = 64 * 1024,
) -> RecordingWriter:
    """A writer for a new recording of ``session_id`` (see the module docstring)."""
    if not 1024 <= chunk_bytes <= custody.MAX_CHUNK:
        raise ValueError("chunk_bytes must be from 1 KiB to the largest chunk")
    recording = await start_recording(
        app, session_id=session_id, kind=kind, media_type=media_type, tracks=tracks
    )
    return RecordingWriter(app, recording, chunk_bytes)
