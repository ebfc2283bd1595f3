"""The officer REST API for cases: list, open, read, change status, edit, notes, link sessions.

Who sees what is :func:`cases.casework.can_read`: a case the officer may not
see answers exactly like one that does not exist (404 ``case_not_found``).
Every read and change is audited after it succeeds; a refused request
changes nothing (each one is a single transaction, checked before written).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import tracking_code
from cases.casework import (
    add_note,
    assign_officer,
    can_read,
    change_status,
    check_category,
    check_district,
    clean_text,
    link_session,
    open_note,
    readable_by,
    set_category,
    set_district,
    set_priority,
)
from cases.models import Case, CaseNote, Complainant, ContactSession, Leg
from cases.schemas import (
    MAX_ID,
    CaseCreate,
    CaseDetail,
    CaseList,
    CaseListQuery,
    CasePatch,
    CaseReadQuery,
    CaseSummary,
    ComplainantView,
    LegView,
    LinkIn,
    LinkResult,
    NoteIn,
    NoteView,
    RevealIn,
    SessionView,
    StatusChange,
    TimelineEntry,
)
from cases.sessions import ComplainantDetails, find_case_by_code, open_case, open_details
from cases.timeline import timeline
from cases.vocabulary import PUBLIC_STATUS, CaseStatus
from officers.auth import current_officer
from officers.models import Officer
from safecall.endpoint import STAFF, endpoint
from safecall.errors import ApiError, read_body, read_query
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, ROUTING, SETTINGS, client_address
from sealing.data_key import DataKey, mask_phone

TAGS = ["cases"]
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


def _not_found() -> ApiError:
    return ApiError(404, "case_not_found", "There is no case with that id that you can see.")


def _case_id(request: web.Request) -> int:
    raw = request.match_info["case_id"]
    if not raw.isascii() or not raw.isdigit():
        raise ApiError(400, "invalid_case_id", "A case id is a whole number.")
    if len(raw) > 10 or not 1 <= int(raw) <= MAX_ID:
        raise _not_found()
    return int(raw)


async def _visible_case(
    session: AsyncSession, officer: Officer, case_id: int, *, for_update: bool = False
) -> Case:
    query = select(Case).where(Case.id == case_id)
    if for_update:
        query = query.with_for_update()
    case = await session.scalar(query)
    if case is None or not can_read(officer, case):
        raise _not_found()
    return case


async def _audit(
    request: web.Request,
    action: str,
    object_type: str,
    object_id: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=current_officer(request).id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        address=client_address(request),
        detail=detail or {},
    )


def _json(model: CaseSummary | CaseList | NoteView | LinkResult, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)


# --- views ------------------------------------------------------------------


def summary(case: Case) -> CaseSummary:
    return CaseSummary(**_summary_fields(case))


def _summary_fields(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "tracking_code": case.tracking_code,
        "service_line": case.service_line,
        "category": case.category,
        "status": case.status,
        "public_status": PUBLIC_STATUS[CaseStatus(case.status)],
        "fir_number": case.fir_number,
        "police_station": case.police_station,
        "district": case.district,
        "priority": case.priority,
        "anonymous": case.anonymous,
        "assigned_officer_id": case.assigned_officer_id,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "closed_at": case.closed_at,
    }


async def _detail(
    session: AsyncSession, data_key: DataKey, case: Case, *, reveal_phone: bool
) -> CaseDetail:
    complainant = None
    row = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
    if row is not None and not case.anonymous:
        details = open_details(data_key, row)
        phone = details.phone
        complainant = ComplainantView(
            name=details.name,
            phone=phone if reveal_phone or phone is None else mask_phone(phone),
            phone_revealed=reveal_phone and phone is not None,
            address=details.address,
            callback_safe=row.callback_safe,
            callback_times=details.callback_times,
            language=row.language,
        )
    contact_sessions = list(
        (
            await session.execute(
                select(ContactSession)
                .where(ContactSession.case_id == case.id)
                .order_by(ContactSession.arrived_at, ContactSession.id)
            )
        ).scalars()
    )
    legs: dict[str, list[LegView]] = {s.id: [] for s in contact_sessions}
    if legs:
        for leg in (
            await session.execute(
                select(Leg).where(Leg.session_id.in_(legs)).order_by(Leg.started_at, Leg.id)
            )
        ).scalars():
            legs[leg.session_id].append(
                LegView.model_validate(
                    {
                        "id": leg.id,
                        "channel": leg.channel,
                        "officer_id": leg.officer_id,
                        "external_id": leg.external_id,
                        "started_at": leg.started_at,
                        "ended_at": leg.ended_at,
                    }
                )
            )
    notes = (
        await session.execute(
            select(CaseNote)
            .where(CaseNote.case_id == case.id)
            .order_by(CaseNote.created_at, CaseNote.id)
        )
    ).scalars()
    events = await timeline(session, case_id=case.id)
    return CaseDetail(
        **_summary_fields(case),
        complainant=complainant,
        sessions=[_session_view(s, legs[s.id]) for s in contact_sessions],
        timeline=[
            TimelineEntry(
                id=e.id,
                kind=e.kind,
                at=e.at,
                case_id=e.case_id,
                session_id=e.session_id,
                officer_id=e.officer_id,
                complainant_visible=e.complainant_visible,
                data=dict(e.data or {}),
            )
            for e in events
        ],
        notes=[
            NoteView(
                id=n.id,
                officer_id=n.officer_id,
                created_at=n.created_at,
                text=open_note(data_key, n),
            )
            for n in notes
        ],
    )


def _session_view(s: ContactSession, legs: list[LegView]) -> SessionView:
    return SessionView.model_validate(
        {
            "id": s.id,
            "case_id": s.case_id,
            "service_line": s.service_line,
            "channel": s.channel,
            "language": s.language,
            "anonymous": s.anonymous,
            "silent": s.silent,
            "officer_id": s.officer_id,
            "arrived_at": s.arrived_at,
            "queued_at": s.queued_at,
            "offered_at": s.offered_at,
            "answered_at": s.answered_at,
            "ended_at": s.ended_at,
            "wait_seconds": s.wait_seconds,
            "talk_seconds": s.talk_seconds,
            "disposition": s.disposition,
            "failure_reason": s.failure_reason,
            "legs": legs,
        }
    )


# --- cursor -----------------------------------------------------------------


def _encode_cursor(case: Case) -> str:
    raw = f"{case.created_at.isoformat()}|{case.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    bad = ApiError(400, "invalid_cursor", "The cursor is not one this server gave out.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, _, id_text = raw.partition("|")
        at = datetime.fromisoformat(at_text)
        case_id = int(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if at.tzinfo is None or not 1 <= case_id <= MAX_ID:
        raise bad
    return at, case_id


# --- handlers ---------------------------------------------------------------


@endpoint(
    "List the cases you may see, newest first, with filters and cursor paging.",
    roles=STAFF,
    query=CaseListQuery,
    response=CaseList,
    errors=[
        "invalid_query",
        "unknown_category",
        "invalid_district",
        "invalid_tracking_code",
        "invalid_cursor",
    ],
    tags=TAGS,
)
async def list_cases(request: web.Request) -> web.Response:
    q = read_query(request, CaseListQuery)
    officer = current_officer(request)
    conditions: list[ColumnElement[bool]] = [readable_by(officer)]
    if q.category is not None:
        conditions.append(
            Case.category == check_category(q.category, request.app[SETTINGS].extra_categories)
        )
    if q.district is not None:
        conditions.append(Case.district == check_district(q.district))
    if q.tracking_code is not None:
        digits = tracking_code.normalise(q.tracking_code)
        if digits is None or not tracking_code.is_valid(digits):
            raise ApiError(400, "invalid_tracking_code", "That is not a valid tracking code.")
        conditions.append(Case.tracking_code == digits)
    if q.status is not None:
        conditions.append(Case.status == q.status.value)
    if q.service_line is not None:
        conditions.append(Case.service_line == q.service_line.value)
    if q.assigned_officer_id is not None:
        conditions.append(Case.assigned_officer_id == q.assigned_officer_id)
    if q.mine:
        conditions.append(Case.assigned_officer_id == officer.id)
    if q.created_from is not None:
        conditions.append(Case.created_at >= q.created_from)
    if q.created_to is not None:
        conditions.append(Case.created_at < q.created_to)
    if q.cursor is not None:
        at, after_id = _decode_cursor(q.cursor)
        conditions.append(
            or_(Case.created_at < at, and_(Case.created_at == at, Case.id < after_id))
        )
    async with request.app[DB]() as session:
        found = list(
            (
                await session.execute(
                    select(Case)
                    .where(*conditions)
                    .order_by(Case.created_at.desc(), Case.id.desc())
                    .limit(q.limit + 1)
                )
            ).scalars()
        )
    page = found[: q.limit]
    next_cursor = _encode_cursor(page[-1]) if len(found) > q.limit else None
    filters = sorted(k for k in q.model_fields_set if k not in ("limit", "cursor"))
    await _audit(request, "case.list", "case", None, {"filters": filters, "count": len(page)})
    return _json(CaseList(cases=[summary(c) for c in page], next_cursor=next_cursor))


@endpoint(
    "Open a case for a walk-in or phone-in; the answer carries its tracking code.",
    roles=STAFF,
    body=CaseCreate,
    response=CaseDetail,
    status=201,
    errors=[
        "invalid_body",
        "invalid_json",
        "not_on_line",
        "unknown_category",
        "invalid_district",
        "anonymous_with_details",
        "callback_needs_phone",
        "invalid_phone",
        "invalid_name",
        "invalid_address",
        "invalid_callback_times",
        "assignee_not_eligible",
    ],
    tags=TAGS,
)
async def create_case(request: web.Request) -> web.Response:
    body = await read_body(request, CaseCreate)
    officer = current_officer(request)
    if officer.role != "admin" and body.service_line.value not in officer.lines:
        raise ApiError(403, "not_on_line", "You are not on that service line.")
    details = None
    if body.complainant is not None:
        details = ComplainantDetails(**body.complainant.model_dump())
    now = request.app[CLOCK]()
    data_key = request.app[DATA_KEY]
    async with request.app[DB]() as session:
        async with session.begin():
            case = await open_case(
                session,
                data_key,
                service_line=body.service_line.value,
                now=now,
                language=body.language,
                category=body.category,
                district=body.district,
                anonymous=body.anonymous,
                complainant=details,
                priority=body.priority,
                extra_categories=request.app[SETTINGS].extra_categories,
                officer_id=officer.id,
            )
            if body.assign_to_me:
                await assign_officer(
                    session,
                    case,
                    officer_id=officer.id,
                    actor=officer,
                    now=now,
                    female_only=request.app[ROUTING].lines,
                )
        detail = await _detail(session, data_key, case, reveal_phone=False)
    await _audit(request, "case.open", "case", str(case.id), {"service_line": case.service_line})
    return web.json_response(detail.model_dump(mode="json"), status=201)


@endpoint(
    "Read a case with its timeline, sessions, legs and notes. (Deprecated: `reveal=phone` "
    "with `reason=` here; use POST /api/cases/{case_id}/reveal-phone.)",
    roles=STAFF,
    query=CaseReadQuery,
    response=CaseDetail,
    errors=[
        "invalid_query",
        "invalid_case_id",
        "case_not_found",
        "reason_required",
        "invalid_reason",
        "no_phone",
        "no_callback_consent",
    ],
    tags=TAGS,
)
async def read_case(request: web.Request) -> web.Response:
    q = read_query(request, CaseReadQuery)
    case_id = _case_id(request)
    if q.reveal == "phone":
        if q.reason is None:
            raise ApiError(400, "reason_required", "Say why you need her number (reason=...).")
        return await _reveal_phone(request, case_id, q.reason)
    officer = current_officer(request)
    async with request.app[DB]() as session:
        case = await _visible_case(session, officer, case_id)
        detail = await _detail(session, request.app[DATA_KEY], case, reveal_phone=False)
    await _audit(request, "case.read", "case", str(case.id))
    return web.json_response(detail.model_dump(mode="json"))


@endpoint(
    "Read a case with her phone number in full, to call her back (only when she said it "
    "is safe); the reason, in the body, is kept in the audit log.",
    roles=STAFF,
    body=RevealIn,
    response=CaseDetail,
    errors=[
        "invalid_body",
        "invalid_json",
        "invalid_case_id",
        "case_not_found",
        "invalid_reason",
        "no_phone",
        "no_callback_consent",
    ],
    tags=TAGS,
)
async def reveal_phone(request: web.Request) -> web.Response:
    body = await read_body(request, RevealIn)
    return await _reveal_phone(request, _case_id(request), body.reason)


async def _reveal_phone(request: web.Request, case_id: int, raw_reason: str) -> web.Response:
    """The case with her number in full; audited as a read and a reveal with the reason."""
    reason = clean_text(raw_reason, "reason", 200, "invalid_reason")
    officer = current_officer(request)
    async with request.app[DB]() as session:
        case = await _visible_case(session, officer, case_id)
        row = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
        if case.anonymous or row is None or row.phone_sealed is None:
            raise ApiError(409, "no_phone", "This case has no phone number to call back.")
        if not row.callback_safe:
            raise ApiError(
                409, "no_callback_consent", "She did not say it is safe to call her back."
            )
        detail = await _detail(session, request.app[DATA_KEY], case, reveal_phone=True)
    await _audit(request, "case.read", "case", str(case.id))
    await _audit(request, "case.reveal_phone", "case", str(case.id), {"reason": reason})
    return web.json_response(detail.model_dump(mode="json"))


@endpoint(
    "Change a case's status (an FIR needs its number and police station).",
    roles=STAFF,
    body=StatusChange,
    response=CaseSummary,
    errors=[
        "invalid_body",
        "invalid_json",
        "invalid_case_id",
        "case_not_found",
        "fir_details_required",
        "fir_details_unexpected",
        "invalid_fir_number",
        "invalid_police_station",
        "case_closed",
        "status_unchanged",
        "status_not_new",
    ],
    tags=TAGS,
)
async def change_case_status(request: web.Request) -> web.Response:
    body = await read_body(request, StatusChange)
    case_id = _case_id(request)
    officer = current_officer(request)
    now = request.app[CLOCK]()
    async with request.app[DB]() as session:
        async with session.begin():
            case = await _visible_case(session, officer, case_id, for_update=True)
            previous = case.status
            await change_status(
                session,
                case,
                status=body.status.value,
                actor=officer,
                now=now,
                fir_number=body.fir_number,
                police_station=body.police_station,
            )
    await _audit(
        request, "case.status", "case", str(case.id), {"from": previous, "to": case.status}
    )
    return _json(summary(case))


@endpoint(
    "Change a case's category, district, priority or assigned officer.",
    roles=STAFF,
    body=CasePatch,
    response=CaseSummary,
    errors=[
        "invalid_body",
        "invalid_json",
        "invalid_case_id",
        "case_not_found",
        "empty_patch",
        "unknown_category",
        "invalid_district",
        "invalid_priority",
        "unknown_officer",
        "assignee_not_eligible",
        "assign_forbidden",
    ],
    tags=TAGS,
)
async def update_case(request: web.Request) -> web.Response:
    body = await read_body(request, CasePatch)
    fields = body.model_fields_set
    if not fields:
        raise ApiError(400, "empty_patch", "Give at least one field to change.")
    case_id = _case_id(request)
    officer = current_officer(request)
    now = request.app[CLOCK]()
    async with request.app[DB]() as session:
        async with session.begin():
            case = await _visible_case(session, officer, case_id, for_update=True)
            if "category" in fields:
                await set_category(
                    session,
                    case,
                    category=body.category,
                    actor=officer,
                    now=now,
                    extra_categories=request.app[SETTINGS].extra_categories,
                )
            if "district" in fields:
                await set_district(session, case, district=body.district, actor=officer, now=now)
            if "priority" in fields:
                await set_priority(session, case, priority=body.priority, actor=officer, now=now)
            if "assigned_officer_id" in fields:
                await assign_officer(
                    session,
                    case,
                    officer_id=body.assigned_officer_id,
                    actor=officer,
                    now=now,
                    female_only=request.app[ROUTING].lines,
                )
    await _audit(request, "case.update", "case", str(case.id), {"fields": sorted(fields)})
    return _json(summary(case))


@endpoint(
    "Add a note to a case (stored encrypted; never shown to the complainant).",
    roles=STAFF,
    body=NoteIn,
    response=NoteView,
    status=201,
    errors=["invalid_body", "invalid_json", "invalid_case_id", "case_not_found", "invalid_note"],
    tags=TAGS,
)
async def create_note(request: web.Request) -> web.Response:
    body = await read_body(request, NoteIn)
    case_id = _case_id(request)
    officer = current_officer(request)
    now = request.app[CLOCK]()
    data_key = request.app[DATA_KEY]
    async with request.app[DB]() as session:
        async with session.begin():
            case = await _visible_case(session, officer, case_id)
            note = await add_note(session, data_key, case, text=body.text, actor=officer, now=now)
    await _audit(request, "case.note_add", "case", str(case_id), {"note_id": note.id})
    view = NoteView(
        id=note.id,
        officer_id=note.officer_id,
        created_at=note.created_at,
        text=open_note(data_key, note),
    )
    return _json(view, status=201)


@endpoint(
    "Log a session against another case, given by tracking code or id, or a new case.",
    roles=STAFF,
    body=LinkIn,
    response=LinkResult,
    errors=[
        "invalid_body",
        "invalid_json",
        "session_not_found",
        "case_not_found",
        "invalid_tracking_code",
        "already_linked",
    ],
    tags=TAGS,
)
async def link_contact_session(request: web.Request) -> web.Response:
    body = await read_body(request, LinkIn)
    session_id = request.match_info["session_id"]
    missing_session = ApiError(
        404, "session_not_found", "There is no session with that id that you can see."
    )
    if not _SESSION_ID.match(session_id):
        raise missing_session
    if body.tracking_code is not None and tracking_code.normalise(body.tracking_code) is None:
        raise ApiError(400, "invalid_tracking_code", "That is not a valid tracking code.")
    officer = current_officer(request)
    now = request.app[CLOCK]()
    async with request.app[DB]() as session:
        async with session.begin():
            contact = await session.get(ContactSession, session_id, with_for_update=True)
            current = None if contact is None else await session.get(Case, contact.case_id)
            if contact is None or current is None or not can_read(officer, current):
                raise missing_session
            target: Case | None
            if body.new_case:
                target = await open_case(
                    session,
                    request.app[DATA_KEY],
                    service_line=current.service_line,
                    now=now,
                    language=contact.language,
                    anonymous=contact.anonymous,
                    officer_id=officer.id,
                )
                await assign_officer(
                    session,
                    target,
                    officer_id=officer.id,
                    actor=officer,
                    now=now,
                    female_only=request.app[ROUTING].lines,
                )
            elif body.case_id is not None:
                target = await session.get(Case, body.case_id)
            else:
                assert body.tracking_code is not None
                target = await find_case_by_code(session, body.tracking_code)
            if target is None or not can_read(officer, target):
                raise _not_found()
            previous = await link_session(session, contact, target, now=now, actor=officer)
    await _audit(
        request,
        "session.link",
        "session",
        session_id,
        {"from_case_id": previous, "to_case_id": target.id},
    )
    if body.new_case:
        await _audit(request, "case.open", "case", str(target.id), {"for_session": session_id})
    return _json(
        LinkResult(
            session_id=session_id,
            case_id=target.id,
            previous_case_id=previous,
            tracking_code=tracking_code.display(target.tracking_code),
        )
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/cases", list_cases)
    app.router.add_post("/api/cases", create_case)
    app.router.add_get("/api/cases/{case_id}", read_case)
    app.router.add_post("/api/cases/{case_id}/reveal-phone", reveal_phone)
    app.router.add_patch("/api/cases/{case_id}", update_case)
    app.router.add_post("/api/cases/{case_id}/status", change_case_status)
    app.router.add_post("/api/cases/{case_id}/notes", create_note)
    app.router.add_post("/api/sessions/{session_id}/link", link_contact_session)
