"""An attachment: one file on a case, stored sealed, with its hash taken on arrival."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from safecall.db import Base, UTCDateTime, utcnow


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), nullable=True)
    referral_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    source: Mapped[str] = mapped_column(String(16))
    """sms | whatsapp (she sent it) | field (a unit took it)"""
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    """Of the file as it arrived."""
    key_id: Mapped[str] = mapped_column(String(16))
    blob: Mapped[str] = mapped_column(String(40))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
