"""Her live location: while her contact lasts, her page may send where she is now.

``POST /api/contacts/{session_id}/location`` (public; her contact's token in
``Authorization: Bearer``) adds her newest location to the contact's timeline,
sealed as the one she gave at intake is. A referral made with
``live_location`` shows the place her newest one while it is open. Nothing
is written once the contact has ended; at most one location is kept per
``EVERY`` seconds (more are answered and dropped: her page sends what the
phone reports, and the map needs no more).
"""

from __future__ import annotations

import base64
import json

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cases.models import ContactSession, TimelineEvent
from cases.timeline import record_event
from contacts.desk import LOCATION_FIELD
from referrals.schemas import LocationIn
from safecall.endpoint import endpoint
from safecall.errors import ApiError, read_body
from safecall.refusals import Conflict
from safecall.state import CLOCK, DATA_KEY, DB
from signaling.hub import token_hash
from signaling.routes import HUB

EVERY = 5.0
"""Seconds between two locations kept for one contact."""


class LocationKept(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kept: bool = Field(description="False when one was kept less than 5 s ago.")


async def her_session(request: web.Request) -> str:
    """The contact whose citizen token came in ``Authorization: Bearer``; 401 otherwise."""
    session_id = request.match_info["session_id"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(session_id) > 64:
        raise ApiError(401, "invalid_session_token", "Send your contact's token.")
    seat = await request.app[HUB].store.seat(session_id, token_hash(token))
    if seat is None or seat.side != "citizen":
        raise ApiError(401, "invalid_session_token", "Send your contact's token.")
    return session_id


@endpoint(
    "Where she is now, while her contact lasts (send her token in Authorization: Bearer).",
    public=True,
    body=LocationIn,
    response=LocationKept,
    errors=["invalid_session_token", "contact_ended"],
    statuses=[401, 409],
    tags=["contacts"],
)
async def share_location(request: web.Request) -> web.Response:
    session_id = await her_session(request)
    body = await read_body(request, LocationIn)
    app = request.app
    now = app[CLOCK]()
    shared: dict[str, float] = {"latitude": body.latitude, "longitude": body.longitude}
    if body.accuracy is not None:
        shared["accuracy"] = body.accuracy
    async with app[DB]() as session, session.begin():
        contact = await session.get(ContactSession, session_id)
        if contact is None or contact.ended_at is not None:
            raise Conflict("contact_ended", "This contact has ended; nothing more is shared.")
        last = await session.scalar(
            select(TimelineEvent.at)
            .where(TimelineEvent.session_id == session_id, TimelineEvent.kind == "contact.location")
            .order_by(TimelineEvent.at.desc())
            .limit(1)
        )
        if last is not None and (now - last).total_seconds() < EVERY:
            return web.json_response({"kept": False}, headers={"Cache-Control": "no-store"})
        sealed = app[DATA_KEY].seal(json.dumps(shared), LOCATION_FIELD)
        await record_event(
            session,
            key=f"session:{session_id}:location:{int(now.timestamp() * 1000)}",
            kind="contact.location",
            at=now,
            session_id=session_id,
            case_id=contact.case_id,
            data={"sealed": base64.b64encode(sealed).decode()},
        )
    return web.json_response({"kept": True}, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/contacts/{session_id}/location", share_location)
