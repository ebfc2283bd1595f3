"""The phone line's own tables: calls, marks on calling numbers, phone tracking attempts.

A calling number is never stored in clear here: only its keyed hash
(``DataKey.phone_hash``). The call table maps a Twilio CallSid to the contact
session, in the database so that any server process can act on the call
(bridge it when an officer accepts, end it when Twilio reports a hang-up).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from safecall.db import Base, UTCDateTime, utcnow


class PhoneCall(Base):
    """One Twilio call: her call to the line, or a callback an officer placed."""

    __tablename__ = "ivr_calls"

    call_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    """The contact session (one per inbound call; a callback joins its own new session)."""
    direction: Mapped[str] = mapped_column(String(12), default="inbound")
    """``inbound`` (she called) or ``callback`` (an officer called her)."""
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    language: Mapped[str] = mapped_column(String(8), default="ur")
    line: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(40), nullable=True)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    silent: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_safe: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(12), default="waiting")
    """``waiting`` -> ``bridging`` -> ``bridged``; ``ended`` once Twilio says it is over."""
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    """For a callback: the officer who placed it."""
    origin_session_id: Mapped[str | None] = mapped_column(
        ForeignKey("sessions.id"), nullable=True, index=True
    )
    """For a callback: the contact she asked to be called back from (its callback task's)."""
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    bridged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """Twilio's final CallStatus (completed, busy, no-answer, failed, canceled)."""


class NumberMark(Base):
    """An officer marked a contact from this number irrelevant (a prank or a wrong number)."""

    __tablename__ = "ivr_number_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), unique=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """A supervisor's override: cleared marks no longer count."""
    cleared_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)


class CallbackRetry(Base):
    """A callback ring went unanswered: her callback goes back in line at ``due_at``.

    In the database so that a restart loses none and any process may put it
    back; a process claims it for ``claimed_until`` (one winner), and ``done_at``
    is set once the task is in line. A claim that lapsed without ``done_at``
    (the process died) is claimed again; putting the task in line is idempotent.
    """

    __tablename__ = "ivr_callback_retries"
    __table_args__ = (UniqueConstraint("origin_session_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin_session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"))
    """The contact she asked to be called back from."""
    attempt: Mapped[int] = mapped_column(Integer)
    """The ring this retry makes (2, 3, ...)."""
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
