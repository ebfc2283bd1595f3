"""Her case's real stages on /track, with dates: from received to the court's decision."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.cases.test_tracking import OPENED, Client, Db, add_event, make_case, track


async def test_with_her_pin_she_sees_each_stage_her_case_reached_with_its_date(
    client: Client, db: Db
) -> None:
    case = await make_case(db, pin="2468", status="in_trial")
    steps = [
        "in_progress",
        "fir_registered",
        "under_investigation",
        "fast_tracked",  # the same stage for her: said once
        "challan_submitted",
        "in_trial",
    ]
    for day, to in enumerate(steps, start=1):
        await add_event(
            db,
            "case.status",
            visible=True,
            at=OPENED + timedelta(days=day),
            case=case,
            data={"from": "x", "to": to},
        )
    status, body, _ = await track(client, {"code": case.tracking_code, "pin": "2468"})
    assert status == 200
    assert [s["stage"] for s in body["stages"]] == [
        "received",
        "in_progress",
        "fir_registered",
        "under_investigation",
        "challan_submitted",
        "in_trial",
    ]
    assert body["stages"][0]["at"].startswith("2026-10-20")
    assert body["stages"][-1]["at"].startswith("2026-10-26")
    assert body["status"] == "with_police"  # the coarse word, as the phone says it

    # Without the PIN: the coarse status only, no stages.
    status, body, _ = await track(client, {"code": case.tracking_code})
    assert status == 200 and body["stages"] is None


async def test_an_officer_moves_a_case_to_the_court_stages(
    client: Client, db: Db, login_as: Any
) -> None:
    officer_client, _ = await login_as("officer")
    case = await make_case(db, status="under_investigation")
    for to in ("challan_submitted", "in_trial", "decided", "closed"):
        r = await officer_client.post(f"/api/cases/{case.id}/status", json={"status": to})
        assert r.status == 200, await r.text()
