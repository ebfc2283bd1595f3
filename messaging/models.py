"""Her choices about updates, the messages sent or held, and text conversations.

Her number is sealed everywhere (``*_sealed``) and kept as a keyed hash
(``phone_hash``) so a STOP from it finds her choices without the number in
clear. What a message said is sealed too: it may name the police when she
allowed it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from safecall.db import Base, UTCDateTime, utcnow


class UpdateChoice(Base):
    """How she may be told of her case's progress (one per case)."""

    __tablename__ = "update_choices"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(12))
    """none | track | sms | whatsapp | push"""
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    push_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """Her app's push subscription (endpoint and keys), sealed."""
    language: Mapped[str] = mapped_column(String(8))
    name_police: Mapped[bool] = mapped_column(Boolean, default=False)
    """She allowed messages to say "police"; otherwise they are neutral."""
    safe_times: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    """Windows of the day, local time: ``[["10:00", "12:00"], ...]``."""
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    chosen_via: Mapped[str] = mapped_column(String(12))
    """her (her page) | officer (she told the officer)"""
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_via: Mapped[str | None] = mapped_column(String(16), nullable=True)


class OutboundMessage(Base):
    """A text or notification to her: held until a safe time, then sent, then its receipt."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    """Why it exists (``update:<event id>``, ``chat:<...>``): made once."""
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), nullable=True)
    purpose: Mapped[str] = mapped_column(String(12))
    """update (a case step) | chat (an officer's reply in a text contact)"""
    step: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel: Mapped[str] = mapped_column(String(12))
    to_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    """held | sending | queued | sent | delivered | undelivered | failed | cancelled |
    interrupted"""
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    provider_sid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)


class MessagingCursor(Base):
    """How far the update writer has read the timeline."""

    __tablename__ = "messaging_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)


class TextContact(Base):
    """A contact that arrived by SMS or WhatsApp: whom to answer, and from which number."""

    __tablename__ = "text_contacts"

    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(12))
    """sms | whatsapp"""
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    from_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """Her address as Twilio gave it (``+92...`` or ``whatsapp:+92...``)."""
    to_number: Mapped[str] = mapped_column(String(64))
    """Our number she wrote to (the replies come from it)."""
    last_inbound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    messages_in: Mapped[int] = mapped_column(Integer, default=0)
