"""Alerts for a missing child, through the HTTP API on SQLite and PostgreSQL: a young child
(or abduction suspected) alerts the places and the centre's child-line officers of the
district last seen and its neighbours, not farther; each recipient acknowledges once (logged);
the public text is released by a supervisor only."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from audit.models import AuditEvent
from children.models import ChildAlertRecipient
from children.routes import MATCHES
from safecall.settings import Settings
from tests.children.conftest import GULBERG, PNG, Db, Login, missing_body, open_case
from tests.support import FakeClock, OpenAPIChecker

Client = TestClient[Any, Any]
HERE = Path(__file__).resolve().parents[2]


def _square(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The Lahore sample, with Kasur next to it and Multan far away, a station in each."""
    document = json.loads((HERE / "places" / "lahore.geojson").read_text(encoding="utf-8"))
    for code, box, neighbours in (
        ("kasur", (74.1, 30.9, 74.6, 31.25), ["lahore"]),
        ("multan", (71.3, 30.0, 71.7, 30.4), []),
    ):
        document["features"].append(
            {
                "type": "Feature",
                "id": code,
                "geometry": _square(*box),
                "properties": {
                    "kind": "district",
                    "name": {"en": code.title(), "ur": code},
                    "district": code,
                    "neighbours": neighbours,
                },
            }
        )
        west, south, east, north = box
        document["features"].append(
            {
                "type": "Feature",
                "id": f"{code}-ps-city",
                "geometry": {
                    "type": "Point",
                    "coordinates": [(west + east) / 2, (south + north) / 2],
                },
                "properties": {
                    "kind": "station",
                    "name": {"en": f"{code.title()} city police station", "ur": code},
                    "district": code,
                },
            }
        )
    path = tmp_path / "places.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    return dataclasses.replace(settings, places_file=path)


async def test_a_young_missing_child_alerts_the_district_and_its_neighbours(
    login_as: Login, client: Client, db: Db, clock: FakeClock, openapi: OpenAPIChecker
) -> None:
    officer, me = await login_as("officer", lines=["child"], district="lahore")
    far_officer, far = await login_as("officer", lines=["child"], district="multan")
    women_officer, women = await login_as("officer", lines=["women"])
    kasur, _ = await login_as("station", place="kasur-ps-city", lines=[])
    multan, _ = await login_as("station", place="multan-ps-city", lines=[])
    supervisor, _ = await login_as("supervisor", lines=["child"])
    case = await open_case(officer)
    made = await officer.post(
        "/api/children/missing",
        json=missing_body(clock() - timedelta(minutes=30), case_id=case["id"]),
    )
    assert made.status == 201, await made.text()
    report = await made.json()
    assert report["alert"] is True

    async with db() as session:
        rows = list(await session.scalars(select(ChildAlertRecipient)))
    places = {r.place for r in rows if r.place}
    officers = {r.officer_id for r in rows if r.officer_id}
    assert {GULBERG, "lahore-cpwb", "lahore-dpo", "kasur-ps-city"} <= places
    assert "multan-ps-city" not in places
    assert me.id in officers and far.id not in officers and women.id not in officers

    # Kasur's station sees the alert with the description, and the report (not the guardian).
    added = await officer.post(
        f"/api/children/reports/{report['id']}/photos",
        data=PNG,
        headers={"Content-Type": "image/png"},
    )
    photo_id = (await added.json())["id"]
    waiting = await (await kasur.get("/api/children/alerts")).json()
    openapi.check("GET", "/api/children/alerts", 200, waiting)
    [alert] = waiting["alerts"]
    assert alert["report_id"] == report["id"] and alert["reason"] == "young_child"
    assert (
        "Muhammad Ali" in alert["description"] and "scar above left eyebrow" in alert["description"]
    )
    assert "public_text" not in alert  # not released
    seen = await (await kasur.get(f"/api/children/reports/{report['id']}")).json()
    assert seen["names"] and "guardian" not in seen and "child_phone" not in seen
    assert (await (await multan.get("/api/children/alerts")).json())["alerts"] == []
    assert alert["photos"] == [photo_id]
    photo_path = f"/api/children/reports/{report['id']}/photos/{photo_id}"
    shown = await kasur.get(photo_path)
    assert shown.status == 200 and await shown.read() == PNG
    assert (await multan.get(photo_path)).status == 404
    assert (await multan.get(f"/api/children/reports/{report['id']}")).status == 404
    assert (await multan.post(f"/api/children/alerts/{alert['id']}/acknowledge")).status == 404

    acked = await kasur.post(f"/api/children/alerts/{alert['id']}/acknowledge")
    assert acked.status == 200 and (await acked.json())["acknowledged_at"] is not None
    again = await kasur.post(f"/api/children/alerts/{alert['id']}/acknowledge")
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "already_acknowledged"
    assert (await (await kasur.get("/api/children/alerts")).json())["alerts"] == []

    # Her console part lists the alert until she acknowledges it.
    part = await client.server.app[MATCHES].console_part(me.id)
    assert [a["id"] for a in part["alerts"]] == [alert["id"]]
    assert (await officer.post(f"/api/children/alerts/{alert['id']}/acknowledge")).status == 200
    assert (await client.server.app[MATCHES].console_part(me.id))["alerts"] == []

    # Only a supervisor of the child line releases the public text.
    refused = await officer.post(f"/api/children/alerts/{alert['id']}/release")
    assert refused.status == 403
    women_supervisor, _ = await login_as("supervisor", lines=["women"])
    refused = await women_supervisor.post(f"/api/children/alerts/{alert['id']}/release")
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "supervisor_only"
    assert (await kasur.post(f"/api/children/alerts/{alert['id']}/release")).status == 403
    released = await supervisor.post(f"/api/children/alerts/{alert['id']}/release")
    assert released.status == 200, await released.text()
    text = (await released.json())["public_text"]
    assert text.startswith("MISSING CHILD") and "Nasreen" not in text and "+92300" not in text
    twice = await supervisor.post(f"/api/children/alerts/{alert['id']}/release")
    assert (await twice.json())["error"]["code"] == "already_released"
    listed = await (await kasur.get("/api/children/alerts?all=1")).json()
    assert listed["alerts"][0]["public_text"] == text
    async with db() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("child.alert.%"))
            )
        )
    assert sorted(actions) == [
        "child.alert.acknowledge",
        "child.alert.acknowledge",
        "child.alert.release",
    ]
    del far_officer, women_officer


