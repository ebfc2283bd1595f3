"""The recordings API: the console uploads a video call's chunks; staff play and download.

Uploading (start, chunks, close, fail) is for the officer handling the
session. Playing and downloading follow :func:`recordings.access.may_play`;
each media request is an audit event (``recording.play`` or
``recording.download``, with the range asked for), and so is each refusal
(``recording.access_refused``, answered 403). A recording of a case the
officer cannot see at all answers 404, like a case would.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from aiohttp import ClientPayloadError, web
from sqlalchemy import select

from cases.casework import can_read
from cases.models import Case, ContactSession
from officers.auth import current_officer
from officers.models import Officer
from recordings import custody
from recordings.access import is_handler, may_play
from recordings.custody import MAX_CHUNK, RecordingError
from recordings.models import Recording
from recordings.playback import parse_range, stream
from recordings.schemas import (
    ChunkReceipt,
    MediaQuery,
    RecordingClose,
    RecordingFail,
    RecordingList,
    RecordingStart,
    RecordingView,
    StartFailure,
)
from recordings.service import RECORDINGS, start_recording
from safecall.endpoint import STAFF, endpoint
from safecall.errors import ApiError, read_body, read_query
from safecall.state import AUDIT, CLOCK, DB, client_address

TAGS = ["recordings"]
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_EXTENSIONS = {"video/webm": "webm", "audio/webm": "webm", "audio/wav": "wav", "video/mp4": "mp4"}


def _not_found() -> ApiError:
    return ApiError(404, "recording_not_found", "There is no recording with that id you can see.")


def _recording_id(request: web.Request) -> str:
    raw = request.match_info["recording_id"]
    if not _HEX32.match(raw):
        raise _not_found()
    return raw


def _session_id(request: web.Request) -> str:
    raw = request.match_info["session_id"]
    if not _HEX32.match(raw):
        raise ApiError(404, "session_not_found", "There is no such session.")
    return raw


async def _audit(request: web.Request, action: str, object_id: str, detail: dict[str, Any]) -> None:
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=current_officer(request).id,
        action=action,
        object_type="recording",
        object_id=object_id,
        address=client_address(request),
        detail=detail,
    )


def _view(recording: Recording, status: int = 200) -> web.Response:
    return web.json_response(RecordingView.of(recording).model_dump(mode="json"), status=status)


async def _handled_session(request: web.Request, officer: Officer) -> ContactSession:
    async with request.app[DB]() as session:
        contact = await session.get(ContactSession, _session_id(request))
    if contact is None:
        raise ApiError(404, "session_not_found", "There is no such session.")
    if contact.officer_id != officer.id:
        raise ApiError(
            403, "not_handling_officer", "Only the officer handling this session records it."
        )
    return contact


async def _own_recording(request: web.Request) -> Recording:
    async with request.app[DB]() as session:
        recording = await session.get(Recording, _recording_id(request))
    if recording is None:
        raise _not_found()
    if not is_handler(current_officer(request), recording):
        raise ApiError(
            403, "not_handling_officer", "Only the officer handling the session uploads to it."
        )
    return recording


# --- uploading --------------------------------------------------------------


@endpoint(
    "Start recording a session you are handling (the console's video call); "
    "`continues` names the recording of it that this one carries on (the earlier "
    "part is closed, its reason naming this one).",
    roles=STAFF,
    body=RecordingStart,
    response=RecordingView,
    status=201,
    errors=[
        "session_not_found",
        "not_handling_officer",
        "recording_not_found",
        "recording_kind_differs",
        "session_ended",
        "invalid_media_type",
        "invalid_tracks",
        "recordings_unavailable",
    ],
    statuses=[503],
    tags=TAGS,
)
async def create_recording(request: web.Request) -> web.Response:
    body = await read_body(request, RecordingStart)
    officer = current_officer(request)
    contact = await _handled_session(request, officer)
    previous = None
    if body.continues is not None:
        previous = await _continued(request, officer, contact, body.continues, body.kind)
    recording = await start_recording(
        request.app,
        session_id=contact.id,
        kind=body.kind,
        media_type=body.media_type,
        tracks=body.tracks,
    )
    if previous is not None and previous.state == "open":
        # The page that uploaded it is gone (a reload): what arrived is all there is of
        # that part; the reason names the part that goes on.
        with contextlib.suppress(RecordingError):  # closed meanwhile (the sweep): it stays so
            await custody.close(
                request.app[DB],
                request.app[RECORDINGS].store,
                previous.id,
                state="complete",
                now=request.app[CLOCK](),
                reason=f"continued in recording {recording.id} (the recorder restarted)",
            )
    return _view(recording, 201)


async def _continued(
    request: web.Request, officer: Officer, contact: ContactSession, recording_id: str, kind: str
) -> Recording:
    """The recording a new one continues: this session's, of the same kind, this officer's."""
    async with request.app[DB]() as session:
        previous = await session.get(Recording, recording_id)
    if previous is None or previous.session_id != contact.id or not is_handler(officer, previous):
        raise ApiError(
            404,
            "recording_not_found",
            "There is no recording of this session with that id for you to continue.",
        )
    if previous.kind != kind:
        raise ApiError(
            409,
            "recording_kind_differs",
            f"That recording is of kind {previous.kind}; start a {previous.kind} recording "
            "to continue it.",
        )
    return previous


@endpoint(
    "The recorder could not start (no MediaRecorder, no stream): log it on the session.",
    roles=STAFF,
    body=StartFailure,
    status=204,
    errors=["session_not_found", "not_handling_officer", "invalid_reason"],
    tags=TAGS,
)
async def report_start_failure(request: web.Request) -> web.Response:
    body = await read_body(request, StartFailure)
    contact = await _handled_session(request, current_officer(request))
    async with request.app[DB]() as session, session.begin():
        await custody.record_failure(
            session, contact, kind=body.kind, reason=body.reason, now=request.app[CLOCK]()
        )
    return web.Response(status=204)


async def _read_chunk(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_CHUNK:
        raise ApiError(
            413, "chunk_too_large", f"A chunk may hold at most {MAX_CHUNK // 1048576} MiB."
        )
    data = bytearray()
    try:
        async for piece in request.content.iter_any():
            data += piece
            if len(data) > MAX_CHUNK:
                raise ApiError(
                    413, "chunk_too_large", f"A chunk may hold at most {MAX_CHUNK // 1048576} MiB."
                )
    except (ClientPayloadError, ConnectionError):
        # The upload broke off: nothing of it is kept; the uploader resumes.
        raise ApiError(
            400, "chunk_incomplete", "The chunk did not arrive whole; send it again."
        ) from None
    if request.content_length is not None and len(data) != request.content_length:
        raise ApiError(400, "chunk_incomplete", "The chunk did not arrive whole; send it again.")
    return bytes(data)


@endpoint(
    "Upload chunk N of a recording (raw bytes). The same chunk again changes nothing; "
    "a gap or other content for a received index is refused with X-Next-Chunk.",
    roles=STAFF,
    response=ChunkReceipt,
    status=201,
    errors=[
        "recording_not_found",
        "not_handling_officer",
        "invalid_chunk_index",
        "chunk_incomplete",
        "chunk_conflict",
        "chunk_out_of_order",
        "recording_closed",
        "empty_chunk",
        "chunk_too_large",
        "recording_too_large",
        "recordings_unavailable",
    ],
    statuses=[413, 503],
    tags=TAGS,
)
async def put_chunk(request: web.Request) -> web.Response:
    recording = await _own_recording(request)
    raw = request.match_info["index"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise ApiError(400, "invalid_chunk_index", "A chunk index is a whole number from 0.")
    data = await _read_chunk(request)
    received = await custody.add_chunk(
        request.app[DB],
        request.app[RECORDINGS].store,
        recording.id,
        int(raw),
        data,
        request.app[CLOCK](),
    )
    chunk = received.chunk
    receipt = ChunkReceipt(
        index=chunk.index,
        size=chunk.size,
        sha256=chunk.sha256,
        chain_hash=chunk.chain_hash,
        next_index=chunk.index + 1 if received.created else await _next_index(request, recording),
        created=received.created,
    )
    return web.json_response(receipt.model_dump(), status=201 if received.created else 200)


async def _next_index(request: web.Request, recording: Recording) -> int:
    async with request.app[DB]() as session:
        count = await session.scalar(
            select(Recording.chunk_count).where(Recording.id == recording.id)
        )
    return int(count or 0)


@endpoint(
    "Close a recording you are uploading: complete up to its last chunk.",
    roles=STAFF,
    body=RecordingClose,
    response=RecordingView,
    errors=["recording_not_found", "not_handling_officer", "recording_closed"],
    tags=TAGS,
)
async def close_recording(request: web.Request) -> web.Response:
    body = await read_body(request, RecordingClose)
    recording = await _own_recording(request)
    closed = await custody.close(
        request.app[DB],
        request.app[RECORDINGS].store,
        recording.id,
        state="complete",
        now=request.app[CLOCK](),
        duration_seconds=None if body.duration_seconds is None else float(body.duration_seconds),
    )
    return _view(closed)


@endpoint(
    "Mark a recording you are uploading as failed, with the reason (the call goes on).",
    roles=STAFF,
    body=RecordingFail,
    response=RecordingView,
    errors=["recording_not_found", "not_handling_officer", "recording_closed", "invalid_reason"],
    tags=TAGS,
)
async def fail_recording(request: web.Request) -> web.Response:
    body = await read_body(request, RecordingFail)
    recording = await _own_recording(request)
    closed = await custody.close(
        request.app[DB],
        request.app[RECORDINGS].store,
        recording.id,
        state="failed",
        reason=body.reason,
        now=request.app[CLOCK](),
    )
    return _view(closed)


# --- reading ----------------------------------------------------------------


async def _playable(request: web.Request, action: str) -> tuple[Recording, Case]:
    """The recording if this officer may play it; refusals are audited (403)."""
    officer = current_officer(request)
    recording_id = _recording_id(request)
    async with request.app[DB]() as session:
        recording = await session.get(Recording, recording_id)
        case = None if recording is None else await session.get(Case, recording.case_id)
    if recording is None or case is None:
        raise _not_found()
    if not may_play(officer, recording, case):
        await _audit(request, "recording.access_refused", recording.id, {"asked": action})
        if not can_read(officer, case):
            raise _not_found()
        raise ApiError(
            403,
            "recording_forbidden",
            "Only the handling officer, supervisors of this service line"
            + (" " if case.category == "sexual_violence" else " and admins ")
            + "may play this recording.",
        )
    return recording, case


@endpoint(
    "A recording's details: state, hashes, where an upload resumes.",
    roles=STAFF,
    response=RecordingView,
    errors=["recording_not_found", "recording_forbidden"],
    tags=TAGS,
)
async def read_recording(request: web.Request) -> web.Response:
    officer = current_officer(request)
    async with request.app[DB]() as session:
        recording = await session.get(Recording, _recording_id(request))
    if recording is not None and is_handler(officer, recording):
        return _view(recording)
    recording, _ = await _playable(request, "details")
    return _view(recording)


@endpoint(
    "The recordings of a case that you may play.",
    roles=STAFF,
    response=RecordingList,
    errors=["invalid_case_id", "case_not_found"],
    tags=TAGS,
)
async def list_case_recordings(request: web.Request) -> web.Response:
    officer = current_officer(request)
    raw = request.match_info["case_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise ApiError(400, "invalid_case_id", "A case id is a whole number.")
    not_found = ApiError(404, "case_not_found", "There is no case with that id that you can see.")
    async with request.app[DB]() as session:
        case = await session.get(Case, int(raw))
        if case is None:
            raise not_found
        rows = (
            await session.scalars(
                select(Recording)
                .where(Recording.case_id == case.id)
                .order_by(Recording.started_at, Recording.id)
            )
        ).all()
    visible = [r for r in rows if may_play(officer, r, case)]
    # The handling officer of a session may not see its case otherwise (sexual violence).
    if not visible and not can_read(officer, case):
        raise not_found
    body = RecordingList(recordings=[RecordingView.of(r) for r in visible])
    return web.json_response(body.model_dump(mode="json"))


@endpoint(
    "Play (or with download=1, download) a recording, decrypted as it streams; "
    "byte ranges answer 206. Every request is audited.",
    roles=STAFF,
    query=MediaQuery,
    content_type="application/octet-stream",
    errors=[
        "recording_not_found",
        "recording_forbidden",
        "recording_purged",
        "range_not_satisfiable",
        "invalid_range",
        "recording_damaged",
        "recordings_unavailable",
    ],
    statuses=[410, 416, 500, 503],
    tags=TAGS,
)
async def recording_media(request: web.Request) -> web.StreamResponse:
    query = read_query(request, MediaQuery)
    action = "download" if query.download == "1" else "play"
    recording, _ = await _playable(request, action)
    if recording.purged_at is not None:
        raise ApiError(
            410, "recording_purged", "This recording was deleted at the end of its retention."
        )
    store = request.app[RECORDINGS].store
    async with request.app[DB]() as session:
        chunks = await custody.chunks_of(session, recording.id)
    size = sum(c.size for c in chunks)
    try:
        wanted = parse_range(request.headers.get("Range"), size)
    except ApiError as exc:
        if exc.status == 416:
            exc.headers["Content-Range"] = f"bytes */{size}"
        raise
    span = None if wanted is None else f"{wanted.start}-{wanted.end}"
    await _audit(request, f"recording.{action}", recording.id, {"range": span, "size": size})
    media_type = recording.media_type.split(";")[0]
    filename = None
    if action == "download":
        filename = f"recording-{recording.id}.{_EXTENSIONS.get(media_type, 'bin')}"
    return await stream(
        request,
        store,
        recording.id,
        chunks,
        wanted,
        media_type=media_type,
        filename=filename,
    )
