"""Custody of a recording: chunks hashed and chained on arrival, closed with the content hash.

Custody starts at the server's receipt: :func:`add_chunk` hashes the bytes as
they arrive, chains the hash to the previous chunk's, seals and writes the
chunk, then commits its row, all before it answers. Chunks arrive in order
(index 0, 1, 2, ...); the same chunk sent again is accepted without change,
a different body for a received index or a gap is refused with the index
expected next, so an uploader that broke resumes without losing or
duplicating anything.

:func:`close` reads every stored chunk back (so what is recorded as the
content hash is what can be played), and sets the final state: ``complete``,
``incomplete`` (the sender stopped: complete up to its last chunk) or
``failed`` (with the reason, also written on the session's timeline).
:func:`check` repeats that reading later and names the first thing that
does not match.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.casework import CaseworkError, clean_text
from cases.models import ContactSession
from cases.timeline import record_event
from recordings.models import Recording, RecordingChunk
from recordings.store import ChunkError, ChunkStore
from safecall.refusals import Conflict, Invalid, NotFound, Refusal, TooLarge, Unavailable

GENESIS = bytes(32)
KINDS = ("phone", "video")
STATES = ("open", "complete", "incomplete", "failed")
MAX_CHUNK = 8 * 1024 * 1024
"""Largest chunk accepted (a few seconds of video are well under 1 MiB)."""
MAX_CHUNKS = 100_000
MAX_RECORDING = 8 * 1024 * 1024 * 1024
"""Largest recording: 8 GiB (hours of video)."""


class RecordingError(Refusal):
    """A refused recording operation: a stable code, a sentence, and (when the matter is
    which chunk comes next) ``next_index``, told to the uploader as ``X-Next-Chunk``."""

    next_index: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.next_index is None else {"X-Next-Chunk": str(self.next_index)}


def refused(
    kind: type[Refusal], code: str, message: str, next_index: int | None = None
) -> RecordingError:
    """A :class:`RecordingError` of ``kind`` (Invalid, NotFound, Conflict, TooLarge...)."""
    error = _KINDS[kind](code, message)
    error.next_index = next_index
    return error


_KINDS: dict[type[Refusal], type[RecordingError]] = {
    kind: type(f"Recording{kind.__name__}", (RecordingError, kind), {})
    for kind in (Invalid, NotFound, Conflict, TooLarge, Unavailable)
}


def _clean(value: str, field: str, code: str) -> str:
    try:
        return clean_text(value, field, 200, code)
    except CaseworkError as exc:
        raise refused(Invalid, exc.code, exc.message) from None


def chain(prev: str | None, index: int, chunk_sha256: str) -> str:
    """The chain hash of chunk ``index``: SHA-256(prev chain | index | chunk hash), raw bytes."""
    link = bytes.fromhex(prev) if prev is not None else GENESIS
    return hashlib.sha256(link + index.to_bytes(8, "big") + bytes.fromhex(chunk_sha256)).hexdigest()


def new_id() -> str:
    return secrets.token_hex(16)


# Chunks of one recording are taken one at a time in this process; the unique
# (recording, index) row keeps other processes honest.
_LOCKS: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _lock(recording_id: str) -> asyncio.Lock:
    lock = _LOCKS.get(recording_id)
    if lock is None:
        lock = _LOCKS[recording_id] = asyncio.Lock()
    return lock


def check_media_type(media_type: str) -> str:
    media_type = media_type.strip()
    if (
        not 3 <= len(media_type) <= 100
        or not media_type.isascii()
        or media_type.split("/")[0] not in ("audio", "video")
        or any(c in media_type for c in '\r\n"\\')
    ):
        raise refused(
            Invalid,
            "invalid_media_type",
            "The media type must be audio/... or video/..., 100 at most.",
        )
    return media_type


async def start(
    session: AsyncSession,
    contact_session: ContactSession,
    *,
    kind: str,
    media_type: str,
    tracks: Sequence[str],
    key_id: str,
    now: datetime,
) -> Recording:
    """A new open recording of a session, in the caller's transaction."""
    if kind not in KINDS:
        raise refused(Invalid, "invalid_kind", "A recording is of kind phone or video.")
    if contact_session.ended_at is not None:
        raise refused(Conflict, "session_ended", "This session has ended; nothing to record.")
    if len(tracks) > 8 or any(len(t) > 32 for t in tracks):
        raise refused(Invalid, "invalid_tracks", "At most 8 tracks of up to 32 characters.")
    track_names = [_clean(t, "track name", "invalid_tracks") for t in tracks]
    recording = Recording(
        id=new_id(),
        session_id=contact_session.id,
        case_id=contact_session.case_id,
        officer_id=contact_session.officer_id,
        kind=kind,
        media_type=check_media_type(media_type),
        tracks=track_names,
        key_id=key_id,
        state="open",
        chunk_count=0,
        size=0,
        started_at=now,
        legal_hold=False,
    )
    session.add(recording)
    await record_event(
        session,
        key=f"recording:{recording.id}:started",
        kind="recording.started",
        at=now,
        session_id=contact_session.id,
        case_id=contact_session.case_id,
        officer_id=contact_session.officer_id,
        data={"recording_id": recording.id, "kind": kind},
    )
    return recording


