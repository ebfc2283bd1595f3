"""Referrals on HTTP, for the centre: refer a case, see a case's referrals, withdraw one, and
what the console's referral form needs about the contact in hand.

The field side (stations, institutions) is :mod:`referrals.field`.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from attachments.models import Attachment
from cases.casework import can_read
from cases.models import Case, Complainant, ContactSession
from cases.tracking_code import TrackingCode, display
from officers.auth import current_officer
from places.model import RECEIVERS, Kind
from places.routes import PLACES
from recordings.access import may_play
from recordings.models import Recording
from referrals.schemas import ReferralIn, ReferralList, ReferralOut
from referrals.service import Asked, Where
from referrals.service_key import REFERRALS
from referrals.states import Status
from safecall.endpoint import STAFF, endpoint
from safecall.errors import read_body, read_query
from safecall.refusals import Invalid, NotFound
from safecall.state import DB

TAGS = ["referrals"]


@endpoint(
    "Refer a case (or the live contact) to a station or an institution.",
    roles=STAFF,
    body=ReferralIn,
    response=ReferralOut,
    status=201,
    errors=[
        "case_not_found",
        "unknown_place",
        "place_not_for_line",
        "contact_not_of_case",
        "anonymous_stays_anonymous",
        "no_name_to_share",
        "no_phone_to_share",
        "unknown_evidence",
        "invalid_reason",
    ],
    tags=TAGS,
)
async def create(request: web.Request) -> web.Response:
    body = await read_body(request, ReferralIn)
    officer = current_officer(request)
    where = None
    if body.location is not None:
        where = Where(body.location.latitude, body.location.longitude, body.location.accuracy)
    service = request.app[REFERRALS]
    referral = await service.create(
        officer,
        Asked(
            case_id=body.case_id,
            place=body.place,
            urgency=body.urgency,
            reason=body.reason,
            session_id=body.session_id,
            location=where,
            live_location=body.live_location,
            share_name=body.share_name,
            share_phone=body.share_phone,
            evidence=[e.model_dump() for e in body.evidence],
        ),
    )
    async with request.app[DB]() as session:
        referral, case = await service.get(session, officer, referral.id)
        out = await service.view(session, referral, case, full=True)
    return web.json_response(out, status=201)


class CaseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: int = Field(ge=1)


@endpoint(
    "The referrals of a case, oldest first.",
    roles=STAFF,
    query=CaseQuery,
    response=ReferralList,
    errors=["case_not_found"],
    tags=TAGS,
)
async def of_case(request: web.Request) -> web.Response:
    query = read_query(request, CaseQuery)
    officer = current_officer(request)
    service = request.app[REFERRALS]
    found = await service.of_case(officer, query.case_id)
    async with request.app[DB]() as session:
        listed = []
        for referral in found:
            case = await session.get(Case, referral.case_id)
            assert case is not None
            listed.append(await service.view(session, referral, case, full=True))
    return web.json_response({"referrals": listed})


@endpoint(
    "Take a referral back (before the place has sent anyone).",
    roles=STAFF,
    response=ReferralOut,
    errors=["referral_not_found", "not_now"],
    tags=TAGS,
)
async def withdraw(request: web.Request) -> web.Response:
    officer = current_officer(request)
    service = request.app[REFERRALS]
    referral = await service.move(officer, request.match_info["referral_id"], Status.WITHDRAWN)
    async with request.app[DB]() as session:
        referral, case = await service.get(session, officer, referral.id)
        return web.json_response(await service.view(session, referral, case, full=False))


class ContextQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64, description="The case's tracking code.")


class ContextOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    case_id: int
    tracking_code: str
    service_line: str
    district: str | None
    anonymous: bool
    has_name: bool
    has_phone: bool
    session_id: str | None = Field(description="Your live contact on this case, if any.")
    channel: str | None
    location: dict[str, object] | None
    suggested: dict[str, object] | None = Field(
        description="The station answerable for her location (inside, edge or nearest)."
    )
    places: list[dict[str, object]]
    evidence: list[dict[str, object]]


@endpoint(
    "What the console's referral form needs for a case: your live contact, her location, the "
    "station answerable for it, the places to choose from and the evidence you may send.",
    roles=STAFF,
    query=ContextQuery,
    response=ContextOut,
    errors=["case_not_found", "invalid_tracking_code"],
    tags=TAGS,
)
async def context(request: web.Request) -> web.Response:
    query = read_query(request, ContextQuery)
    officer = current_officer(request)
    try:
        code = TrackingCode.parse(query.code)
    except ValueError:
        raise Invalid("invalid_tracking_code", "A tracking code has 12 digits.") from None
    app = request.app
    directory = app[PLACES]
    async with app[DB]() as session:
        case = await session.scalar(select(Case).where(Case.tracking_code == code.digits))
        if case is None or not can_read(officer, case):
            raise NotFound("case_not_found", "There is no case with that code that you can see.")
        contact = await session.scalar(
            select(ContactSession)
            .where(
                ContactSession.case_id == case.id,
                ContactSession.officer_id == officer.id,
                ContactSession.ended_at.is_(None),
            )
            .order_by(ContactSession.arrived_at.desc())
            .limit(1)
        )
        person = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
        where = None
        if contact is not None:
            where = await app[REFERRALS].latest_location(session, contact.id)
        recordings = await session.scalars(select(Recording).where(Recording.case_id == case.id))
        attachments = await session.scalars(select(Attachment).where(Attachment.case_id == case.id))
        evidence: list[dict[str, object]] = [
            {
                "kind": "recording",
                "id": r.id,
                "what": f"{r.kind} recording",
                "sha256": r.sha256,
                "at": r.started_at.isoformat(),
            }
            for r in recordings
            if r.sha256 and may_play(officer, r, case)
        ]
        evidence += [
            {
                "kind": "attachment",
                "id": a.id,
                "what": a.media_type,
                "sha256": a.sha256,
                "at": a.received_at.isoformat(),
            }
            for a in attachments
        ]
    suggested = None
    if where is not None:
        found = directory.responsible(where.latitude, where.longitude)
        if found is not None:
            suggested = {
                "place": found.place.code,
                "name": found.place.name,
                "how": found.how,
                "distance_m": round(found.distance_m),
            }
    district = case.district or (suggested and directory.by_code[str(suggested["place"])].district)
    places = [
        p.public()
        for p in directory.of_kind(*sorted(RECEIVERS), district=district or None)
        if p.kind is not Kind.CONTROL and (not p.lines or case.service_line in p.lines)
    ]
    out = {
        "case_id": case.id,
        "tracking_code": display(case.tracking_code),
        "service_line": case.service_line,
        "district": case.district,
        "anonymous": case.anonymous,
        "has_name": person is not None and person.name_sealed is not None,
        "has_phone": person is not None and person.phone_sealed is not None,
        "session_id": None if contact is None else contact.id,
        "channel": None if contact is None else contact.channel,
        "location": None if where is None else where.public(),
        "suggested": suggested,
        "places": places,
        "evidence": evidence,
    }
    return web.json_response(out, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    from referrals import field, handoff, reports
    from referrals.service_key import ESCALATION, EscalationConfig

    app[ESCALATION] = EscalationConfig()
    field.setup(app)
    handoff.setup(app)
    reports.setup(app)
    app.router.add_post("/api/referrals", create)
    app.router.add_get("/api/referrals", of_case)
    app.router.add_get("/api/referrals/context", context)
    app.router.add_post("/api/referrals/{referral_id}/withdraw", withdraw)
