"""Referrals and their updates: what was sent to a place, and what the place did.

What the station reads about her is sealed (the reason, her location, the
name and number she agreed to share); the update notes and photos of the unit
are sealed too. The status and its times stay plain: they are the figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from safecall.db import Base, UTCDateTime, utcnow


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_place_status", "place", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), nullable=True)
    """The live contact it was made from (her shared location follows from it)."""
    place: Mapped[str] = mapped_column(String(64))
    """Where it went: a code of the directory of places."""
    district: Mapped[str] = mapped_column(String(64), index=True)
    urgency: Mapped[str] = mapped_column(String(12))
    """emergency | today | routine"""
    status: Mapped[str] = mapped_column(String(20), index=True)
    """sent | acknowledged | dispatched | en_route | on_scene | resolved | unable_to_locate |
    withdrawn"""
    reason_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    location_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    live_location: Mapped[bool] = mapped_column(Boolean, default=False)
    """Her later locations on the contact reach the station while the referral is open."""
    share_name: Mapped[bool] = mapped_column(Boolean, default=False)
    share_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    shared_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """Her name and number as she agreed to share them (never for an anonymous case)."""
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """What the officer chose to send: ``{"kind": "recording"|"attachment", "id": ...}``."""
    unit: Mapped[str | None] = mapped_column(String(60), nullable=True)
    """The unit sent (a call sign, ``Dolphin 12``)."""
    unit_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """An emergency nobody acknowledged in time went to the supervisors (once)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReferralUpdate(Base):
    """One step reported on a referral, with its note and photos."""

    __tablename__ = "referral_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
