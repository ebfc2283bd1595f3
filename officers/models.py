"""Officers, their login sessions, and login throttling state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from safecall.db import Base, UTCDateTime, utcnow


class Officer(Base):
    """A police officer (or supervisor, or admin) who logs in to the console."""

    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    badge: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    """officer | supervisor | admin (the centre), or station | institution (a place's)."""
    gender: Mapped[str] = mapped_column(String(8))  # female | male
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # category -> 1..5
    lines: Mapped[list[str]] = mapped_column(JSON, default=list)  # service lines
    district: Mapped[str | None] = mapped_column(String(64), nullable=True)
    place: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """A station or institution account's place (a code of the directory of places); None
    for the centre's officers."""
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The last TOTP time step accepted: no code of that step or earlier works again."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "badge": self.badge,
            "name": self.name,
            "role": self.role,
            "gender": self.gender,
            "languages": list(self.languages),
            "skills": dict(self.skills),
            "lines": list(self.lines),
            "district": self.district,
            "place": self.place,
            "disabled": self.disabled,
            "totp": self.totp_sealed is not None,
        }


class OfficerLogin(Base):
    """One logged-in browser: the cookie holds the token, the table its SHA-256."""

    __tablename__ = "officer_logins"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    officer_id: Mapped[int] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed logins per key (``badge:B-101``, ``device:…`` or ``addr:203.0.113.7``).

    Growing delays, never a hard lockout: a lockout would let anyone lock
    every officer out by typing wrong passwords.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Attempts admitted and still being checked (counted before the password is)."""
    pending_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the pending attempts stop counting (a process that died mid-check)."""