async def test_an_older_child_raises_no_alert_unless_abduction_is_suspected(
    centre: tuple[Client, Any], gulberg: tuple[Client, Any], clock: FakeClock
) -> None:
    officer, _ = centre
    station, _ = gulberg
    older = missing_body(clock())
    older["child"]["age"] = 15
    quiet = await (await officer.post("/api/children/missing", json=older)).json()
    assert quiet["alert"] is False
    assert (await (await station.get("/api/children/alerts")).json())["alerts"] == []
    taken = missing_body(clock(), abduction_suspected=True)
    taken["child"]["age"] = 15
    loud = await (await officer.post("/api/children/missing", json=taken)).json()
    assert loud["alert"] is True
    [alert] = (await (await station.get("/api/children/alerts")).json())["alerts"]
    assert alert["reason"] == "abduction"


async def test_with_a_radius_the_alert_reaches_the_places_within_it(
    settings: Settings, login_as: Login, aiohttp_client: Any, db: Db, clock: FakeClock
) -> None:
    """20 km from Gulberg: Lahore's places, not Kasur's station (about 35 km south)."""
    from safecall.app import create_app

    app = create_app(dataclasses.replace(settings, child_alert_radius_km=20.0), clock=clock)
    near = await aiohttp_client(app)
    officer = await _login(near, db, clock, "officer", lines=["child"])
    made = await officer.post("/api/children/missing", json=missing_body(clock()))
    assert made.status == 201, await made.text()
    async with db() as session:
        places = {r.place for r in await session.scalars(select(ChildAlertRecipient)) if r.place}
    assert GULBERG in places and "kasur-ps-city" not in places and "multan-ps-city" not in places


async def _login(server: Client, db: Db, clock: FakeClock, role: str, **fields: Any) -> Client:
    from officers.auth import COOKIE, start_login
    from officers.models import Officer

    async with db() as session:
        officer = Officer(
            badge=f"R-{role}",
            name="Radius test",
            role=role,
            gender="female",
            languages=["ur"],
            skills={},
            password_hash="not-a-hash",
            **{"lines": [], **fields},
        )
        session.add(officer)
        await session.flush()
        token = await start_login(session, officer, "127.0.0.1", clock(), 12)
        await session.commit()
    server.session.cookie_jar.update_cookies({COOKIE: token})
    return server
