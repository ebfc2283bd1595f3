"""Missing and found children on HTTP: file reports, list and read them, photos, the national
report, candidates and their decisions, the handover, alerts. Every read of a report is
audited; refusals carry stable codes (docs/children.md)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from aiohttp import web

from attachments.store import ATTACHMENTS
from attachments.upload import read_photo as read_upload
from children import alerts
from children.matches import MATCHES, Matches
from children.photos import add_photo, duplicates, read_photo
from children.schemas import (
    AlertList,
    AlertOut,
    CandidateList,
    CloseIn,
    FoundIn,
    HandoverIn,
    MissingIn,
    NationalIn,
    PhotoOut,
    ReportList,
    ReportOut,
    ReportQuery,
)
from children.service import Children, ChildrenConfig
from contacts.service import VOCABULARY
from officers.auth import current_officer
from places.routes import PLACES
from safecall.background import Periodic
from safecall.endpoint import FIELD, MANAGERS, STAFF, endpoint
from safecall.errors import read_body, read_query
from safecall.refusals import Invalid, NotFound
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, SETTINGS, client_address
from signaling.console_feed import ALARM_SOURCES, CONSOLE_PARTS

log = logging.getLogger(__name__)
CHILDREN = web.AppKey("children", Children)
TAGS = ["children"]
EVERYONE = STAFF | FIELD
NO_STORE = {"Cache-Control": "no-store"}


async def _match(request: web.Request, report_id: str) -> None:
    """Rank a new (or changed) report; a failure here leaves the report filed (a report of
    the other kind filed later is ranked against it all the same)."""
    try:
        await request.app[MATCHES].propose(report_id)
    except Exception:
        log.exception("children: matching a new report failed; it stays filed")


async def _one(
    request: web.Request, report_id: str, action: str, status: int = 200
) -> web.Response:
    officer = current_officer(request)
    service = request.app[CHILDREN]
    async with request.app[DB]() as session:
        report = await service.get(session, officer, report_id)
        out = await service.view(session, officer, report, full=True)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action=action,
        object_type="child_report",
        object_id=report_id,
        address=client_address(request),
    )
    return web.json_response(out, status=status, headers=NO_STORE)


@endpoint(
    "File a missing child's report during a call or chat (on the contact's case) or on a case: "
    "the case goes to the child line as missing_child with high priority, the two-hour clock "
    "for the national report starts, and the officer is prompted for the FIR.",
    roles=STAFF,
    body=MissingIn,
    response=ReportOut,
    status=201,
    errors=[
        "not_on_child_line",
        "name_required",
        "invalid_name",
        "invalid_age",
        "invalid_height",
        "invalid_location",
        "unknown_district",
        "seen_in_future",
        "seen_too_long_ago",
        "invalid_phone",
        "invalid_guardian",
        "contact_not_found",
        "contact_not_of_case",
        "case_not_found",
        "case_closed",
    ],
    tags=TAGS,
)
async def file_missing(request: web.Request) -> web.Response:
    body = await read_body(request, MissingIn)
    officer = current_officer(request)
    report = await request.app[CHILDREN].file_missing(officer, body)
    await _match(request, report.id)
    return await _one(request, report.id, "child.report.read_after_filing", 201)


@endpoint(
    "File a found child's report: a station's or an institution's account (for its place), or "
    "a centre officer of the child line. Where and when found, the description, what the child "
    "says, where the child is now.",
    roles=EVERYONE,
    body=FoundIn,
    response=ReportOut,
    status=201,
    errors=[
        "not_on_child_line",
        "no_place",
        "no_case_for_place",
        "invalid_name",
        "invalid_age",
        "invalid_height",
        "invalid_location",
        "unknown_district",
        "unknown_place",
        "seen_in_future",
        "seen_too_long_ago",
        "contact_not_found",
        "case_not_found",
    ],
    tags=TAGS,
)
async def file_found(request: web.Request) -> web.Response:
    body = await read_body(request, FoundIn)
    officer = current_officer(request)
    report = await request.app[CHILDREN].file_found(officer, body)
    await _match(request, report.id)
    return await _one(request, report.id, "child.report.read_after_filing", 201)


def _day(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise Invalid("invalid_date", f"The {field} date is written YYYY-MM-DD.") from None


@endpoint(
    "Reports you may see, newest first: by kind, status, district, age and the day last seen "
    "or found. Reunited children's records leave this list after the retention time. Audited.",
    roles=EVERYONE,
    query=ReportQuery,
    response=ReportList,
    errors=["invalid_date", "unknown_district"],
    tags=TAGS,
)
async def list_reports(request: web.Request) -> web.Response:
    q = read_query(request, ReportQuery)
    officer = current_officer(request)
    until = _day(q.until, "to")
    listed = await request.app[CHILDREN].listing(
        officer,
        kind=q.kind,
        status=q.status,
        district=q.district,
        age=q.age,
        since=_day(q.since, "from"),
        until=None if until is None else until + timedelta(days=1),
        limit=q.limit,
    )
    return web.json_response({"reports": listed}, headers=NO_STORE)


@endpoint(
    "One report with what is sealed (the guardian's details only for the centre). Audited.",
    roles=EVERYONE,
    response=ReportOut,
    errors=["report_not_found"],
    tags=TAGS,
)
async def read_report(request: web.Request) -> web.Response:
    return await _one(request, request.match_info["report_id"], "child.report.read")


@endpoint(
    "Record that the national agency was told of a missing child (with the time and its "
    "reference); the report shows whether it was within two hours.",
    roles=STAFF,
    body=NationalIn,
    response=ReportOut,
    errors=[
        "report_not_found",
        "not_a_missing_report",
        "already_reported",
        "reported_in_future",
        "reported_before_report",
        "invalid_reference",
    ],
    tags=TAGS,
)
async def national(request: web.Request) -> web.Response:
    body = await read_body(request, NationalIn)
    officer = current_officer(request)
    report_id = request.match_info["report_id"]
    await request.app[CHILDREN].record_national(officer, report_id, body.at, body.reference)
    return await _one(request, report_id, "child.report.read_after_national")


@endpoint(
    "Close an open report without a match: the missing child came home (`returned`), or the "
    "report was made in error (`withdrawn`). The case stays as it is. Audited.",
    roles=STAFF,
    body=CloseIn,
    response=ReportOut,
    errors=["report_not_found", "invalid_outcome", "invalid_note", "not_now"],
    tags=TAGS,
)
async def close(request: web.Request) -> web.Response:
    body = await read_body(request, CloseIn)
    officer = current_officer(request)
    report_id = request.match_info["report_id"]
    await request.app[CHILDREN].close(officer, report_id, body.outcome, body.note)
    request.app[MATCHES].forget(report_id)
    return await _one(request, report_id, "child.report.read_after_close")


@endpoint(
    "Add a photo of the child (the raw image as the body: JPEG, PNG or WebP, at most 5 MB); "
    "sealed like recordings, hashed, and checked against other reports' photos.",
    roles=EVERYONE,
    response=PhotoOut,
    status=201,
    errors=[
        "report_not_found",
        "report_closed",
        "unsupported_media_type",
        "empty_photo",
        "too_many_photos",
        "photo_too_large",
        "photo_incomplete",
        "not_your_report",
    ],
    statuses=[413],
    tags=TAGS,
)
async def upload_photo(request: web.Request) -> web.Response:
    officer = current_officer(request)
    service = request.app[CHILDREN]
    data = await read_upload(request)
    report_id = request.match_info["report_id"]
    async with request.app[DB]() as session, session.begin():
        report = await service.get(session, officer, report_id)
        if officer.role in FIELD and report.place is None:
            raise Invalid("not_your_report", "Add photos to the reports your place filed.")
        photo = await add_photo(
            session,
            request.app[ATTACHMENTS],
            report,
            data,
            request.content_type,
            officer_id=officer.id,
            now=request.app[CLOCK](),
        )
        same = await duplicates(session, photo)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="child.photo.add",
        object_type="child_photo",
        object_id=photo.id,
        address=client_address(request),
        detail={"report_id": report_id, "sha256": photo.sha256},
    )
    await _match(request, report_id)
    out = PhotoOut(id=photo.id, sha256=photo.sha256, size=photo.size, duplicates=same)
    return web.json_response(out.model_dump(), status=201)


@endpoint(
    "A photo of a report you may see (the centre's officers of the child line; a place's "
    "accounts for its own reports and the alerts it received). Audited.",
    roles=EVERYONE,
    content_type="application/octet-stream",
    errors=["report_not_found", "photo_not_found"],
    tags=TAGS,
)
async def photo(request: web.Request) -> web.StreamResponse:
    officer = current_officer(request)
    service = request.app[CHILDREN]
    report_id = request.match_info["report_id"]
    async with request.app[DB]() as session:
        report = await service.get(session, officer, report_id)
        found, data = await read_photo(
            session, request.app[ATTACHMENTS], report, request.match_info["photo_id"]
        )
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="child.photo.view",
        object_type="child_photo",
        object_id=found.id,
        address=client_address(request),
        detail={"report_id": report_id},
    )
    return web.Response(
        body=data,
        content_type=found.media_type,
        headers={
            **NO_STORE,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )


@endpoint(
    "The candidates for a report (the reports of the other kind that may be the same child), "
    "best first, with their scores and reasons.",
    roles=STAFF,
    response=CandidateList,
    errors=["report_not_found"],
    tags=TAGS,
)
async def candidates(request: web.Request) -> web.Response:
    officer = current_officer(request)
    listed = await request.app[MATCHES].of_report(officer, request.match_info["report_id"])
    return web.json_response({"candidates": listed}, headers=NO_STORE)


def _match_id(request: web.Request) -> int:
    raw = request.match_info["match_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound("match_not_found", "There is no such candidate.")
    return int(raw)


@endpoint(
    "Confirm a candidate: the same child. Both reports move to matched and the reunification "
    "step opens; the other candidates of both stay for the record. Audited.",
    roles=STAFF,
    errors=["match_not_found", "not_now"],
    tags=TAGS,
)
async def confirm(request: web.Request) -> web.Response:
    officer = current_officer(request)
    out = await request.app[MATCHES].decide(officer, _match_id(request), confirm=True)
    return web.json_response(out, headers=NO_STORE)


@endpoint(
    "Reject a candidate: not the same child. Audited.",
    roles=STAFF,
    errors=["match_not_found", "not_now"],
    tags=TAGS,
)
async def reject(request: web.Request) -> web.Response:
    officer = current_officer(request)
    out = await request.app[MATCHES].decide(officer, _match_id(request), confirm=False)
    return web.json_response(out, headers=NO_STORE)


@endpoint(
    "Hand the child over: the checklist, the handover record and the outcome; closes both "
    "reports and the case. A child with a safeguarding concern (abuse at home suspected) is "
    "not reunited: placed in care or referred to child protection.",
    roles=STAFF,
    body=HandoverIn,
    errors=[
        "match_not_found",
        "not_confirmed",
        "checklist_incomplete",
        "child_protection_path",
        "child_protection_officer_required",
        "guardian_required",
        "care_place_required",
        "unknown_place",
        "handover_in_future",
        "invalid_handover",
    ],
    tags=TAGS,
)
async def handover(request: web.Request) -> web.Response:
    body = await read_body(request, HandoverIn)
    officer = current_officer(request)
    out = await request.app[MATCHES].hand_over(officer, _match_id(request), body)
    return web.json_response(out, headers=NO_STORE)


@endpoint(
    "Alerts addressed to you (or your place), newest first; `all=1` includes acknowledged ones.",
    roles=EVERYONE,
    response=AlertList,
    tags=TAGS,
)
async def list_alerts(request: web.Request) -> web.Response:
    officer = current_officer(request)
    every = request.query.get("all") == "1"
    service = request.app[CHILDREN]
    async with request.app[DB]() as session:
        listed = await alerts.alerts_for(service, session, officer, waiting_only=not every)
    return web.json_response({"alerts": listed}, headers=NO_STORE)


def _alert_id(request: web.Request) -> int:
    raw = request.match_info["alert_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound("alert_not_found", "There is no such alert.")
    return int(raw)


@endpoint(
    "Acknowledge an alert addressed to you or your place (logged per recipient).",
    roles=EVERYONE,
    response=AlertOut,
    errors=["alert_not_found", "already_acknowledged"],
    tags=TAGS,
)
async def acknowledge(request: web.Request) -> web.Response:
    officer = current_officer(request)
    out = await alerts.acknowledge(request.app[CHILDREN], officer, _alert_id(request))
    return web.json_response(out, headers=NO_STORE)


@endpoint(
    "Release an alert's public text for broadcast (supervisors only; audited).",
    roles=MANAGERS,
    response=AlertOut,
    errors=["alert_not_found", "already_released", "report_closed", "supervisor_only"],
    tags=TAGS,
)
async def release(request: web.Request) -> web.Response:
    officer = current_officer(request)
    out = await alerts.release(request.app[CHILDREN], officer, _alert_id(request))
    return web.json_response(out, headers=NO_STORE)


# --- life ---------------------------------------------------------------------------------


async def children_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the database's): the service, the matcher, the
    console's part (alerts waiting, candidates on her reports) and the retention sweep."""
    from children.retention import hide_reunited

    settings = app[SETTINGS]
    service = Children(
        db=app[DB],
        data_key=app[DATA_KEY],
        directory=app[PLACES],
        districts=app[VOCABULARY].districts,
        audit=app[AUDIT],
        clock=app[CLOCK],
        config=ChildrenConfig(
            alert_age=settings.child_alert_age,
            alert_radius_km=settings.child_alert_radius_km,
            search_days=settings.child_search_days,
        ),
    )
    app[CHILDREN] = service
    app[MATCHES] = Matches(service)

    async def part(officer_id: int) -> dict[str, dict[str, object]]:
        try:
            return {"children": await app[MATCHES].console_part(officer_id)}
        except Exception:  # the database away: the rest of her feed goes on
            log.warning("children: the console part could not be read; trying again later")
            return {}

    app[CONSOLE_PARTS].append(part)

    async def overdue() -> list[dict[str, object]]:
        """The wallboard's alarm: missing children not reported to the national agency within
        the two hours."""
        late = await service.national_overdue()
        if not late:
            return []
        return [
            {
                "kind": "child_national_overdue",
                "count": len(late),
                "report_ids": late[:20],
                "message": f"{len(late)} missing child report{'s' if len(late) != 1 else ''} "
                "not yet reported to the national agency within two hours.",
            }
        ]

    app[ALARM_SOURCES].append(overdue)

    async def sweep() -> None:
        await hide_reunited(service)

    async with Periodic(
        sweep,
        every=3600.0,
        name="children-retention",
        failure="children's retention sweep failed; trying again later",
        jitter=0.1,
    ):
        yield


def setup(app: web.Application) -> None:
    from children import figures

    figures.setup(app)
    app.router.add_post("/api/children/missing", file_missing)
    app.router.add_post("/api/children/found", file_found)
    app.router.add_get("/api/children/reports", list_reports)
    app.router.add_get("/api/children/reports/{report_id}", read_report)
    app.router.add_post("/api/children/reports/{report_id}/national", national)
    app.router.add_post("/api/children/reports/{report_id}/close", close)
    app.router.add_post("/api/children/reports/{report_id}/photos", upload_photo)
    app.router.add_get("/api/children/reports/{report_id}/photos/{photo_id}", photo)
    app.router.add_get("/api/children/reports/{report_id}/candidates", candidates)
    app.router.add_post("/api/children/matches/{match_id}/confirm", confirm)
    app.router.add_post("/api/children/matches/{match_id}/reject", reject)
    app.router.add_post("/api/children/matches/{match_id}/handover", handover)
    app.router.add_get("/api/children/alerts", list_alerts)
    app.router.add_post("/api/children/alerts/{alert_id}/acknowledge", acknowledge)
    app.router.add_post("/api/children/alerts/{alert_id}/release", release)
