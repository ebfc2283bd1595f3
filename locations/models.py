"""The latest place her page shared on a contact (sealed: where she is tells who she is)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from safecall.db import Base, UTCDateTime, utcnow


class SessionLocation(Base):
    """One row a contact: the latest place replaces the one before (no trail is kept)."""

    __tablename__ = "session_locations"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    place_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    """JSON {latitude, longitude, accuracy}, sealed with the data key."""
    updates: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
