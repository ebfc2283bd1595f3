"""Lists for officers (by kind, district, age, day, status; every search audited), the
retention rule (a reunited child leaves search after the configured days), and the children's
figures (counts per district, report to recovery, national reports within two hours)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from audit.models import AuditEvent
from children.retention import hide_reunited
from children.routes import CHILDREN
from tests.children.conftest import Db, Login, found_body, missing_body
from tests.support import FakeClock

Client = TestClient[Any, Any]
CHECKED = {
    "guardian_id_seen": True,
    "relation_confirmed": True,
    "child_recognises": True,
    "no_safeguarding_concern": True,
}


async def _missing(officer: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = await officer.post("/api/children/missing", json=body)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def test_search_retention_and_figures(
    centre: tuple[Client, Any],
    gulberg: tuple[Client, Any],
    login_as: Login,
    client: Client,
    db: Db,
    clock: FakeClock,
) -> None:
    officer, me = centre
    station, _ = gulberg
    supervisor, _ = await login_as("supervisor", lines=["child"])
    start = clock()
    ali = await _missing(officer, missing_body(start - timedelta(hours=4)))
    kasur = missing_body(start - timedelta(days=2))
    kasur["child"].update(names=["Ayesha"], age=15, gender="girl", height_cm=150)
    kasur["child"]["parent_names"] = ["Bashir"]
    kasur["last_seen"] = {"at": kasur["last_seen"]["at"], "district": "Kasur"}
    ayesha = await _missing(officer, kasur)
    told = await officer.post(f"/api/children/reports/{ali['id']}/national", json={})
    assert told.status == 200

    async def ids(query: str, who: Client = officer) -> list[str]:
        response = await who.get(f"/api/children/reports{query}")
        assert response.status == 200, await response.text()
        return [r["id"] for r in (await response.json())["reports"]]

    assert set(await ids("")) == {ali["id"], ayesha["id"]}
    assert await ids("?district=kasur") == [ayesha["id"]]
    assert await ids("?age=7") == [ali["id"]]
    day = (start - timedelta(days=2)).date().isoformat()
    assert await ids(f"?from={day}&to={day}") == [ayesha["id"]]
    assert await ids("?kind=found") == []
    bad = await officer.get("/api/children/reports?from=yesterday")
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_date"
    nowhere = await officer.get("/api/children/reports?district=atlantis")
    assert (await nowhere.json())["error"]["code"] == "unknown_district"
    async with db() as session:
        searches = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "child.report.search", AuditEvent.officer_id == me.id)
        )
    assert searches == 5

    # Ali is found an hour later, matched and reunited.
    clock.advance(3600)
    found = await (await station.post("/api/children/found", json=found_body(clock()))).json()
    [candidate] = (
        await (await officer.get(f"/api/children/reports/{found['id']}/candidates")).json()
    )["candidates"]
    assert candidate["missing_id"] == ali["id"]
    assert (await officer.post(f"/api/children/matches/{candidate['id']}/confirm")).ok
    clock.advance(1800)
    handed = await officer.post(
        f"/api/children/matches/{candidate['id']}/handover",
        json={
            "checklist": CHECKED,
            "outcome": "reunited",
            "place": "Gulberg police station",
            "officers": ["SI Rabia"],
            "guardian_name": "Nasreen Bibi",
        },
    )
    assert handed.status == 200, await handed.text()
    assert set(await ids("?status=closed")) == {found["id"], ali["id"]}

    today = start.date().isoformat()
    first = (start - timedelta(days=3)).date().isoformat()
    figures = await supervisor.get(f"/api/reports/children?from={first}&to={today}")
    assert figures.status == 200, await figures.text()
    out = await figures.json()
    assert out["totals"] == {"missing": 2, "found": 1, "recovered": 1, "reunited": 1}
    by = {row["district"]: row for row in out["by_district"]}
    assert by["kasur"]["missing"] == 1 and by["lahore"]["reunited"] == 1
    assert out["report_to_recovery"]["count"] == 1
    assert out["report_to_recovery"]["median_seconds"] == 5400.0
    assert out["national"] == {
        "missing": 2,
        "within_two_hours": 1,
        "late": 0,
        "not_reported": 1,
        "share_within_two_hours": 0.5,
    }
    assert (await officer.get(f"/api/reports/children?from={first}&to={today}")).status == 403

    # Retention: the reunited child leaves search after the configured days, not before.
    service = client.server.app[CHILDREN]
    clock.advance(89 * 86400)
    assert await hide_reunited(service) == 0
    clock.advance(2 * 86400)
    assert await hide_reunited(service) == 2
    later, _ = await login_as("officer", lines=["child"])  # the first login has ended
    assert await ids("", later) == [ayesha["id"]]
    assert await ids("?status=closed", later) == []