@dataclass(frozen=True)
class Received:
    chunk: RecordingChunk
    created: bool
    """False when this exact chunk had already been received (nothing changed)."""


async def add_chunk(
    db: async_sessionmaker[AsyncSession],
    store: ChunkStore,
    recording_id: str,
    index: int,
    data: bytes,
    now: datetime,
) -> Received:
    """Receive chunk ``index``; see the module docstring for the rules."""
    digest = hashlib.sha256(data).hexdigest()
    async with _lock(recording_id):
        try:
            return await _receive(db, store, recording_id, index, data, digest, now)
        except IntegrityError:
            # Another process took this index first: answer as things now stand.
            return await _receive(db, store, recording_id, index, data, digest, now)


async def _receive(
    db: async_sessionmaker[AsyncSession],
    store: ChunkStore,
    recording_id: str,
    index: int,
    data: bytes,
    digest: str,
    now: datetime,
) -> Received:
    async with db() as session, session.begin():
        recording = await session.scalar(
            select(Recording).where(Recording.id == recording_id).with_for_update()
        )
        if recording is None:
            raise refused(NotFound, "recording_not_found", "There is no such recording.")
        existing = await session.scalar(
            select(RecordingChunk).where(
                RecordingChunk.recording_id == recording_id, RecordingChunk.index == index
            )
        )
        if existing is not None:
            if existing.sha256 == digest:
                return Received(existing, False)
            raise refused(
                Conflict,
                "chunk_conflict",
                f"Chunk {index} was already received with other content; "
                "a received chunk is never replaced.",
                next_index=recording.chunk_count,
            )
        _check_can_add(recording, index, len(data))
        blob, _ = await store.write(recording_id, index, data, session)
        chunk = RecordingChunk(
            recording_id=recording_id,
            index=index,
            size=len(data),
            sha256=digest,
            chain_hash=chain(recording.chain_head, index, digest),
            blob=blob,
            received_at=now,
        )
        session.add(chunk)
        recording.chunk_count = index + 1
        recording.size += len(data)
        recording.chain_head = chunk.chain_hash
        recording.last_chunk_at = now
    return Received(chunk, True)


def _check_can_add(recording: Recording, index: int, size: int) -> None:
    if recording.state != "open":
        raise refused(
            Conflict,
            "recording_closed",
            f"This recording is {recording.state}; it takes no chunks.",
        )
    if index != recording.chunk_count:
        raise refused(
            Conflict,
            "chunk_out_of_order",
            f"Chunk {recording.chunk_count} comes next, not chunk {index}; "
            "resume from the index given.",
            next_index=recording.chunk_count,
        )
    if size == 0:
        raise refused(Invalid, "empty_chunk", "A chunk must hold at least one byte.")
    if size > MAX_CHUNK:
        raise refused(
            TooLarge, "chunk_too_large", f"A chunk may hold at most {MAX_CHUNK // 1048576} MiB."
        )
    if index >= MAX_CHUNKS or recording.size + size > MAX_RECORDING:
        raise refused(
            TooLarge, "recording_too_large", "This recording has reached its size limit; close it."
        )


async def chunks_of(session: AsyncSession, recording_id: str) -> list[RecordingChunk]:
    return list(
        (
            await session.scalars(
                select(RecordingChunk)
                .where(RecordingChunk.recording_id == recording_id)
                .order_by(RecordingChunk.index)
            )
        ).all()
    )


async def read_chunks(
    store: ChunkStore, recording_id: str, chunks: Sequence[RecordingChunk]
) -> AsyncIterator[bytes]:
    """Each chunk's plaintext in order, checked against its hash and the chain."""
    prev: str | None = None
    for expected, chunk in enumerate(chunks):
        where = f"chunk {chunk.index} of recording {recording_id}"
        if chunk.index != expected:
            raise ChunkError(f"chunk {expected} of recording {recording_id} is missing")
        data = await store.read(recording_id, chunk.index, chunk.blob)
        if len(data) != chunk.size or hashlib.sha256(data).hexdigest() != chunk.sha256:
            raise ChunkError(f"{where}: its content does not match the hash taken on arrival")
        if chain(prev, chunk.index, chunk.sha256) != chunk.chain_hash:
            raise ChunkError(f"{where}: its chain hash does not follow from chunk {expected - 1}")
        prev = chunk.chain_hash
        yield data


async def _content_hash(
    store: ChunkStore, recording_id: str, chunks: Sequence[RecordingChunk]
) -> str:
    digest = hashlib.sha256()
    async for data in read_chunks(store, recording_id, chunks):
        digest.update(data)
    return digest.hexdigest()


