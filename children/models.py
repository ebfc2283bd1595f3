"""Reports of missing and found children, their photos, match candidates, reunifications and
alerts.

What identifies a child (names, parents' names, description, where last seen or found, the
guardian's details, the child's phone) is sealed (:mod:`sealing.data_key`); photos are sealed
like recordings. What the figures and the lists need stays plain: the kind, the status, the
district, the age and height ranges, the gender and the times.
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from safecall.db import Base, UTCDateTime, utcnow


class ChildReport(Base):
    """One report: a child missing, or a child found."""

    __tablename__ = "child_reports"
    __table_args__ = (Index("ix_child_reports_kind_status", "kind", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    """missing | found"""
    status: Mapped[str] = mapped_column(String(12))
    """open | matched (a match confirmed, reunification under way) | closed"""
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """reunited | placed_in_care | referred | withdrawn (when closed)"""
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), nullable=True)
    place: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """The place whose account filed it (a station's, an institution's); None from the centre."""
    district: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """Where last seen (missing) or found."""
    age_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    age_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gender: Mapped[str | None] = mapped_column(String(8), nullable=True)
    height_min_cm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height_max_cm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """Last seen (missing) or found."""
    details_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """JSON: names, parents' names, description, place text, coordinates, what the child says,
    custody, vehicles, with whom."""
    guardian_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """JSON: the guardian's name, phone, identity document number, address."""
    guardian_relation: Mapped[str | None] = mapped_column(String(24), nullable=True)
    child_phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    runaway: Mapped[bool] = mapped_column(Boolean, default=False)
    abduction_suspected: Mapped[bool] = mapped_column(Boolean, default=False)
    abuse_suspected: Mapped[bool] = mapped_column(Boolean, default=False)
    """Abuse at home suspected: the child goes to the child protection path."""
    custody_place: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Where a found child is now (a place code), when it is a place of the directory."""
    national_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """A missing report: two hours after it was made, the national agency must have it."""
    national_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    national_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Left search under the retention rule (a reunited child's record, after a while)."""


class ChildPhoto(Base):
    """A photo of a report's child, sealed like a recording; its perceptual hash kept."""

    __tablename__ = "child_photos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("child_reports.id"), index=True)
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    phash: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """64-bit perceptual hash, hex (duplicate photos across reports)."""
    key_id: Mapped[str] = mapped_column(String(16))
    blob: Mapped[str] = mapped_column(String(40))
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChildMatch(Base):
    """A candidate pair: a missing report and a found one, scored, then confirmed or rejected."""

    __tablename__ = "child_matches"
    __table_args__ = (UniqueConstraint("missing_id", "found_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    missing_id: Mapped[str] = mapped_column(ForeignKey("child_reports.id"), index=True)
    found_id: Mapped[str] = mapped_column(ForeignKey("child_reports.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12))
    """proposed | confirmed | rejected"""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Reunification(Base):
    """The handover of a child: the checklist, the record and the outcome."""

    __tablename__ = "child_reunifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("child_matches.id"), unique=True)
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(16))
    handed_over_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handover_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """JSON: the place, the officers present, the guardian (or the care placement)."""
    recorded_by: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChildAlert(Base):
    """An alert raised for a missing report (a young child, or abduction suspected)."""

    __tablename__ = "child_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("child_reports.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    """young_child | abduction"""
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    public_text_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """The text ready for broadcast; public only once a supervisor releases it."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)


class ChildAlertRecipient(Base):
    """One recipient of an alert: a place (any of its accounts acknowledges) or a centre
    officer; delivered and acknowledged."""

    __tablename__ = "child_alert_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("child_alerts.id"), index=True)
    place: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id"), nullable=True, index=True
    )
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
