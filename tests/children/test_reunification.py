"""From a missing report and a found one to the child handed over, through the HTTP API on
SQLite and PostgreSQL: the new found report is ranked against the open missing reports, the
candidate is stored with its score and reasons and shown on the first officer's console part,
she confirms it (audited), and the handover checklist closes both reports and the case. An
incomplete checklist, or abuse at home suspected, is refused and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from audit.models import AuditEvent
from cases.models import Case
from children.models import ChildMatch, ChildReport, Reunification
from children.routes import MATCHES
from tests.children.conftest import BUREAU, Db, Login, found_body, missing_body, open_case
from tests.support import FakeClock

Client = TestClient[Any, Any]


async def _pair(
    officer: Client, station: Client, clock: FakeClock, **missing_fields: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    case = await open_case(officer)
    body = missing_body(clock() - timedelta(hours=5), case_id=case["id"], **missing_fields)
    made = await officer.post("/api/children/missing", json=body)
    assert made.status == 201, await made.text()
    missing = await made.json()
    clock.advance(3600)
    found = await (await station.post("/api/children/found", json=found_body(clock()))).json()
    assert found["candidates"] == 1, found
    return case, missing, found


async def test_a_found_child_is_matched_confirmed_and_reunited(
    centre: tuple[Client, Any],
    gulberg: tuple[Client, Any],
    login_as: Login,
    client: Client,
    db: Db,
    clock: FakeClock,
) -> None:
    officer, me = centre
    station, _ = gulberg
    case, missing, found = await _pair(officer, station, clock)

    listed = await (await officer.get(f"/api/children/reports/{missing['id']}/candidates")).json()
    [candidate] = listed["candidates"]
    assert candidate["found_id"] == found["id"] and candidate["other_id"] == found["id"]
    assert candidate["status"] == "proposed" and candidate["score"] >= 0.5
    assert any(r.startswith("name:") for r in candidate["reasons"]), candidate["reasons"]
    # Her console's part shows it: she filed the missing report.
    part = await client.server.app[MATCHES].console_part(me.id)
    assert [c["id"] for c in part["candidates"]] == [candidate["id"]]
    assert [a["report_id"] for a in part["alerts"]] == [missing["id"]]  # a 7-year-old

    confirmed = await officer.post(f"/api/children/matches/{candidate['id']}/confirm")
    assert confirmed.status == 200 and (await confirmed.json())["status"] == "confirmed"
    again = await officer.post(f"/api/children/matches/{candidate['id']}/reject")
    assert again.status == 409 and (await again.json())["error"]["code"] == "not_now"
    read = await (await officer.get(f"/api/children/reports/{missing['id']}")).json()
    assert read["status"] == "matched"

    handover = {
        "checklist": {
            "guardian_id_seen": True,
            "relation_confirmed": True,
            "child_recognises": True,
            "no_safeguarding_concern": True,
        },
        "outcome": "reunited",
        "place": "Gulberg police station",
        "officers": ["SI Rabia", "ASI Kamran"],
        "guardian_name": "Nasreen Bibi",
    }
    done = await officer.post(f"/api/children/matches/{candidate['id']}/handover", json=handover)
    assert done.status == 200, await done.text()
    assert (await done.json())["outcome"] == "reunited"
    async with db() as session:
        for report_id in (missing["id"], found["id"]):
            row = await session.get(ChildReport, report_id)
            assert row is not None and (row.status, row.outcome) == ("closed", "reunited")
        closed = await session.get(Case, case["id"])
        assert closed is not None and closed.status == "closed"
        actions = set(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.officer_id == me.id))
        )
        assert {"child.match.confirm", "child.handover", "child.candidates.read"} <= actions
    # The child is home: her console no longer shows the alert, nor the candidate.
    assert await client.server.app[MATCHES].console_part(me.id) == {"alerts": [], "candidates": []}
    twice = await officer.post(f"/api/children/matches/{candidate['id']}/handover", json=handover)
    assert twice.status == 409 and (await twice.json())["error"]["code"] == "not_confirmed"
    # A station may not confirm (not a centre role).
    refused = await station.post(f"/api/children/matches/{candidate['id']}/confirm")
    assert refused.status == 403


async def test_an_incomplete_checklist_or_abuse_at_home_is_refused_and_writes_nothing(
    centre: tuple[Client, Any], gulberg: tuple[Client, Any], db: Db, clock: FakeClock
) -> None:
    officer, _ = centre
    station, _ = gulberg
    _case, missing, found = await _pair(officer, station, clock, runaway=True, abuse_suspected=True)
    [candidate] = (
        await (await officer.get(f"/api/children/reports/{found['id']}/candidates")).json()
    )["candidates"]
    path = f"/api/children/matches/{candidate['id']}"
    early = await officer.post(
        f"{path}/handover",
        json={
            "checklist": {},
            "outcome": "placed_in_care",
            "place": "x",
            "officers": ["y"],
            "care_place": BUREAU,
        },
    )
    assert early.status == 409 and (await early.json())["error"]["code"] == "not_confirmed"
    assert (await officer.post(f"{path}/confirm")).status == 200
    full = {
        "guardian_id_seen": True,
        "relation_confirmed": True,
        "child_recognises": True,
        "child_protection_officer_present": True,
        "no_safeguarding_concern": True,
    }
    base = {"place": "Gulberg police station", "officers": ["SI Rabia"]}
    for body, status, code in (
        (
            {**base, "checklist": full, "outcome": "reunited", "guardian_name": "Aslam"},
            409,
            "child_protection_path",
        ),
        ({**base, "checklist": full, "outcome": "placed_in_care"}, 400, "care_place_required"),
        (
            {**base, "checklist": full, "outcome": "referred", "care_place": "lahore-ps-gulberg"},
            400,
            "unknown_place",
        ),
        (
            {**base, "checklist": full, "outcome": "referred", "officers": []},
            400,
            "invalid_handover",
        ),
        ({**base, "checklist": {"nonsense": True}, "outcome": "referred"}, 400, "invalid_body"),
    ):
        response = await officer.post(f"{path}/handover", json=body)
        assert response.status == status, (code, await response.text())
        assert (await response.json())["error"]["code"] == code
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Reunification)) == 0
        row = await session.get(ChildReport, missing["id"])
        assert row is not None and row.status == "matched"
    cared = await officer.post(
        f"{path}/handover",
        json={**base, "checklist": full, "outcome": "placed_in_care", "care_place": BUREAU},
    )
    assert cared.status == 200, await cared.text()
    async with db() as session:
        row = await session.get(ChildReport, missing["id"])
        assert row is not None and row.outcome == "placed_in_care"


async def test_reunited_needs_every_check_and_a_rejected_candidate_stays_rejected(
    centre: tuple[Client, Any], gulberg: tuple[Client, Any], db: Db, clock: FakeClock
) -> None:
    officer, _ = centre
    station, _ = gulberg
    _, missing, _found = await _pair(officer, station, clock, runaway=True)
    [candidate] = (
        await (await officer.get(f"/api/children/reports/{missing['id']}/candidates")).json()
    )["candidates"]
    path = f"/api/children/matches/{candidate['id']}"
    assert (await officer.post(f"{path}/confirm")).status == 200
    base = {
        "place": "Gulberg police station",
        "officers": ["SI Rabia"],
        "outcome": "reunited",
        "guardian_name": "Nasreen Bibi",
    }
    partial = {"guardian_id_seen": True, "no_safeguarding_concern": True}
    response = await officer.post(f"{path}/handover", json={**base, "checklist": partial})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "checklist_incomplete" and "relation confirmed" in error["message"]
    no_cpo = {**partial, "relation_confirmed": True, "child_recognises": True}
    response = await officer.post(f"{path}/handover", json={**base, "checklist": no_cpo})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "child_protection_officer_required"
    async with db() as session:
        match = await session.get(ChildMatch, candidate["id"])
        assert match is not None and match.status == "confirmed"
