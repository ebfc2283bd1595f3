"""The field side on HTTP: a station's (or institution's) accounts and their units.

``/field`` is their mobile page. Through ``/api/field/...`` an account sees
the referrals sent to the places its scope covers (a district office: the
whole district), acknowledges one, sends a unit, reports the steps with notes
and photos, and follows her location on the map while she shares it. Every
read of one referral is audited.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, Field

from attachments.models import Attachment
from attachments.store import ATTACHMENTS
from attachments.upload import read_photo
from officers.auth import current_officer
from referrals.schemas import DispatchIn, PhotoOut, ReferralList, ReferralOut, StepIn
from referrals.service_key import REFERRALS
from referrals.states import CLOSED, Status
from safecall.endpoint import FIELD, endpoint
from safecall.errors import read_body
from safecall.pages import ASSETS, SECURITY_HEADERS, compressed
from safecall.refusals import Conflict, NotFound
from safecall.state import AUDIT, CLOCK, DB, SETTINGS, client_address

TAGS = ["field"]
NO_STORE = {"Cache-Control": "no-store"}


class FieldMe(BaseModel):
    id: int
    badge: str
    name: str
    role: str
    place: str
    place_name: str
    district: str
    district_wide: bool = Field(description="A district office: every place of the district.")
    map_tiles: str = Field(description="Tile URL template ({z}/{x}/{y}) for the map.")


@endpoint(
    "The logged-in field account, its place, and the map's tile server.",
    roles=FIELD,
    response=FieldMe,
    errors=["no_place"],
    tags=TAGS,
)
async def me(request: web.Request) -> web.Response:
    officer = current_officer(request)
    scope = request.app[REFERRALS].scope(officer)
    if scope is None:
        raise NotFound("no_place", "Your account has no place; ask an administrator.")
    out = FieldMe(
        id=officer.id,
        badge=officer.badge,
        name=officer.name,
        role=officer.role,
        place=scope.place.code,
        place_name=scope.place.name,
        district=scope.place.district,
        district_wide=scope.district_wide,
        map_tiles=request.app[SETTINGS].map_tiles,
    )
    return web.json_response(out.model_dump(), headers=NO_STORE)


@endpoint(
    "Referrals for your place (open ones, and those closed in the last day): emergencies first.",
    roles=FIELD,
    response=ReferralList,
    errors=["no_place"],
    tags=TAGS,
)
async def list_referrals(request: web.Request) -> web.Response:
    officer = current_officer(request)
    service = request.app[REFERRALS]
    found = await service.for_place(officer)
    async with request.app[DB]() as session:
        listed = []
        for referral in found:
            referral, case = await service.get(session, officer, referral.id)
            listed.append(await service.view(session, referral, case, full=False))
    return web.json_response({"referrals": listed}, headers=NO_STORE)


async def _one(request: web.Request, action: str = "referral.read") -> web.Response:
    officer = current_officer(request)
    service = request.app[REFERRALS]
    async with request.app[DB]() as session:
        referral, case = await service.get(session, officer, request.match_info["referral_id"])
        out = await service.view(session, referral, case, full=True)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action=action,
        object_type="referral",
        object_id=referral.id,
        address=client_address(request),
    )
    return web.json_response(out, headers=NO_STORE)


@endpoint(
    "One referral with what the place needs: the reason, her location (while she shares it and "
    "it is open), what she agreed to share, the evidence, the steps so far. Audited.",
    roles=FIELD,
    response=ReferralOut,
    errors=["referral_not_found"],
    tags=TAGS,
)
async def read_referral(request: web.Request) -> web.Response:
    return await _one(request)


@endpoint(
    "Acknowledge a referral: your place has it.",
    roles=FIELD,
    response=ReferralOut,
    errors=["referral_not_found", "not_now"],
    tags=TAGS,
)
async def acknowledge(request: web.Request) -> web.Response:
    officer = current_officer(request)
    await request.app[REFERRALS].acknowledge(officer, request.match_info["referral_id"])
    return await _one(request, "referral.read_after_step")


@endpoint(
    "Send a unit (its call sign, and its own account if it has one).",
    roles=FIELD,
    body=DispatchIn,
    response=ReferralOut,
    errors=["referral_not_found", "not_now", "invalid_unit", "unknown_unit_officer"],
    tags=TAGS,
)
async def dispatch(request: web.Request) -> web.Response:
    body = await read_body(request, DispatchIn)
    officer = current_officer(request)
    await request.app[REFERRALS].dispatch(
        officer, request.match_info["referral_id"], body.unit, body.officer_id
    )
    return await _one(request, "referral.read_after_step")


@endpoint(
    "Report a step: en route, on scene, resolved or unable to locate; with a note and photos.",
    roles=FIELD,
    body=StepIn,
    response=ReferralOut,
    errors=["referral_not_found", "not_now", "invalid_note", "unknown_photo"],
    tags=TAGS,
)
async def step(request: web.Request) -> web.Response:
    body = await read_body(request, StepIn)
    officer = current_officer(request)
    await request.app[REFERRALS].move(
        officer,
        request.match_info["referral_id"],
        Status(body.status),
        note=body.note,
        attachments=body.photos,
    )
    return await _one(request, "referral.read_after_step")


@endpoint(
    "Add a photo from the scene (the raw image as the body: JPEG, PNG or WebP, at most 5 MB); "
    "stored sealed with its hash, then named in a step's `photos`.",
    roles=FIELD,
    response=PhotoOut,
    status=201,
    errors=[
        "referral_not_found",
        "referral_closed",
        "unsupported_media_type",
        "empty_attachment",
        "photo_too_large",
        "photo_incomplete",
    ],
    statuses=[413],
    tags=TAGS,
)
async def add_photo(request: web.Request) -> web.Response:
    officer = current_officer(request)
    service = request.app[REFERRALS]
    data = await read_photo(request)
    async with request.app[DB]() as session, session.begin():
        referral, case = await service.get(session, officer, request.match_info["referral_id"])
        if Status(referral.status) in CLOSED:
            raise Conflict("referral_closed", "This referral is closed.")
        attachment = await request.app[ATTACHMENTS].add(
            session,
            data,
            request.content_type,
            case_id=case.id,
            source="field",
            now=request.app[CLOCK](),
            referral_id=referral.id,
            officer_id=officer.id,
        )
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="attachment.add",
        object_type="attachment",
        object_id=attachment.id,
        address=client_address(request),
        detail={"referral_id": referral.id, "sha256": attachment.sha256},
    )
    out = PhotoOut(id=attachment.id, sha256=attachment.sha256, size=attachment.size)
    return web.json_response(out.model_dump(), status=201)


@endpoint(
    "A photo or file of a referral you may see (sent with it as evidence, or taken at the "
    "scene). Audited.",
    roles=FIELD,
    content_type="application/octet-stream",
    errors=["referral_not_found", "attachment_not_found"],
    tags=TAGS,
)
async def attachment(request: web.Request) -> web.StreamResponse:
    officer = current_officer(request)
    service = request.app[REFERRALS]
    attachment_id = request.match_info["attachment_id"]
    async with request.app[DB]() as session:
        referral, _ = await service.get(session, officer, request.match_info["referral_id"])
        found = await session.get(Attachment, attachment_id) if len(attachment_id) <= 32 else None
    sent = {e["id"] for e in referral.evidence if e.get("kind") == "attachment"}
    if found is None or not (found.referral_id == referral.id or found.id in sent):
        raise NotFound("attachment_not_found", "There is no such photo on this referral.")
    data = await request.app[ATTACHMENTS].read(found)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="attachment.view",
        object_type="attachment",
        object_id=found.id,
        address=client_address(request),
        detail={"referral_id": referral.id},
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


@endpoint("The field page (stations, institutions, units).", public=True, document=False)
async def page(request: web.Request) -> web.StreamResponse:
    tiles = urlsplit(request.app[SETTINGS].map_tiles.replace("{", "").replace("}", ""))
    origin = f"{tiles.scheme}://{tiles.netloc}"
    csp = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self' data: blob:", f"img-src 'self' data: blob: {origin}"
    )
    headers = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": csp,
        "Content-Type": "text/html",
        "Permissions-Policy": "camera=(self), microphone=(), geolocation=(self)",
    }
    return compressed(request, request.app[ASSETS].files["field.html"].bodies, headers)


def setup(app: web.Application) -> None:
    app.router.add_get("/field", page)
    app.router.add_get("/api/field/me", me)
    app.router.add_get("/api/field/referrals", list_referrals)
    app.router.add_get("/api/field/referrals/{referral_id}", read_referral)
    app.router.add_post("/api/field/referrals/{referral_id}/acknowledge", acknowledge)
    app.router.add_post("/api/field/referrals/{referral_id}/dispatch", dispatch)
    app.router.add_post("/api/field/referrals/{referral_id}/status", step)
    app.router.add_post("/api/field/referrals/{referral_id}/photos", add_photo)
    app.router.add_get("/api/field/referrals/{referral_id}/attachments/{attachment_id}", attachment)
