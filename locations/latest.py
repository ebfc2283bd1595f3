"""Her newest location on a contact, wherever it came from: the place she shares live
(``session_locations``, replaced as she moves) or, before that, the one she gave at intake
(her contact's ``contact.location`` event). One reader for the console's map and the
places a referral sends her location to."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import TimelineEvent
from contacts.desk import LOCATION_FIELD
from locations.models import SessionLocation
from sealing.data_key import DataKey

LIVE_FIELD = "session.live_location"
"""What the place she shares live is sealed for."""


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    accuracy: float | None
    at: datetime


async def newest_place(session: AsyncSession, data_key: DataKey, session_id: str) -> Place | None:
    """Her newest location on this contact, opened (for someone who may see her case)."""
    live = await session.get(SessionLocation, session_id)
    if live is not None:
        shared = json.loads(data_key.open(live.place_sealed, LIVE_FIELD))
        return Place(
            shared["latitude"], shared["longitude"], shared.get("accuracy"), live.updated_at
        )
    row = (
        await session.execute(
            select(TimelineEvent.data, TimelineEvent.at)
            .where(TimelineEvent.session_id == session_id, TimelineEvent.kind == "contact.location")
            .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    given = json.loads(data_key.open(base64.b64decode(row.data["sealed"]), LOCATION_FIELD))
    return Place(given["latitude"], given["longitude"], given.get("accuracy"), row.at)
