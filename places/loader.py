"""Reading the directory file: GeoJSON, every feature checked, one sentence per mistake.

The file is a GeoJSON ``FeatureCollection`` (RFC 7946: longitude before
latitude, WGS 84). Each feature is one place: its ``id`` is the place's code,
its geometry the jurisdiction (``Polygon``/``MultiPolygon``) or, failing that,
the building (``Point``), and its ``properties`` say the rest
(docs/referrals.md, "The directory of places"). A mistake raises
:class:`PlacesError` naming the file, the feature and what is wrong, so the
server stops before it serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from cases.vocabulary import Districts, ServiceLine
from places.model import DutyContact, Kind, Place

SAMPLE = "lahore.geojson"
"""The sample shipped for ``make run``: a few places of Lahore district."""

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_AREAS = ("Polygon", "MultiPolygon")


class PlacesError(ValueError):
    """The directory file cannot be used; the message names the feature and the mistake."""


def load(path: Path | None, districts: Districts) -> list[Place]:
    """The places of ``path`` (or of the shipped sample), each checked against ``districts``."""
    if path is None:
        text = resources.files("places").joinpath(SAMPLE).read_text(encoding="utf-8")
        where = SAMPLE
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PlacesError(f"{path}: cannot be read ({exc.strerror}).") from None
        where = str(path)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PlacesError(f"{where}: not valid JSON ({exc}).") from None
    return parse(document, districts, where)


def parse(document: Any, districts: Districts, where: str = "places") -> list[Place]:
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise PlacesError(f"{where}: must be a GeoJSON FeatureCollection.")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise PlacesError(f"{where}: has no features.")
    places: list[Place] = []
    seen: set[str] = set()
    for index, feature in enumerate(features):
        place = _place(feature, districts, f"{where}: feature {index}")
        if place.code in seen:
            raise PlacesError(f"{where}: the id {place.code!r} is used twice.")
        seen.add(place.code)
        places.append(place)
    _check_neighbours(places, where)
    return places


def _place(feature: Any, districts: Districts, where: str) -> Place:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise PlacesError(f"{where}: must be a GeoJSON Feature.")
    code = feature.get("id")
    if not isinstance(code, str) or not _CODE.match(code):
        raise PlacesError(
            f"{where}: its id must be 2 to 64 lower-case letters, digits, '-' or '_' "
            "(like lahore-ps-gulberg)."
        )
    where = f"{where} ({code})"
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise PlacesError(f"{where}: needs properties.")
    try:
        kind = Kind(str(props.get("kind")))
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise PlacesError(f"{where}: kind must be one of {kinds}.") from None
    names = props.get("name")
    if not isinstance(names, dict) or not all(
        isinstance(names.get(lang), str) and names[lang].strip() for lang in ("en", "ur")
    ):
        raise PlacesError(f"{where}: name needs en and ur.")
    district = props.get("district") if kind is not Kind.DISTRICT else code
    if district not in districts:
        raise PlacesError(
            f"{where}: district {district!r} is not in the districts file"
            + (" (a district feature's id is its district code)." if kind is Kind.DISTRICT else ".")
        )
    area, location = _geometry(feature.get("geometry"), props.get("location"), where)
    if kind is Kind.DISTRICT and area is None:
        raise PlacesError(f"{where}: a district feature needs a Polygon or MultiPolygon.")
    return Place(
        code=code,
        kind=kind,
        names={str(k): str(v).strip() for k, v in names.items() if isinstance(v, str)},
        district=str(district),
        area=area,
        location=location,
        duty=_duty(props.get("duty", []), where),
        lines=_lines(props.get("lines", []), where),
        neighbours=frozenset(_strings(props.get("neighbours", []), "neighbours", where)),
    )


def _geometry(
    raw: Any, building: Any, where: str
) -> tuple[BaseGeometry | None, tuple[float, float] | None]:
    if not isinstance(raw, dict) or raw.get("type") not in (*_AREAS, "Point"):
        raise PlacesError(f"{where}: geometry must be a Polygon, MultiPolygon or Point.")
    try:
        geometry = shape(raw)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise PlacesError(f"{where}: its geometry cannot be read ({exc}).") from None
    if geometry.is_empty:
        raise PlacesError(f"{where}: its geometry is empty.")
    _in_range(geometry.bounds, where)
    if isinstance(geometry, Point):
        return None, (geometry.y, geometry.x)
    if not geometry.is_valid:
        raise PlacesError(
            f"{where}: its area is not a valid polygon (rings must close and must not cross)."
        )
    location = None
    if building is not None:
        if (
            not isinstance(building, list)
            or len(building) != 2
            or not all(isinstance(v, int | float) for v in building)
        ):
            raise PlacesError(f"{where}: location must be [longitude, latitude].")
        _in_range((building[0], building[1], building[0], building[1]), where)
        location = (float(building[1]), float(building[0]))
    return geometry, location


def _in_range(bounds: tuple[float, ...], where: str) -> None:
    west, south, east, north = bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise PlacesError(
            f"{where}: coordinates must be [longitude, latitude] within -180..180 and -90..90."
        )


def _duty(raw: Any, where: str) -> tuple[DutyContact, ...]:
    if not isinstance(raw, list):
        raise PlacesError(f"{where}: duty must be a list of {{role, phone}}.")
    contacts = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("role"), str):
            raise PlacesError(f"{where}: each duty contact needs a role and a phone.")
        phone = item.get("phone")
        if not isinstance(phone, str) or not _PHONE.match(phone):
            raise PlacesError(f"{where}: duty phone {phone!r} must be E.164, like +924299211234.")
        contacts.append(DutyContact(item["role"].strip()[:60], phone))
    return tuple(contacts)


def _lines(raw: Any, where: str) -> frozenset[str]:
    lines = _strings(raw, "lines", where)
    known = {line.value for line in ServiceLine}
    unknown = sorted(set(lines) - known)
    if unknown:
        raise PlacesError(f"{where}: lines must be among {', '.join(sorted(known))}.")
    return frozenset(lines)


def _strings(raw: Any, field: str, where: str) -> Iterable[str]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise PlacesError(f"{where}: {field} must be a list of strings.")
    return list(raw)


def _check_neighbours(places: list[Place], where: str) -> None:
    districts = {p.code for p in places if p.kind is Kind.DISTRICT}
    for place in places:
        unknown = sorted(place.neighbours - districts)
        if unknown:
            raise PlacesError(
                f"{where}: {place.code} names neighbours without a district feature: "
                f"{', '.join(unknown)}."
            )
