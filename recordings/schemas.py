"""What the recordings API takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from recordings.models import Recording


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordingStart(_Request):
    kind: Literal["video", "phone"] = "video"
    media_type: Annotated[StrictStr, Field(min_length=3, max_length=100)]
    """As the recorder produces it, e.g. ``video/webm;codecs=vp8,opus``."""
    tracks: Annotated[list[Annotated[StrictStr, Field(max_length=32)]], Field(max_length=8)] = []
    """What is mixed in, e.g. ``["remote", "local"]``."""
    continues: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$")] | None = None
    """The id of this session's recording that this one continues (a console reloaded
    mid-call): if it is still open it is closed, complete up to its last chunk, with
    the reason naming the new recording."""


class RecordingClose(_Request):
    duration_seconds: Annotated[StrictFloat | StrictInt, Field(ge=0, le=86_400)] | None = None


class RecordingFail(_Request):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class StartFailure(_Request):
    kind: Literal["video", "phone"] = "video"
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class MediaQuery(_Request):
    download: Literal["0", "1"] = "0"
    """``1`` asks for a download (an attachment) rather than playback."""


class ChunkReceipt(BaseModel):
    index: int
    size: int
    sha256: str
    chain_hash: str
    next_index: int
    created: bool
    """False when this exact chunk had been received before (nothing changed)."""


class RecordingView(BaseModel):
    id: str
    session_id: str
    case_id: int
    officer_id: int | None
    kind: str
    media_type: str
    tracks: list[str]
    state: Literal["open", "complete", "incomplete", "failed"]
    reason: str | None
    chunk_count: int
    next_index: int
    size: int
    sha256: str | None
    chain_head: str | None
    duration_seconds: float | None
    started_at: datetime
    closed_at: datetime | None
    legal_hold: bool
    purged: bool

    @classmethod
    def of(cls, r: Recording) -> RecordingView:
        return cls(
            id=r.id,
            session_id=r.session_id,
            case_id=r.case_id,
            officer_id=r.officer_id,
            kind=r.kind,
            media_type=r.media_type,
            tracks=list(r.tracks or []),
            state=r.state,
            reason=r.reason,
            chunk_count=r.chunk_count,
            next_index=r.chunk_count,
            size=r.size,
            sha256=r.sha256,
            chain_head=r.chain_head,
            duration_seconds=r.duration_seconds,
            started_at=r.started_at,
            closed_at=r.closed_at,
            legal_hold=r.legal_hold,
            purged=r.purged_at is not None,
        )


class RecordingList(BaseModel):
    recordings: list[RecordingView]
