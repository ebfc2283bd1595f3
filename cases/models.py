"""Cases, complainants, contact sessions and legs, notes, timeline events.

Sensitive text (names, phone numbers, addresses, notes) is stored sealed
(``*_sealed`` columns, see :mod:`sealing.data_key`); a phone number is also kept
as a keyed HMAC (``phone_hash``) so repeat callers can be recognised without
the number in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from safecall.db import Base, UTCDateTime, utcnow


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(12), unique=True)
    service_line: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(32), default="new", index=True)
    fir_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    police_station: Mapped[str | None] = mapped_column(String(80), nullable=True)
    district: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    assigned_officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id"), nullable=True, index=True
    )
    pin_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Complainant(Base):
    """Details she chose to give; absent when she stays anonymous."""

    __tablename__ = "complainants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    address_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    callback_safe: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_times_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """When it is safe to call her back, in her words (sealed: they tell her routine)."""
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ContactStatement(Base):
    """What a returning complainant said about herself on one contact, sealed and dated.

    A public request never changes an existing case: what she (or whoever holds
    her phone and her tracking code) says on a contact linked by its code is kept
    here, shown to the officer beside what the case holds, and reaches the case
    only when an officer confirms it (``confirmed_at``, ``confirmed_by``).
    """

    __tablename__ = "contact_statements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), unique=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    callback_safe: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_times_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)


class CaseNote(Base):
    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactSession(Base):
    """One contact, from arrival to end; logged against one case."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    service_line: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))  # the first leg's channel
    language: Mapped[str] = mapped_column(String(8), default="ur")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wait_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    talk_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Leg(Base):
    """One media path of a session over time: a chat can turn into a video call."""

    __tablename__ = "legs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # e.g. CallSid
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TimelineEvent(Base):
    """Something that happened to a session or a case.

    ``key`` makes writes idempotent: an event delivered twice appears once.
    """

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("sessions.id"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    complainant_visible: Mapped[bool] = mapped_column(Boolean, default=False)
