"""A referral from the centre to a station, worked by the station's accounts to its end.

Through the public HTTP interface on SQLite and PostgreSQL: the centre refers a case
with her location and (with her consent) her name; the station sees it, acknowledges,
sends a unit, reports the steps with a note and a photo, and resolves it. Other places
see nothing of it; anonymous stays anonymous; a step out of order is refused and
changes nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from attachments.models import Attachment
from audit.models import AuditEvent
from cases.models import TimelineEvent
from tests.referrals.conftest import GULBERG, INSIDE_GULBERG, MODEL_TOWN, SHELTER, Login, open_case
from tests.support import FakeClock

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


async def refer(officer: TestClient[Any, Any], case_id: int, **fields: Any) -> Any:
    body = {
        "case_id": case_id,
        "place": GULBERG,
        "urgency": "emergency",
        "reason": "Husband threatening her with a knife; she is locked in a room.",
        "location": INSIDE_GULBERG,
        **fields,
    }
    return await officer.post("/api/referrals", json=body)


async def test_a_station_works_a_referral_to_resolved(
    centre: tuple[TestClient[Any, Any], Any],
    gulberg: tuple[TestClient[Any, Any], Any],
    login_as: Login,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
) -> None:
    officer, _ = centre
    station, _ = gulberg
    case = await open_case(
        officer, anonymous=False, complainant={"name": "Ayesha B.", "phone": "+923001112233"}
    )
    made = await refer(officer, case["id"], share_name=True)
    assert made.status == 201, await made.text()
    referral = await made.json()
    assert referral["status"] == "sent" and referral["shared"] == {"name": "Ayesha B."}

    listed = await (await station.get("/api/field/referrals")).json()
    assert [r["id"] for r in listed["referrals"]] == [referral["id"]]
    assert "reason" not in listed["referrals"][0]  # the list carries no sealed text

    one = await (await station.get(f"/api/field/referrals/{referral['id']}")).json()
    assert one["reason"].startswith("Husband threatening")
    assert one["location"]["latitude"] == INSIDE_GULBERG["latitude"]
    assert one["shared"] == {"name": "Ayesha B."}  # not her phone: not agreed

    clock.advance(40)
    acked = await station.post(f"/api/field/referrals/{referral['id']}/acknowledge")
    assert acked.status == 200 and (await acked.json())["status"] == "acknowledged"
    again = await station.post(f"/api/field/referrals/{referral['id']}/acknowledge")
    assert again.status == 409 and (await again.json())["error"]["code"] == "not_now"

    unit, unit_account = await login_as("station", place=GULBERG, lines=[])
    sent = await station.post(
        f"/api/field/referrals/{referral['id']}/dispatch",
        json={"unit": "Dolphin 12", "officer_id": unit_account.id},
    )
    assert (await sent.json())["status"] == "dispatched"

    clock.advance(60)
    assert (await _step(unit, referral["id"], "en_route")).status == 200
    photo = await unit.post(
        f"/api/field/referrals/{referral['id']}/photos",
        data=PNG,
        headers={"Content-Type": "image/png"},
    )
    assert photo.status == 201
    photo_id = (await photo.json())["id"]
    clock.advance(300)
    on_scene = await _step(unit, referral["id"], "on_scene", note="Door opened.", photos=[photo_id])
    assert (await on_scene.json())["on_scene_at"] is not None
    done = await _step(unit, referral["id"], "resolved", note="She is safe with her sister.")
    final = await done.json()
    assert final["status"] == "resolved" and final["location"] is None  # closed: no location
    assert [u["status"] for u in final["updates"]] == [
        "sent",
        "acknowledged",
        "dispatched",
        "en_route",
        "on_scene",
        "resolved",
    ]
    assert final["updates"][4]["attachments"] == [photo_id]

    shown = await unit.get(f"/api/field/referrals/{referral['id']}/attachments/{photo_id}")
    assert shown.status == 200 and await shown.read() == PNG
    async with db() as session:
        stored = await session.get(Attachment, photo_id)
        kinds = list(
            await session.scalars(
                select(TimelineEvent.kind)
                .where(TimelineEvent.case_id == case["id"], TimelineEvent.kind.like("referral.%"))
                .order_by(TimelineEvent.id)
            )
        )
        actions = set(await session.scalars(select(AuditEvent.action)))
    assert stored is not None and stored.size == len(PNG)
    assert kinds == [
        "referral.sent",
        "referral.acknowledged",
        "referral.dispatched",
        "referral.en_route",
        "referral.on_scene",
        "referral.resolved",
    ]
    assert {"referral.create", "referral.read", "attachment.add", "attachment.view"} <= actions

    # The centre reads the case's referrals with the steps.
    of_case = await (await officer.get(f"/api/referrals?case_id={case['id']}")).json()
    assert of_case["referrals"][0]["status"] == "resolved"


async def _step(client: TestClient[Any, Any], referral_id: str, status: str, **fields: Any) -> Any:
    response = await client.post(
        f"/api/field/referrals/{referral_id}/status", json={"status": status, **fields}
    )
    assert response.status == 200, await response.text()
    return response


async def test_other_places_and_roles_see_nothing(
    centre: tuple[TestClient[Any, Any], Any],
    gulberg: tuple[TestClient[Any, Any], Any],
    login_as: Login,
) -> None:
    officer, _ = centre
    station, _ = gulberg
    case = await open_case(officer)
    referral = await (await refer(officer, case["id"])).json()
    path = f"/api/field/referrals/{referral['id']}"

    elsewhere, _ = await login_as("station", place=MODEL_TOWN, lines=[])
    assert (await (await elsewhere.get("/api/field/referrals")).json())["referrals"] == []
    for response in (
        await elsewhere.get(path),
        await elsewhere.post(path + "/acknowledge"),
    ):
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "referral_not_found"

    shelter, _ = await login_as("institution", place=SHELTER, lines=[])
    assert (await shelter.post(path + "/acknowledge")).status == 404

    district, _ = await login_as("station", place="lahore-dpo", lines=[])
    assert (await district.get(path)).status == 200  # the district's duty supervisor

    # A place's account is not the centre's: no cases, no queues, no console feed.
    for response in (
        await station.get("/api/cases"),
        await station.post("/api/queues/me/state", json={"state": "available"}),
        await station.post("/api/referrals", json={}),
        await station.get("/api/me"),
    ):
        assert response.status == 403
    # And the centre's officers do not work referrals.
    assert (await officer.get("/api/field/referrals")).status == 403
    assert (await officer.post(path + "/acknowledge")).status == 403


async def test_anonymous_stays_anonymous_and_bad_referrals_write_nothing(
    centre: tuple[TestClient[Any, Any], Any],
    db: async_sessionmaker[AsyncSession],
) -> None:
    officer, _ = centre
    case = await open_case(officer)  # anonymous by default
    for fields, code in (
        ({"share_name": True}, "anonymous_stays_anonymous"),
        ({"share_phone": True}, "anonymous_stays_anonymous"),
        ({"place": "lahore-nowhere"}, "unknown_place"),
        ({"place": "lahore-cpwb"}, "place_not_for_line"),  # a child institution, women's case
        ({"reason": "   "}, "invalid_reason"),
        ({"evidence": [{"kind": "recording", "id": "0" * 32}]}, "unknown_evidence"),
        ({"session_id": "nosuchsession"}, "contact_not_of_case"),
        ({"case_id": 999999}, "case_not_found"),
    ):
        response = await refer(officer, fields.pop("case_id", case["id"]), **fields)
        assert response.status in (400, 404), fields
        assert (await response.json())["error"]["code"] == code
    async with db() as session:
        events = list(
            await session.scalars(
                select(TimelineEvent.kind).where(TimelineEvent.kind.like("referral.%"))
            )
        )
    assert events == []


async def test_steps_out_of_order_are_refused(
    centre: tuple[TestClient[Any, Any], Any],
    gulberg: tuple[TestClient[Any, Any], Any],
) -> None:
    officer, _ = centre
    station, _ = gulberg
    case = await open_case(officer)
    referral = await (await refer(officer, case["id"], urgency="routine")).json()
    path = f"/api/field/referrals/{referral['id']}"
    early = await station.post(path + "/status", json={"status": "on_scene"})
    assert early.status == 409 and (await early.json())["error"]["code"] == "not_now"
    photo = await station.post(path + "/photos", data=b"%PDF", headers={"Content-Type": "text/x"})
    assert (await photo.json())["error"]["code"] == "unsupported_media_type"
    # The centre takes it back before anyone acknowledged; the station cannot move it after.
    withdrawn = await officer.post(f"/api/referrals/{referral['id']}/withdraw")
    assert (await withdrawn.json())["status"] == "withdrawn"
    assert (await station.post(path + "/acknowledge")).status == 409


async def test_the_report_counts_places_outcomes_and_times(
    centre: tuple[TestClient[Any, Any], Any],
    gulberg: tuple[TestClient[Any, Any], Any],
    login_as: Login,
    clock: FakeClock,
) -> None:
    officer, _ = centre
    station, _ = gulberg
    acks = (30, 90, 600)
    for delay in acks:
        case = await open_case(officer)
        referral = await (await refer(officer, case["id"])).json()
        path = f"/api/field/referrals/{referral['id']}"
        clock.advance(delay)
        assert (await station.post(path + "/acknowledge")).ok
        sent = await station.post(path + "/dispatch", json={"unit": "Dolphin 3"})
        assert sent.ok
        clock.advance(delay)
        await _step(station, referral["id"], "on_scene")
        await _step(station, referral["id"], "resolved" if delay < 600 else "unable_to_locate")
    await refer(officer, (await open_case(officer))["id"], place=MODEL_TOWN, urgency="routine")
    supervisor, _ = await login_as("supervisor")
    day = clock().date().isoformat()
    response = await supervisor.get(f"/api/reports/referrals?from={day}&to={day}")
    assert response.status == 200, await response.text()
    report = await response.json()
    assert report["referrals"] == 4
    places = {p["place"]: p["statuses"] for p in report["by_place"]}
    assert places == {GULBERG: {"resolved": 2, "unable_to_locate": 1}, MODEL_TOWN: {"sent": 1}}
    assert report["by_urgency"] == {"emergency": 3, "routine": 1}
    ack = report["time_to_acknowledge"]
    assert (ack["count"], ack["median_seconds"], ack["p90_seconds"]) == (3, 90, 600)
    scene = report["time_to_on_scene"]
    assert (scene["count"], scene["median_seconds"], scene["p90_seconds"]) == (3, 180, 1200)
    assert (await officer.get(f"/api/reports/referrals?from={day}&to={day}")).status == 403
