"""Live location over HTTP: her page sends where she is; the officer's console reads it.

``POST /api/contacts/{id}/location`` (her contact's token in ``Authorization:
Bearer``, as for her place in line) replaces the place kept for the contact,
sealed; only while the contact lasts, and at most once every
``MIN_INTERVAL`` seconds. Her page sends it only when she chose to share her
location, and stops when she says so or the contact ends.

``GET /api/contacts/{id}/location?after=N`` (officers who may see the case)
gives the latest place with its accuracy, when it was taken and how many
updates came; with ``after`` equal to the number the console already shows it
answers 204 (nothing new, nothing audited): the console asks every few
seconds, and only a place actually shown is an audited read.
"""

from __future__ import annotations

import json
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cases.casework import can_read
from cases.models import Case, ContactSession
from locations.latest import LIVE_FIELD
from locations.models import SessionLocation
from officers.auth import current_officer
from safecall.endpoint import STAFF, endpoint
from safecall.errors import ApiError, read_body, read_query
from safecall.refusals import Conflict, NotFound, TooMany
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, SETTINGS, client_address
from signaling.routes import her_session

TAGS = ["contacts"]
FIELD = LIVE_FIELD
"""The sealing context of a place (a sealed value opens only under its own field)."""
MIN_INTERVAL = 2.0
"""Seconds between two places from her page (a phone's GPS gives one a second)."""


class PlaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy: float | None = Field(default=None, ge=0, le=100_000, description="Metres.")


class PlaceOut(BaseModel):
    latitude: float
    longitude: float
    accuracy: float | None = Field(description="Metres (radius), when her phone said.")
    at: datetime = Field(description="When the server received it.")
    updates: int = Field(description="How many places came on this contact; ask after=this.")


class PlaceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after: int = Field(default=0, ge=0, description="The `updates` you show: 204 if unchanged.")


class MapOut(BaseModel):
    tiles: str = Field(description="Tile URL template with {z}, {x} and {y}.")
    attribution: str


class SharedOut(BaseModel):
    updates: int


@endpoint(
    "Her page shares where she is during her contact (send her token in Authorization: "
    "Bearer); the latest place replaces the one before.",
    public=True,
    body=PlaceIn,
    response=SharedOut,
    errors=["invalid_session_token", "session_ended", "location_too_often"],
    statuses=[401, 409, 429],
    tags=TAGS,
)
async def share(request: web.Request) -> web.Response:
    session_id = await her_session(request)
    place = await read_body(request, PlaceIn)
    now = request.app[CLOCK]()
    sealed = request.app[DATA_KEY].seal(json.dumps(place.model_dump()), FIELD)
    too_often = TooMany(
        "location_too_often",
        f"Send your location at most once every {MIN_INTERVAL:g} seconds.",
        retry_after=MIN_INTERVAL,
    )
    try:
        async with request.app[DB]() as session, session.begin():
            contact = await session.get(ContactSession, session_id, with_for_update=True)
            if contact is None:
                raise ApiError(401, "invalid_session_token", "Send your contact's token.")
            if contact.ended_at is not None:
                raise Conflict(
                    "session_ended", "This contact has ended; your location is not sent."
                )
            row = await session.get(SessionLocation, session_id, with_for_update=True)
            if row is None:
                row = SessionLocation(
                    session_id=session_id, place_sealed=sealed, updates=1, updated_at=now
                )
                session.add(row)
            else:
                waited = (now - row.updated_at).total_seconds()
                if waited < MIN_INTERVAL:
                    too_often.retry_after = MIN_INTERVAL - waited
                    raise too_often
                row.place_sealed, row.updated_at = sealed, now
                row.updates += 1
            updates = row.updates
    except IntegrityError:
        # Two first places at once: the other one was taken, and this one is too soon.
        raise too_often from None
    return web.json_response(SharedOut(updates=updates).model_dump())


@endpoint(
    "The latest place she shared on this contact (204 when `after` is already the latest).",
    roles=STAFF,
    query=PlaceQuery,
    response=PlaceOut,
    errors=["invalid_query", "no_location"],
    tags=TAGS,
)
async def latest(request: web.Request) -> web.StreamResponse:
    query = read_query(request, PlaceQuery)
    session_id = request.match_info["session_id"]
    officer = current_officer(request)
    async with request.app[DB]() as session:
        found = (
            await session.execute(
                select(SessionLocation, Case)
                .join(ContactSession, ContactSession.id == SessionLocation.session_id)
                .join(Case, Case.id == ContactSession.case_id)
                .where(SessionLocation.session_id == session_id)
            )
        ).first()
    if found is None or not can_read(officer, found[1]):
        # One answer for "no such contact", "not one you may see" and "nothing shared yet".
        raise NotFound("no_location", "No location has been shared on a contact you can see.")
    row = found[0]
    if row.updates <= query.after:
        return web.Response(status=204, headers={"Cache-Control": "no-store"})
    place = json.loads(request.app[DATA_KEY].open(row.place_sealed, FIELD))
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="session.location_read",
        object_type="session",
        object_id=session_id,
        address=client_address(request),
        detail={"updates": row.updates},
    )
    body = PlaceOut(**place, at=row.updated_at, updates=row.updates)
    return web.json_response(body.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@endpoint(
    "Where the console's map tiles come from (SAFECALL_MAP_TILES) and whom to credit.",
    roles=STAFF,
    response=MapOut,
    tags=TAGS,
)
async def map_tiles(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    body = MapOut(tiles=settings.map_tiles, attribution=settings.map_attribution)
    return web.json_response(body.model_dump())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/map", map_tiles)
    app.router.add_post("/api/contacts/{session_id}/location", share)
    app.router.add_get("/api/contacts/{session_id}/location", latest)