async def close(
    db: async_sessionmaker[AsyncSession],
    store: ChunkStore,
    recording_id: str,
    *,
    state: str,
    now: datetime,
    reason: str | None = None,
    duration_seconds: float | None = None,
) -> Recording:
    """Close an open recording as ``complete``, ``incomplete`` or ``failed``.

    Closing a recording already closed in the same state is accepted (no change),
    so a close sent twice is harmless; another state is refused (409).
    """
    if state not in STATES[1:]:
        raise ValueError(f"cannot close a recording as {state!r}")
    if reason is not None:
        reason = _clean(reason, "reason", "invalid_reason")
    if duration_seconds is not None and not 0 <= duration_seconds <= 86_400:
        raise refused(Invalid, "invalid_duration", "The duration must be 0 to 86400 seconds.")
    async with _lock(recording_id), db() as session, session.begin():
        recording = await session.scalar(
            select(Recording).where(Recording.id == recording_id).with_for_update()
        )
        if recording is None:
            raise refused(NotFound, "recording_not_found", "There is no such recording.")
        if recording.state != "open":
            if recording.state == state:
                return recording
            raise refused(
                Conflict, "recording_closed", f"This recording is already {recording.state}."
            )
        chunks = await chunks_of(session, recording_id)
        if chunks:
            recording.sha256 = await _content_hash(store, recording_id, chunks)
        recording.state = state
        recording.reason = reason
        recording.closed_at = now
        if duration_seconds is not None:
            recording.duration_seconds = duration_seconds
        data: dict[str, object] = {
            "recording_id": recording.id,
            "chunks": recording.chunk_count,
            "size": recording.size,
            "sha256": recording.sha256,
        }
        if reason is not None:
            data["reason"] = reason
        await record_event(
            session,
            key=f"recording:{recording.id}:{state}",
            kind=f"recording.{state}",
            at=now,
            session_id=recording.session_id,
            case_id=recording.case_id,
            officer_id=recording.officer_id,
            data=data,
        )
        return recording


async def record_failure(
    session: AsyncSession, contact_session: ContactSession, *, kind: str, reason: str, now: datetime
) -> None:
    """A recording that could not even start: logged on the session, with the reason."""
    reason = _clean(reason, "reason", "invalid_reason")
    await record_event(
        session,
        key=f"recording:{contact_session.id}:start_failed:{secrets.token_hex(6)}",
        kind="recording.failed",
        at=now,
        session_id=contact_session.id,
        case_id=contact_session.case_id,
        officer_id=contact_session.officer_id,
        data={"kind": kind, "reason": reason},
    )


async def sweep(
    db: async_sessionmaker[AsyncSession],
    store: ChunkStore,
    now: datetime,
    *,
    idle: timedelta = timedelta(minutes=2),
    grace: timedelta = timedelta(seconds=30),
) -> list[str]:
    """Close as ``incomplete`` the open recordings whose sender has been silent for
    ``idle``, or whose session ended more than ``grace`` ago with no chunk since (the
    console's last chunk and its close come just after the hang-up); returns their ids."""
    silent, settled = now - idle, now - grace
    async with db() as session:
        rows = (
            await session.execute(
                select(Recording.id, Recording.chunk_count, ContactSession.ended_at)
                .join(ContactSession, ContactSession.id == Recording.session_id)
                .where(
                    Recording.state == "open",
                    or_(
                        and_(
                            ContactSession.ended_at < settled,
                            or_(
                                Recording.last_chunk_at.is_(None), Recording.last_chunk_at < settled
                            ),
                        ),
                        Recording.last_chunk_at < silent,
                        and_(Recording.last_chunk_at.is_(None), Recording.started_at < silent),
                    ),
                )
            )
        ).all()
    closed: list[str] = []
    for recording_id, count, ended_at in rows:
        why = "the session ended" if ended_at is not None else "the sender stopped sending"
        try:
            await close(
                db,
                store,
                recording_id,
                state="incomplete",
                now=now,
                reason=f"{why} before the recording was closed; complete up to chunk {count - 1}"
                if count
                else f"{why} before any chunk arrived",
            )
        except RecordingError:
            continue  # closed meanwhile
        closed.append(recording_id)
    return closed


async def check(
    db: async_sessionmaker[AsyncSession], store: ChunkStore, recording_id: str
) -> str | None:
    """Read the recording back; None when every chunk, the chain and the content hash
    match, else a sentence naming the first mismatch."""
    async with db() as session:
        recording = await session.get(Recording, recording_id)
        if recording is None:
            return f"recording {recording_id} does not exist"
        chunks = await chunks_of(session, recording_id)
    if recording.purged_at is not None:
        return None
    if len(chunks) != recording.chunk_count:
        return (
            f"recording {recording_id} should have {recording.chunk_count} chunks, "
            f"{len(chunks)} are recorded"
        )
    if chunks and chunks[-1].chain_hash != recording.chain_head:
        return f"recording {recording_id}: the last chunk is not the recorded chain head"
    try:
        content = await _content_hash(store, recording_id, chunks)
    except ChunkError as exc:
        return str(exc)
    if recording.sha256 is not None and content != recording.sha256:
        return f"recording {recording_id}: its content does not match the hash taken at close"
    return None
