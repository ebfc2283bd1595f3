"""The directory: its file checked at load, and the station answerable for any point.

A test directory of a 3 x 2 grid of square jurisdictions (plus one far away and a
point-only station) is asked about points inside, on the edge of and outside every
polygon, and about random points (hypothesis) against a brute-force answer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from cases.vocabulary import load_districts
from places.directory import Directory
from places.loader import PlacesError, load, parse

DISTRICTS = load_districts()
W, S, SIDE = 74.0, 31.0, 0.02


def square(west: float, south: float, side: float = SIDE) -> dict[str, Any]:
    e, n = west + side, south + side
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [e, south], [e, n], [west, n], [west, south]]],
    }


def station(code: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": code,
        "geometry": geometry,
        "properties": {
            "kind": "station",
            "name": {"en": code, "ur": code},
            "district": "lahore",
            "duty": [{"role": "duty officer", "phone": "+924299990001"}],
            **props,
        },
    }


def grid_document() -> dict[str, Any]:
    features = []
    for col in range(3):
        for row in range(2):
            west, south = W + col * SIDE, S + row * SIDE
            features.append(
                station(
                    f"ps-{col}-{row}",
                    square(west, south),
                    location=[west + SIDE / 2, south + SIDE / 2],
                )
            )
    features.append(station("ps-far", square(W + 0.5, S + 0.5)))
    features.append(station("ps-point", {"type": "Point", "coordinates": [W - 0.1, S]}))
    return {"type": "FeatureCollection", "features": features}


GRID = Directory(parse(grid_document(), DISTRICTS))


def test_the_shipped_sample_loads_and_answers() -> None:
    directory = Directory(load(None, DISTRICTS))
    found = directory.responsible(31.515, 74.35)
    assert found is not None and (found.place.code, found.how) == ("lahore-ps-gulberg", "inside")
    assert directory.control("lahore") is not None


@pytest.mark.parametrize("col", range(3))
@pytest.mark.parametrize("row", range(2))
def test_inside_every_polygon(col: int, row: int) -> None:
    west, south = W + col * SIDE, S + row * SIDE
    for dx, dy in ((0.5, 0.5), (0.01, 0.01), (0.99, 0.99), (0.01, 0.99)):
        found = GRID.responsible(south + dy * SIDE, west + dx * SIDE)
        assert found is not None
        assert (found.place.code, found.how, found.distance_m) == (f"ps-{col}-{row}", "inside", 0)


@pytest.mark.parametrize("col", range(3))
@pytest.mark.parametrize("row", range(2))
def test_on_the_edges_of_every_polygon(col: int, row: int) -> None:
    """On an edge the point belongs to a polygon that touches it: the one whose building is
    nearer; on a shared edge exactly between two buildings, the smaller code."""
    west, south = W + col * SIDE, S + row * SIDE
    edges = {
        "south": (south, west + SIDE / 2),
        "north": (south + SIDE, west + SIDE / 2),
        "west": (south + SIDE / 2, west),
        "east": (south + SIDE / 2, west + SIDE),
        "corner": (south, west),
    }
    for name, (lat, lon) in edges.items():
        found = GRID.responsible(lat, lon)
        assert found is not None and found.how == "edge", name
        holders = sorted(
            p.code for p in GRID if p.area is not None and p.area.covers(Point(lon, lat))
        )
        assert found.place.code in holders
        assert f"ps-{col}-{row}" in holders
        # of the polygons touching the point, the chosen one has the nearest building
        nearest = min(GRID.distance_m((lat, lon), GRID.by_code[code].location) for code in holders)
        assert GRID.distance_m((lat, lon), found.place.location) == pytest.approx(nearest)


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (S - 0.01, W + SIDE / 2, "ps-0-0"),  # below the grid
        (S + 2 * SIDE + 0.005, W + 2.5 * SIDE, "ps-2-1"),  # above its top-right square
        (S + 0.49, W + 0.51, "ps-far"),  # next to the far square
        (S, W - 0.09, "ps-point"),  # next to the station known only by its building
        (S + SIDE / 2, W + 3 * SIDE + 0.001, "ps-2-0"),  # just east of the grid
    ],
)
def test_outside_every_polygon_the_nearest(lat: float, lon: float, expected: str) -> None:
    found = GRID.responsible(lat, lon)
    assert found is not None
    assert (found.place.code, found.how) == (expected, "nearest")
    assert found.distance_m > 0


@settings(max_examples=150, deadline=None)
@given(
    lat=st.floats(S - 0.2, S + 0.7, allow_nan=False),
    lon=st.floats(W - 0.2, W + 0.7, allow_nan=False),
)
def test_any_point_gets_the_holder_or_the_nearest(lat: float, lon: float) -> None:
    found = GRID.responsible(lat, lon)
    assert found is not None
    point = Point(lon, lat)
    covering = [p for p in GRID if p.area is not None and p.area.covers(point)]
    if covering:
        assert found.place in covering and found.distance_m == 0
        return
    assert found.how == "nearest"
    distances = [
        GRID._flat(GRID._shape_of(p)).distance(GRID._flat(point))
        for p in GRID
        if p.kind.value == "station"
    ]
    assert found.distance_m == pytest.approx(min(distances))
    assert not math.isnan(found.distance_m)


def _refused(document: dict[str, Any], words: str) -> None:
    with pytest.raises(PlacesError, match=words):
        parse(document, DISTRICTS, "test.geojson")


def test_mistakes_in_the_file_are_named() -> None:
    good = grid_document()

    def changed(index: int, **fields: Any) -> dict[str, Any]:
        document = json.loads(json.dumps(good))
        feature = document["features"][index]
        for key, value in fields.items():
            if key in ("id", "geometry"):
                feature[key] = value
            else:
                feature["properties"][key] = value
        return document

    _refused(changed(0, kind="police_post"), "kind must be one of")
    _refused(changed(0, district="atlantis"), "not in the districts file")
    _refused(changed(0, id="Bad Code!"), "its id must be")
    _refused(changed(1, id="ps-0-0"), "used twice")
    _refused(changed(0, duty=[{"role": "x", "phone": "042-123"}]), "E.164")
    _refused(changed(0, name={"en": "x"}), "name needs en and ur")
    _refused(changed(0, lines=["men"]), "lines must be among")
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[74, 31], [74.01, 31.01], [74.01, 31], [74, 31.01], [74, 31]]],
    }
    _refused(changed(0, geometry=bow_tie), "not a valid polygon")
    _refused(changed(0, geometry={"type": "Point", "coordinates": [200, 31]}), "within -180")
    _refused(
        changed(0, geometry={"type": "LineString", "coordinates": [[74, 31], [75, 31]]}),
        "geometry must be",
    )
    _refused({"type": "Feature"}, "FeatureCollection")


def test_a_file_that_is_not_json_stops_the_server(tmp_path: Path) -> None:
    path = tmp_path / "places.geojson"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(PlacesError, match="not valid JSON"):
        load(path, DISTRICTS)
    with pytest.raises(PlacesError, match="cannot be read"):
        load(tmp_path / "missing.geojson", DISTRICTS)


def test_places_within_reach_and_neighbouring_districts() -> None:
    document = grid_document()
    for code, west in (("lahore", W), ("kasur", W + 3 * SIDE)):
        document["features"].append(
            {
                "type": "Feature",
                "id": code,
                "geometry": square(west, S, 3 * SIDE),
                "properties": {"kind": "district", "name": {"en": code, "ur": code}},
            }
        )
    directory = Directory(parse(document, DISTRICTS))
    assert directory.neighbours("lahore") == {"kasur"}
    assert directory.district_at(S + SIDE, W + 4 * SIDE) == "kasur"
    from places.model import Kind

    near = directory.within(S + SIDE / 2, W + SIDE / 2, 2500, [Kind.STATION])
    assert near[0][0].code == "ps-0-0" and near[0][1] == 0
    assert all(distance <= 2500 for _, distance in near)
    assert "ps-far" not in {p.code for p, _ in near}
