"""Missing and found reports through the HTTP API, on SQLite and PostgreSQL: an officer files
a missing report during a child-line chat (the case becomes a high-priority missing_child
case, the national clock starts, the FIR is prompted), a station files a found report for
its place; what is sealed is sealed; bad input is refused with stable codes and writes
nothing; places see only their own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from audit.models import AuditEvent
from cases.models import Case, TimelineEvent
from children.models import ChildPhoto, ChildReport
from signaling.console_feed import ALARM_SOURCES
from tests.children.conftest import (
    GULBERG,
    MODEL_TOWN,
    PNG,
    Db,
    Login,
    chat_on,
    found_body,
    missing_body,
    open_case,
)
from tests.support import FakeClock, OpenAPIChecker

Client = TestClient[Any, Any]


async def test_an_officer_files_a_missing_report_during_a_child_line_chat(
    centre: tuple[Client, Any],
    client: Client,
    db: Db,
    clock: FakeClock,
    openapi: OpenAPIChecker,
) -> None:
    officer, me = centre
    case = await open_case(officer)
    contact = await chat_on(db, case["id"], me.id, clock())
    seen = clock() - timedelta(hours=3)
    made = await officer.post("/api/children/missing", json=missing_body(seen, session_id=contact))
    assert made.status == 201, await made.text()
    report = await made.json()
    openapi.check("POST", "/api/children/missing", 201, report)
    assert report["kind"] == "missing" and report["status"] == "open"
    assert report["case_id"] == case["id"]
    assert report["names"] == ["محمد علی", "Muhammad Ali"]
    assert (report["age_min"], report["age_max"], report["height_min_cm"]) == (7, 7, 120)
    assert report["guardian"]["name"] == "Nasreen Bibi"
    assert report["guardian_relation"] == "mother"
    assert report["national"]["due_at"] == (clock() + timedelta(hours=2)).isoformat()
    assert report["national"]["overdue"] is False
    assert report["fir"]["number"] is None and "FIR" in report["fir"]["prompt"]

    async with db() as session:
        row = await session.get(Case, case["id"])
        assert row is not None
        assert (row.category, row.priority) == ("missing_child", 8)
        stored = await session.get(ChildReport, report["id"])
        assert stored is not None and stored.session_id == contact
        # The guardian, the child's names: sealed at rest.
        assert stored.guardian_sealed is not None
        assert b"Nasreen" not in stored.guardian_sealed
        assert "علی".encode() not in stored.details_sealed
        events = await session.scalars(
            select(TimelineEvent.kind).where(TimelineEvent.case_id == case["id"])
        )
        assert "child.missing_reported" in set(events)

    alarms = client.server.app[ALARM_SOURCES]
    assert [a for source in alarms for a in await source()] == []
    clock.advance(2 * 3600 + 60)
    raised = [a for source in alarms for a in await source()]
    assert [(a["kind"], a["count"]) for a in raised] == [("child_national_overdue", 1)]
    late = await (await officer.get(f"/api/children/reports/{report['id']}")).json()
    openapi.check("GET", "/api/children/reports/{report_id}", 200, late)
    listed = await (await officer.get("/api/children/reports")).json()
    openapi.check("GET", "/api/children/reports", 200, listed)
    assert listed["reports"][0]["alert"] is True and "names" not in listed["reports"][0]
    assert late["national"]["overdue"] is True
    told = await officer.post(
        f"/api/children/reports/{report['id']}/national", json={"reference": "NCA-77"}
    )
    assert told.status == 200, await told.text()
    national = (await told.json())["national"]
    assert national["reference"] == "NCA-77" and national["within_two_hours"] is False
    again = await officer.post(f"/api/children/reports/{report['id']}/national", json={})
    assert again.status == 409 and (await again.json())["error"]["code"] == "already_reported"
    assert [a for source in alarms for a in await source()] == []


async def test_a_women_line_case_gets_a_child_line_case_of_its_own(
    login_as: Login, db: Db, clock: FakeClock
) -> None:
    officer, _ = await login_as("officer", lines=["women", "child"])
    women = await open_case(officer, service_line="women")
    made = await officer.post(
        "/api/children/missing", json=missing_body(clock(), case_id=women["id"])
    )
    assert made.status == 201, await made.text()
    report = await made.json()
    assert report["case_id"] != women["id"]
    async with db() as session:
        child_case = await session.get(Case, report["case_id"])
        assert child_case is not None
        assert (child_case.service_line, child_case.category) == ("child", "missing_child")


async def test_bad_input_is_refused_with_stable_codes_and_writes_nothing(
    centre: tuple[Client, Any], login_as: Login, db: Db, clock: FakeClock
) -> None:
    officer, _ = centre
    case = await open_case(officer)
    now = clock()
    unnamed = missing_body(now, case_id=case["id"])
    unnamed["child"]["names"] = []
    both_ages = missing_body(now, case_id=case["id"])
    both_ages["child"]["age_min"] = 5
    reversed_range = missing_body(now, case_id=case["id"])
    del reversed_range["child"]["age"]
    reversed_range["child"].update(age_min=9, age_max=4)
    half_place = missing_body(now, case_id=case["id"])
    del half_place["last_seen"]["longitude"]
    nowhere = missing_body(now, case_id=case["id"])
    nowhere["last_seen"]["district"] = "atlantis"
    future = missing_body(now + timedelta(hours=1), case_id=case["id"])
    bad_phone = missing_body(now, case_id=case["id"])
    bad_phone["guardian"]["phone"] = "12"
    control = missing_body(now, case_id=case["id"])
    control["child"]["names"] = ["Ali\x00"]
    too_old = missing_body(now, case_id=case["id"])
    too_old["child"]["age"] = 30
    for body, status, code in (
        (unnamed, 400, "name_required"),
        (both_ages, 400, "invalid_age"),
        (reversed_range, 400, "invalid_age"),
        (half_place, 400, "invalid_location"),
        (nowhere, 400, "unknown_district"),
        (future, 400, "seen_in_future"),
        (bad_phone, 400, "invalid_phone"),
        (control, 400, "invalid_name"),
        (too_old, 400, "invalid_body"),
        (missing_body(now, case_id=999_999), 404, "case_not_found"),
        (missing_body(now, session_id="nope"), 404, "contact_not_found"),
    ):
        response = await officer.post("/api/children/missing", json=body)
        assert response.status == status, (code, await response.text())
        assert (await response.json())["error"]["code"] == code
    women_only, _ = await login_as("officer", lines=["women"])
    refused = await women_only.post("/api/children/missing", json=missing_body(now))
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "not_on_child_line"
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(ChildReport)) == 0
        row = await session.get(Case, case["id"])
        assert row is not None and (row.category, row.priority) == (None, 0)


async def test_a_station_files_a_found_report_that_only_its_place_sees(
    centre: tuple[Client, Any],
    gulberg: tuple[Client, Any],
    login_as: Login,
    client: Client,
    db: Db,
    clock: FakeClock,
) -> None:
    station, _ = gulberg
    made = await station.post("/api/children/found", json=found_body(clock()))
    assert made.status == 201, await made.text()
    report = await made.json()
    assert report["kind"] == "found" and report["place"] == GULBERG
    assert report["district"] == "lahore" and report["custody_place"] == GULBERG
    assert report["child_says"].startswith("My name is Ali")
    assert "guardian" not in report and report["case_id"] is None

    photo = await station.post(
        f"/api/children/reports/{report['id']}/photos",
        data=PNG,
        headers={"Content-Type": "image/png"},
    )
    assert photo.status == 201, await photo.text()
    photo_id = (await photo.json())["id"]
    seen = await station.get(f"/api/children/reports/{report['id']}/photos/{photo_id}")
    assert seen.status == 200 and await seen.read() == PNG

    other, _ = await login_as("station", place=MODEL_TOWN, lines=[])
    for path in (
        f"/api/children/reports/{report['id']}",
        f"/api/children/reports/{report['id']}/photos/{photo_id}",
    ):
        response = await other.get(path)
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "report_not_found"
    listed = await (await other.get("/api/children/reports")).json()
    assert listed["reports"] == []
    mine = await (await station.get("/api/children/reports")).json()
    assert [r["id"] for r in mine["reports"]] == [report["id"]]

    # The centre's officers of the child line see it, photo included (audited).
    officer, me = centre
    seen = await officer.get(f"/api/children/reports/{report['id']}/photos/{photo_id}")
    assert seen.status == 200
    async with db() as session:
        views = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "child.photo.view", AuditEvent.officer_id == me.id)
        )
        assert views == 1
        stored = await session.get(ChildPhoto, photo_id)
        assert stored is not None and stored.phash is not None

    # Nobody without a login files or reads anything.
    anonymous = await client.post("/api/children/found", json=found_body(clock()))
    assert anonymous.status == 401
    assert (await client.get("/api/children/reports")).status == 401


async def test_a_found_report_cannot_overwrite_a_missing_one(
    centre: tuple[Client, Any], gulberg: tuple[Client, Any], db: Db, clock: FakeClock
) -> None:
    officer, _ = centre
    case = await open_case(officer)
    older = missing_body(clock(), case_id=case["id"])
    older["child"]["age"] = 15  # no alert: the station has no business with it
    missing = await (await officer.post("/api/children/missing", json=older)).json()
    station, _ = gulberg
    sneaky = found_body(clock(), id=missing["id"])
    response = await station.post("/api/children/found", json=sneaky)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_body"
    on_case = found_body(clock(), case_id=case["id"])
    response = await station.post("/api/children/found", json=on_case)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "no_case_for_place"
    # A station cannot add photos to (or read) a report it did not file.
    response = await station.post(
        f"/api/children/reports/{missing['id']}/photos",
        data=PNG,
        headers={"Content-Type": "image/png"},
    )
    assert response.status == 404
    async with db() as session:
        kinds = list(await session.scalars(select(ChildReport.kind)))
        assert kinds == ["missing"]
    again = await (await officer.get(f"/api/children/reports/{missing['id']}")).json()
    assert again["names"] == missing["names"] and again["status"] == "open"


async def test_a_missing_child_who_came_home_closes_the_report(
    centre: tuple[Client, Any], gulberg: tuple[Client, Any], db: Db, clock: FakeClock
) -> None:
    officer, _ = centre
    station, _ = gulberg
    report = await (await officer.post("/api/children/missing", json=missing_body(clock()))).json()
    path = f"/api/children/reports/{report['id']}/close"
    refused = await station.post(path, json={"outcome": "returned", "note": "home"})
    assert refused.status == 403
    for body, code in (
        ({"outcome": "found_by_magic", "note": "x"}, "invalid_body"),
        ({"outcome": "returned", "note": "  "}, "invalid_note"),
    ):
        response = await officer.post(path, json=body)
        assert response.status == 400 and (await response.json())["error"]["code"] == code
    clock.advance(3600)
    closed = await officer.post(
        path, json={"outcome": "returned", "note": "Came home by himself at 6 pm."}
    )
    assert closed.status == 200, await closed.text()
    out = await closed.json()
    assert (out["status"], out["outcome"]) == ("closed", "returned")
    assert out["closing_note"] == "Came home by himself at 6 pm."
    again = await officer.post(path, json={"outcome": "withdrawn", "note": "x"})
    assert again.status == 409 and (await again.json())["error"]["code"] == "not_now"
    # A found report filed now finds no open missing report to match.
    found = await (await station.post("/api/children/found", json=found_body(clock()))).json()
    assert found["candidates"] == 0
    async with db() as session:
        row = await session.get(ChildReport, report["id"])
        assert row is not None and row.closed_at == clock()


async def test_a_district_office_sees_its_district_and_an_institution_files_for_itself(
    gulberg: tuple[Client, Any], login_as: Login, clock: FakeClock
) -> None:
    station, _ = gulberg
    by_station = await (await station.post("/api/children/found", json=found_body(clock()))).json()
    bureau, _ = await login_as("institution", place="lahore-cpwb", lines=[])
    body = found_body(clock(), custody=None)
    made = await bureau.post("/api/children/found", json=body)
    assert made.status == 201, await made.text()
    by_bureau = await made.json()
    assert by_bureau["place"] == "lahore-cpwb" and by_bureau["custody_place"] == "lahore-cpwb"
    district_office, _ = await login_as("station", place="lahore-dpo", lines=[])
    listed = await (await district_office.get("/api/children/reports")).json()
    assert {r["id"] for r in listed["reports"]} == {by_station["id"], by_bureau["id"]}
    # The bureau sees its own report, not the station's.
    mine = await (await bureau.get("/api/children/reports")).json()
    assert [r["id"] for r in mine["reports"]] == [by_bureau["id"]]
    assert (await bureau.get(f"/api/children/reports/{by_station['id']}")).status == 404
    # A station cannot name a custody place that is not in the directory.
    nowhere = await station.post(
        "/api/children/found", json=found_body(clock(), custody={"place": "atlantis"})
    )
    assert nowhere.status == 400 and (await nowhere.json())["error"]["code"] == "unknown_place"
