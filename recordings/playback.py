"""Playing a recording: decrypted on the fly, chunk by chunk, with HTTP byte ranges.

Only the chunks a range touches are read and opened; nothing decrypted is
written anywhere but the response.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from recordings.models import RecordingChunk
from recordings.store import ChunkError, ChunkStore
from safecall.errors import ApiError

log = logging.getLogger(__name__)

_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
MAX_DIGITS = 18
"""A byte position fits in 18 digits (an exabyte); Python refuses to read an int of more
than 4,300 digits, so a longer one must be refused before it is read."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int
    """Inclusive."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for, None for the whole; 416 when it cannot be served,
    400 ``invalid_range`` for a position too long to be a byte offset."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    unsatisfiable = ApiError(
        416,
        "range_not_satisfiable",
        f"Ask for one byte range within 0-{max(size - 1, 0)}, e.g. bytes=0-1023.",
    )
    if match is None or match.group(1) == match.group(2) == "":
        raise unsatisfiable
    first, last = match.group(1), match.group(2)
    if len(first) > MAX_DIGITS or len(last) > MAX_DIGITS:
        raise ApiError(
            400,
            "invalid_range",
            f"A byte position has at most {MAX_DIGITS} digits; ask e.g. for bytes=0-1023.",
        )
    if first == "":
        length = int(last)
        if length == 0 or size == 0:
            raise unsatisfiable
        return ByteRange(max(size - length, 0), size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise unsatisfiable
    return ByteRange(start, end)


async def stream(
    request: web.Request,
    store: ChunkStore,
    recording_id: str,
    chunks: Sequence[RecordingChunk],
    wanted: ByteRange | None,
    *,
    media_type: str,
    filename: str | None,
) -> web.StreamResponse:
    """Send the whole recording (200) or the range ``wanted`` (206)."""
    size = sum(c.size for c in chunks)
    response = web.StreamResponse(status=200 if wanted is None else 206)
    response.content_type = media_type.split(";")[0]
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "no-store"
    if filename is not None:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    start, end = (0, size - 1) if wanted is None else (wanted.start, wanted.end)
    if wanted is not None:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    response.content_length = max(end - start + 1, 0)
    prepared = False
    offset = 0
    for chunk in chunks:
        chunk_start, offset = offset, offset + chunk.size
        if offset <= start or chunk_start > end:
            continue
        try:
            data = await store.read(recording_id, chunk.index, chunk.blob)
        except ChunkError as exc:
            log.error("playback stopped: %s", exc)
            if not prepared:
                raise ApiError(
                    500,
                    "recording_damaged",
                    "This recording's stored files do not open; run `safecall recordings verify`.",
                ) from None
            # Headers are gone: cut the connection so the player sees a broken transfer.
            if request.transport is not None:
                request.transport.close()
            return response
        if not prepared:
            await response.prepare(request)
            prepared = True
        await response.write(data[max(start - chunk_start, 0) : end - chunk_start + 1])
    if not prepared:
        await response.prepare(request)
    await response.write_eof()
    return response
