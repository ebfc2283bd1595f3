"""The directory in memory: places by code, kind and district, and where a point belongs.

Spatial questions are answered on a local flat projection of the directory
(equirectangular, metres, centred on the directory's middle latitude): exact
for "which area holds this point", and within a few per cent for distances
across a province (east-west metres shrink with the cosine of the latitude;
Punjab spans 28° to 34° N, so at most about 6%). That is enough to choose
the nearest station; it is not a surveyor's distance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from shapely import STRtree
from shapely.affinity import affine_transform
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from places.model import Kind, Place

METRES_PER_DEGREE = 111_320.0
"""Along a meridian, and along the equator (WGS 84, rounded)."""


@dataclass(frozen=True)
class Found:
    """The place answerable for a point, and how it was found."""

    place: Place
    how: str
    """``inside`` its area, on its area's ``edge`` (shared with a neighbour, or the outer
    boundary), or ``nearest`` when no area holds the point."""
    distance_m: float
    """0 inside or on the edge; otherwise from the point to the area (or building)."""


class Directory:
    def __init__(self, places: Iterable[Place]) -> None:
        self.by_code: dict[str, Place] = {p.code: p for p in places}
        middle = [p for p in self.by_code.values() if p.area is not None or p.location]
        lats = [self._centre(p)[0] for p in middle] or [0.0]
        self.origin_lat = (min(lats) + max(lats)) / 2
        self._cos = math.cos(math.radians(self.origin_lat))
        self._stations = [
            p for p in self.by_code.values() if p.kind is Kind.STATION and self._shape(p)
        ]
        self._station_shapes = [self._flat(self._shape_of(p)) for p in self._stations]
        self._station_tree = STRtree(self._station_shapes)
        self._districts = [p for p in self.by_code.values() if p.kind is Kind.DISTRICT]
        self._neighbours = self._work_out_neighbours()

    # --- lookups -------------------------------------------------------------------------

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def __iter__(self) -> Iterator[Place]:
        return iter(self.by_code.values())

    def __len__(self) -> int:
        return len(self.by_code)

    def get(self, code: str) -> Place | None:
        return self.by_code.get(code)

    def of_kind(self, *kinds: Kind, district: str | None = None) -> list[Place]:
        """Places of these kinds (in that district), by name."""
        found = [
            p
            for p in self.by_code.values()
            if p.kind in kinds and (district is None or p.district == district)
        ]
        return sorted(found, key=lambda p: (p.name, p.code))

    def control(self, district: str | None = None) -> Place | None:
        """The 15 control room for ``district`` (its own, else the first there is)."""
        rooms = self.of_kind(Kind.CONTROL)
        own = [p for p in rooms if p.district == district]
        chosen = own or rooms
        return chosen[0] if chosen else None

    # --- where a point belongs ------------------------------------------------------------

    def responsible(self, latitude: float, longitude: float) -> Found | None:
        """The station answerable for a point: the one whose jurisdiction holds it (strictly
        inside; on a shared edge, the one whose building is nearest, then by code), else the
        nearest jurisdiction or station building. None when the directory has no station."""
        if not self._stations:
            return None
        point = self._flat(Point(longitude, latitude))
        touching = sorted(self._station_tree.query(point, predicate="intersects"))
        if touching:
            holders = [self._stations[i] for i in touching]
            inside = [
                p
                for p, i in zip(holders, touching, strict=True)
                if self._station_shapes[i].contains(point)
            ]
            if inside:
                # Overlapping jurisdictions (a data mistake the file allows): the smaller one.
                best = min(inside, key=lambda p: (self._area_m2(p), p.code))
                return Found(best, "inside", 0.0)
            best = min(holders, key=lambda p: (self._building_distance(p, point), p.code))
            return Found(best, "edge", 0.0)
        nearest = self._station_tree.query_nearest(point, all_matches=True, return_distance=True)
        indexes, distances = nearest
        ranked = sorted(
            zip((int(i) for i in indexes), (float(d) for d in distances), strict=True),
            key=lambda pair: (pair[1], self._stations[pair[0]].code),
        )
        index, distance = ranked[0]
        return Found(self._stations[index], "nearest", distance)

    def district_at(self, latitude: float, longitude: float) -> str | None:
        """The district whose area holds the point (when the file gives district areas)."""
        point = Point(longitude, latitude)
        for district in self._districts:
            assert district.area is not None
            if district.area.covers(point):
                return district.code
        return None

    def neighbours(self, district: str) -> frozenset[str]:
        """Districts next to ``district`` (declared in the file, or whose areas touch)."""
        return self._neighbours.get(district, frozenset())

    def within(
        self, latitude: float, longitude: float, metres: float, kinds: Iterable[Kind]
    ) -> list[tuple[Place, float]]:
        """Places of ``kinds`` whose area or building is within ``metres`` of the point,
        nearest first (for alerts to the places within reach)."""
        wanted = set(kinds)
        point = self._flat(Point(longitude, latitude))
        found = []
        for place in self.by_code.values():
            shape = self._shape_of(place) if place.kind in wanted and self._shape(place) else None
            if shape is None:
                continue
            distance = float(self._flat(shape).distance(point))
            if distance <= metres:
                found.append((place, distance))
        return sorted(found, key=lambda pair: (pair[1], pair[0].code))

    def distance_m(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        """Metres between two (latitude, longitude) points, on the directory's projection."""
        return float(self._flat(Point(a[1], a[0])).distance(self._flat(Point(b[1], b[0]))))

    # --- internals ---------------------------------------------------------------------------

    @staticmethod
    def _shape(place: Place) -> bool:
        return place.area is not None or place.location is not None

    @staticmethod
    def _shape_of(place: Place) -> BaseGeometry:
        if place.area is not None:
            return place.area
        assert place.location is not None
        return Point(place.location[1], place.location[0])

    @staticmethod
    def _centre(place: Place) -> tuple[float, float]:
        if place.location is not None:
            return place.location
        assert place.area is not None
        c = place.area.centroid
        return (c.y, c.x)

    def _flat(self, geometry: BaseGeometry) -> BaseGeometry:
        k = METRES_PER_DEGREE
        return affine_transform(geometry, [k * self._cos, 0, 0, k, 0, 0])

    def _area_m2(self, place: Place) -> float:
        return float(self._flat(self._shape_of(place)).area)

    def _building_distance(self, place: Place, point: BaseGeometry) -> float:
        if place.location is None:
            return math.inf
        return float(self._flat(Point(place.location[1], place.location[0])).distance(point))

    def _work_out_neighbours(self) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {d.code: set(d.neighbours) for d in self._districts}
        for a in self._districts:
            for b in self._districts:
                if a.code < b.code and a.area is not None and b.area is not None:
                    if a.area.intersects(b.area):
                        found[a.code].add(b.code)
                        found[b.code].add(a.code)
        for code, names in list(found.items()):  # declared one way counts both ways
            for other in names:
                found.setdefault(other, set()).add(code)
        return {code: frozenset(names) for code, names in found.items()}
