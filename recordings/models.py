"""Recordings and their chunks: what was recorded, by whom, and the hash chain of custody.

A chunk's ``chain_hash`` is SHA-256 over the previous chunk's chain hash
(32 zero bytes for chunk 0), the index (8 bytes, big-endian) and the chunk's
own SHA-256, all raw bytes (:func:`recordings.custody.chain`). The chain head
and the SHA-256 of the whole content are kept on the recording once it
closes. Rows are never deleted: a purged recording keeps its row and hashes
(``purged_at``) while its files are removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from safecall.db import Base, UTCDateTime, utcnow


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    """The handling officer when recording started."""
    kind: Mapped[str] = mapped_column(String(8))  # phone | video
    media_type: Mapped[str] = mapped_column(String(100))
    tracks: Mapped[list[str]] = mapped_column(JSON, default=list)
    key_id: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12), default="open", index=True)
    """open | complete | incomplete | failed"""
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    chain_head: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the whole content, set when the recording closes."""
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_chunk_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RecordingChunk(Base):
    __tablename__ = "recording_chunks"
    __table_args__ = (UniqueConstraint("recording_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"))
    index: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    """Of the plaintext chunk, computed on arrival."""
    chain_hash: Mapped[str] = mapped_column(String(64))
    blob: Mapped[str] = mapped_column(String(40))
    """The chunk's file under the recording's folder."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "size": self.size,
            "sha256": self.sha256,
            "chain_hash": self.chain_hash,
            "received_at": self.received_at,
        }


class RecordingBlob(Base):
    """A sealed chunk kept in the database (``SAFECALL_RECORDINGS_STORE=database``)."""

    __tablename__ = "recording_blobs"

    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    """``RecordingChunk.blob`` of the chunk whose sealed bytes these are."""
    data: Mapped[bytes] = mapped_column(LargeBinary)
    """Sealed as :func:`recordings.store.seal` does; never plaintext."""
