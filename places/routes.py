"""The directory inside the server: loaded and checked at start; listed to officers.

``GET /api/places`` (the centre's officers and the field accounts) lists
places by kind and district; ``GET /api/places/responsible`` (the centre's
officers) names the station answerable for a point.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contacts.service import VOCABULARY
from places.directory import Directory
from places.loader import load
from places.model import Kind
from safecall.endpoint import FIELD, STAFF, endpoint
from safecall.errors import read_query
from safecall.refusals import NotFound
from safecall.state import SETTINGS

PLACES = web.AppKey("places", Directory)
TAGS = ["places"]


class PlacesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind | None = None
    district: str | None = Field(default=None, max_length=64)


class PlaceOut(BaseModel):
    code: str
    kind: str
    name: str
    names: dict[str, str]
    district: str
    location: dict[str, float] | None
    duty: list[dict[str, str]]
    lines: list[str]
    has_area: bool


class PlaceList(BaseModel):
    places: list[PlaceOut]


@endpoint(
    "Places of the directory (stations, district offices, 15 control, centres, shelters), "
    "by kind and district.",
    roles=STAFF | FIELD,
    query=PlacesQuery,
    response=PlaceList,
    tags=TAGS,
)
async def list_places(request: web.Request) -> web.Response:
    query = read_query(request, PlacesQuery)
    directory = request.app[PLACES]
    kinds = (query.kind,) if query.kind else tuple(Kind)
    places = directory.of_kind(*kinds, district=query.district)
    return web.json_response({"places": [p.public() for p in places]})


class PointQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class ResponsibleOut(BaseModel):
    place: PlaceOut
    how: Literal["inside", "edge", "nearest"]
    distance_m: float


@endpoint(
    "The police station answerable for a point: the jurisdiction holding it, or the nearest.",
    roles=STAFF,
    query=PointQuery,
    response=ResponsibleOut,
    errors=["no_station"],
    tags=TAGS,
)
async def responsible(request: web.Request) -> web.Response:
    query = read_query(request, PointQuery)
    found = request.app[PLACES].responsible(query.latitude, query.longitude)
    if found is None:
        raise NotFound("no_station", "The directory of places has no police station.")
    return web.json_response(
        {"place": found.place.public(), "how": found.how, "distance_m": round(found.distance_m)}
    )


def setup(app: web.Application) -> None:
    """Load and check the directory (a mistake stops the server with the feature named)."""
    settings = app[SETTINGS]
    app[PLACES] = Directory(load(settings.places_file, app[VOCABULARY].districts))
    app.router.add_get("/api/places", list_places)
    app.router.add_get("/api/places/responsible", responsible)
