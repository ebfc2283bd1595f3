"""Alerts for a missing child: who gets them, acknowledgement per recipient, the public text
a supervisor releases.

A missing report of a child of ``alert_age`` years or younger (the oldest age given), or
with abduction suspected, raises one alert in the report's own transaction. It reaches the
stations, district offices, control rooms and institutions of the district last seen and
its neighbouring districts (or, with ``alert_radius_km``, those within that distance of
where the child was last seen), and the centre's officers of the child line of those
districts (or of none). Each recipient is a row: delivered when written, acknowledged by
the officer or any account of the place. The public text is sealed until a supervisor
releases it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from children.models import ChildAlert, ChildAlertRecipient, ChildPhoto, ChildReport
from children.schemas import iso
from officers.models import Officer
from places.model import RECEIVERS
from places.scope import Scope
from safecall.endpoint import MANAGERS, STAFF
from safecall.refusals import Conflict, NotAllowed, NotFound

if TYPE_CHECKING:
    from datetime import datetime

    from children.service import Children

PUBLIC_FIELD = "child.alert.public"


def reason_for(report: ChildReport, alert_age: int) -> str | None:
    if report.abduction_suspected:
        return "abduction"
    age = report.age_max if report.age_max is not None else report.age_min
    if age is not None and age <= alert_age:
        return "young_child"
    return None


def description(report: ChildReport, details: dict[str, Any]) -> str:
    """The child as an alert describes it: names, age, gender, height, looks, clothing, marks,
    where and when last seen."""
    parts: list[str] = []
    names = details.get("names") or []
    parts.append(" / ".join(names) if names else "Name not known")
    if report.age_min is not None or report.age_max is not None:
        low, high = report.age_min, report.age_max
        parts.append(f"age {low}" if low == high else f"age {low or '?'}-{high or '?'}")
    if report.gender:
        parts.append(report.gender)
    if report.height_min_cm or report.height_max_cm:
        low_h, high_h = report.height_min_cm, report.height_max_cm
        parts.append(
            f"about {low_h} cm" if low_h == high_h else f"{low_h or '?'}-{high_h or '?'} cm"
        )
    for field in ("build", "complexion", "hair"):
        if details.get(field):
            parts.append(f"{field} {details[field]}")
    if details.get("clothing"):
        parts.append(f"wearing {details['clothing']}")
    if details.get("marks"):
        parts.append(f"marks: {details['marks']}")
    place = details.get("where") or {}
    where = ", ".join(x for x in (place.get("area"), report.district) if x)
    parts.append(f"last seen {where or 'place not known'} at {report.seen_at:%Y-%m-%d %H:%M} UTC")
    return "; ".join(parts) + "."


def public_text(report: ChildReport, details: dict[str, Any]) -> str:
    lead = "MISSING CHILD (abduction suspected)" if report.abduction_suspected else "MISSING CHILD"
    return (
        f"{lead}: {description(report, details)} If you see this child, call 15 or the "
        "child protection helpline 1121 at once."
    )


async def raise_alert(
    service: Children,
    session: AsyncSession,
    report: ChildReport,
    details: dict[str, Any],
    now: datetime,
) -> ChildAlert | None:
    """The alert for a new missing report, when the rules call for one (in its transaction)."""
    reason = reason_for(report, service.config.alert_age)
    if reason is None:
        return None
    directory = service.directory
    place = details.get("where") or {}
    lat, lon = place.get("latitude"), place.get("longitude")
    districts: set[str] = set()
    if service.config.alert_radius_km > 0 and lat is not None and lon is not None:
        reached = [
            p
            for p, _ in directory.within(lat, lon, service.config.alert_radius_km * 1000, RECEIVERS)
        ]
        districts = {p.district for p in reached}
    elif report.district is not None:
        districts = {report.district} | set(directory.neighbours(report.district))
        reached = [p for p in directory if p.kind in RECEIVERS and p.district in districts]
    else:
        reached = []
    if report.district is not None:
        districts.add(report.district)
    alert = ChildAlert(
        report_id=report.id,
        reason=reason,
        districts=sorted(districts),
        public_text_sealed=service.data_key.seal(public_text(report, details), PUBLIC_FIELD),
        created_at=now,
    )
    session.add(alert)
    await session.flush()
    for found in sorted(reached, key=lambda p: p.code):
        session.add(ChildAlertRecipient(alert_id=alert.id, place=found.code, delivered_at=now))
    officers = await session.scalars(
        select(Officer).where(
            Officer.role.in_(sorted(STAFF)),
            Officer.disabled.is_(False),
            or_(Officer.district.is_(None), Officer.district.in_(sorted(districts))),
        )
    )
    for officer in officers:
        if officer.role == "admin" or "child" in officer.lines:
            session.add(
                ChildAlertRecipient(alert_id=alert.id, officer_id=officer.id, delivered_at=now)
            )
    await session.flush()
    return alert


def _mine(officer: Officer, service: Children) -> Any:
    """The recipient rows addressed to this account (herself, or her place's)."""
    if officer.role in STAFF:
        return ChildAlertRecipient.officer_id == officer.id
    scope = Scope.of(officer.role, officer.place, service.directory)
    if scope is None:
        return ChildAlertRecipient.id.is_(None)
    return ChildAlertRecipient.place.in_(scope.codes(service.directory))


async def alerts_for(
    service: Children, session: AsyncSession, officer: Officer, *, waiting_only: bool
) -> list[dict[str, Any]]:
    """Alerts addressed to this account, newest first (only those not yet acknowledged)."""
    query = (
        select(ChildAlertRecipient, ChildAlert, ChildReport)
        .join(ChildAlert, ChildAlert.id == ChildAlertRecipient.alert_id)
        .join(ChildReport, ChildReport.id == ChildAlert.report_id)
        .where(_mine(officer, service))
        .order_by(ChildAlert.created_at.desc(), ChildAlert.id.desc())
        .limit(50)
    )
    if waiting_only:
        query = query.where(
            ChildAlertRecipient.acknowledged_at.is_(None), ChildReport.status != "closed"
        )
    listed: dict[int, dict[str, Any]] = {}
    for recipient, alert, report in await session.execute(query):
        if alert.id in listed:
            continue
        listed[alert.id] = alert_view(service, officer, alert, report, recipient)
    photos: dict[str, list[str]] = {}
    report_ids = sorted({a["report_id"] for a in listed.values()})
    if report_ids:
        for report_id, photo_id in await session.execute(
            select(ChildPhoto.report_id, ChildPhoto.id)
            .where(ChildPhoto.report_id.in_(report_ids))
            .order_by(ChildPhoto.received_at)
        ):
            photos.setdefault(report_id, []).append(photo_id)
    for out in listed.values():
        out["photos"] = photos.get(out["report_id"], [])
    return list(listed.values())


def alert_view(
    service: Children,
    officer: Officer,
    alert: ChildAlert,
    report: ChildReport,
    recipient: ChildAlertRecipient | None,
) -> dict[str, Any]:
    details = service.open_details(report)
    out: dict[str, Any] = {
        "id": alert.id,
        "report_id": report.id,
        "reason": alert.reason,
        "districts": list(alert.districts),
        "created_at": alert.created_at.isoformat(),
        "released_at": iso(alert.released_at),
        "description": description(report, details),
        "recipient_id": None if recipient is None else recipient.id,
        "acknowledged_at": None if recipient is None else iso(recipient.acknowledged_at),
        "report_status": report.status,
    }
    if officer.role in MANAGERS or alert.released_at is not None:
        out["public_text"] = service.data_key.open(alert.public_text_sealed, PUBLIC_FIELD)
    return out


async def acknowledge(service: Children, officer: Officer, alert_id: int) -> dict[str, Any]:
    now = service.clock()
    async with service.db() as session, session.begin():
        recipient = await session.scalar(
            select(ChildAlertRecipient)
            .where(ChildAlertRecipient.alert_id == alert_id, _mine(officer, service))
            .order_by(ChildAlertRecipient.id)
            .limit(1)
        )
        if recipient is None:
            raise NotFound("alert_not_found", "There is no such alert addressed to you.")
        if recipient.acknowledged_at is not None:
            raise Conflict("already_acknowledged", "This alert was already acknowledged.")
        recipient.acknowledged_at = now
        recipient.acknowledged_by = officer.id
        alert = await session.get(ChildAlert, alert_id)
        assert alert is not None
        report = await session.get(ChildReport, alert.report_id)
        assert report is not None
        out = alert_view(service, officer, alert, report, recipient)
    await service.audit.record(
        actor_kind="officer",
        officer_id=officer.id,
        action="child.alert.acknowledge",
        object_type="child_alert",
        object_id=str(alert_id),
        detail={"recipient_id": recipient.id, "place": recipient.place},
    )
    return out


async def release(service: Children, officer: Officer, alert_id: int) -> dict[str, Any]:
    """A supervisor releases the public text for broadcast (once)."""
    from children.service import on_child_line

    if officer.role not in MANAGERS or not on_child_line(officer):
        raise NotAllowed(
            "supervisor_only", "Only a supervisor of the child line releases a public alert."
        )
    now = service.clock()
    async with service.db() as session, session.begin():
        alert = await session.get(ChildAlert, alert_id)
        report = None if alert is None else await session.get(ChildReport, alert.report_id)
        if alert is None or report is None:
            raise NotFound("alert_not_found", "There is no such alert.")
        if alert.released_at is not None:
            raise Conflict("already_released", "This alert's public text was already released.")
        if report.status == "closed":
            raise Conflict("report_closed", "The child's report is closed; nothing to release.")
        alert.released_at = now
        alert.released_by = officer.id
        out = alert_view(service, officer, alert, report, None)
    await service.audit.record(
        actor_kind="officer",
        officer_id=officer.id,
        action="child.alert.release",
        object_type="child_alert",
        object_id=str(alert_id),
        detail={"report_id": out["report_id"]},
    )
    return out
