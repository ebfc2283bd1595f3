"""Browser contacts: her intake opens a contact, puts it in line and opens its call.

``POST /api/contacts`` (public) checks the intake, opens the contact on a case
(:func:`cases.sessions.open_contact`), puts it in the routing engine's line and
opens a signaling session; it answers with the session id, her tracking code
and her join token (the page keeps it in memory only). With that token she
asks ``GET /api/contacts/{id}`` for her place in line and joins ``/ws``.

An officer accepts an offer through the queues API, then asks
``POST /api/contacts/{id}/answer`` for the officer side's join token: only the
officer the contact is assigned to gets it, and the session is marked answered.
She may ask again (her console reloaded, her browser restarted): the same token,
marked answered once, with the chat so far and, once the call is over, when it
ended (her wrap-up is timed from it).

When the signaling session ends, the contact ends on its case with a
disposition (answered, dropped, abandoned); a contact that ended before anyone
answered leaves the line. Chat messages go on the session's timeline, sealed.

Join tokens are derived from a secret every process shares (the hub's), so
the officer may ask any process for hers.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases import tracking_code
from cases.casework import Conflict
from cases.models import Case, ContactSession, TimelineEvent
from cases.sessions import (
    ComplainantDetails,
    end_session,
    mark_answered,
    open_contact,
    record_times,
)
from cases.timeline import record_event
from officers.auth import current_officer
from queues.router import Contact, Placement, Refused
from queues.service import ROUTER
from safecall.db import reader
from safecall.endpoint import STAFF, endpoint
from safecall.errors import ApiError, read_body
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, ENGINE, SETTINGS, client_address
from signaling.events import ChatPosted, HubEvent, SessionEnded
from signaling.hub import HubClosing, token_hash
from signaling.routes import HUB

log = logging.getLogger(__name__)

TAGS = ["contacts"]
CHAT_FIELD = "chat.text"
LOCATION_FIELD = "contact.location"
CHANNELS = {"video": "browser_video", "audio": "browser_audio", "chat": "chat"}


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy: float | None = Field(default=None, ge=0, le=1_000_000, description="Metres.")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_line: Literal["women", "child"]
    channel: Literal["video", "audio", "chat"]
    language: Literal["ur", "en", "pa"] = "ur"
    category: str | None = Field(default=None, max_length=40)
    district: str | None = Field(default=None, max_length=60)
    anonymous: bool = True
    name: str | None = Field(default=None, max_length=120)
    phone: str | None = Field(default=None, max_length=32)
    callback_safe: bool = False
    callback_times: str | None = Field(default=None, max_length=120)
    tracking_code: str | None = Field(default=None, max_length=32)
    location: Location | None = None


class ContactOut(BaseModel):
    session_id: str
    tracking_code: str = Field(description="Display form, e.g. 1234 5678 9012.")
    token: str = Field(description="Her join token for /ws; keep it in memory only.")
    channel: str


class PlaceOut(BaseModel):
    status: str = Field(description="waiting, offered, assigned, or how it ended.")
    position: int | None
    estimated_wait: float | None = Field(description="Seconds; null when not known.")


class ChatLine(BaseModel):
    side: Literal["citizen", "officer"]
    text: str


class AnswerOut(BaseModel):
    session_id: str
    case_id: int
    token: str = Field(description="The officer side's join token for /ws.")
    channel: str
    service_line: str
    language: str
    anonymous: bool
    category: str | None
    district: str | None
    callback_safe: bool
    tracking_code: str
    linked_case: bool = Field(description="She gave the tracking code of an earlier contact.")
    silent: bool = Field(description="She cannot speak (chat, or a silent phone call).")
    recorded: bool = Field(
        description="Calls of this service line are recorded (not one of "
        "SAFECALL_RECORDING_OFF_LINES): the console records a video call only when true."
    )
    location: Location | None
    ended_at: float | None = Field(
        description="Seconds since the epoch when the call ended (wrap-up), null while it goes on."
    )
    chat: list[ChatLine] = Field(description="The session's chat so far, oldest first.")


def _details(body: ContactIn) -> ComplainantDetails | None:
    given = body.name or body.phone or body.callback_times or body.callback_safe
    if not given:
        return None
    return ComplainantDetails(
        name=body.name or None,
        phone=body.phone or None,
        callback_safe=body.callback_safe,
        callback_times=body.callback_times or None,
    )


def _code_given(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    digits = tracking_code.normalise(text)
    if digits is None or not tracking_code.is_valid(digits):
        raise ApiError(
            400, "invalid_tracking_code", "That tracking code is not right; check it or leave it."
        )
    return digits


@endpoint(
    "Start a browser contact (video, audio or chat): opens it on a case, puts it in line "
    "and opens its call. Only the service line and the channel are needed.",
    public=True,
    body=ContactIn,
    response=ContactOut,
    status=201,
    errors=[
        "invalid_tracking_code",
        "anonymous_with_details",
        "callback_needs_phone",
        "invalid_phone",
        "invalid_name",
        "unknown_category",
        "unknown_district",
        "going_away",
    ],
    tags=TAGS,
)
async def start_contact(request: web.Request) -> web.Response:
    body = await read_body(request, ContactIn)
    app = request.app
    hub, router = app[HUB], app[ROUTER]
    if hub.draining:
        raise ApiError(
            503, "going_away", "This server is restarting; try again.", {"Retry-After": "1"}
        )
    code = _code_given(body.tracking_code)
    channel = CHANNELS[body.channel]
    now = app[CLOCK]()
    async with app[DB]() as session, session.begin():
        contact, case = await open_contact(
            session,
            app[DATA_KEY],
            service_line=body.service_line,
            channel=channel,
            now=now,
            language=body.language,
            category=body.category or None,
            district=body.district or None,
            anonymous=body.anonymous,
            silent=body.channel == "chat",
            tracking_code=code,
            complainant=_details(body),
            extra_categories=app[SETTINGS].extra_categories,
        )
        if body.location is not None:
            sealed = app[DATA_KEY].seal(body.location.model_dump_json(), LOCATION_FIELD)
            await record_event(
                session,
                key=f"session:{contact.id}:location",
                kind="contact.location",
                at=now,
                session_id=contact.id,
                case_id=case.id,
                data={"sealed": base64.b64encode(sealed).decode()},
            )
        await record_times(session, contact, queued_at=now)
        session_id, code_out = contact.id, case.tracking_code
        known_officer = case.assigned_officer_id
    try:
        citizen_token, _ = await hub.open_session(session_id)
    except HubClosing:
        await _end_contact(app, session_id, "closed")
        raise ApiError(
            503, "going_away", "This server is restarting; try again.", {"Retry-After": "1"}
        ) from None
    await router.enqueue(
        Contact(
            id=session_id,
            line=body.service_line,
            channel=channel,
            category=body.category or None,
            language=body.language,
            district=body.district or None,
            silent=body.channel == "chat",
            callback_safe=body.callback_safe,
            known_officer=known_officer,
            arrived=now,
        )
    )
    return web.json_response(
        {
            "session_id": session_id,
            "tracking_code": tracking_code.display(code_out),
            "token": citizen_token,
            "channel": body.channel,
        },
        status=201,
        headers={"Cache-Control": "no-store"},
    )


async def _her_session(request: web.Request) -> str:
    session_id = request.match_info["session_id"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(session_id) > 64:
        raise ApiError(401, "invalid_session_token", "Send your contact's token.")
    seat = await request.app[HUB].store.seat(session_id, token_hash(token))
    if seat is None or seat.side != "citizen":
        raise ApiError(401, "invalid_session_token", "Send your contact's token.")
    return session_id


def _place(placement: Placement) -> dict[str, object]:
    return {
        "status": placement.status,
        "position": placement.position,
        "estimated_wait": placement.estimated_wait,
    }


@endpoint(
    "Her place in line (send her token in Authorization: Bearer).",
    public=True,
    response=PlaceOut,
    errors=["invalid_session_token"],
    tags=TAGS,
)
async def her_place(request: web.Request) -> web.Response:
    session_id = await _her_session(request)
    placement = request.app[ROUTER].placement(session_id)
    return web.json_response(_place(placement), headers={"Cache-Control": "no-store"})


@endpoint(
    "Answer the contact you accepted (through the queues API): the officer side's join "
    "token and the intake.",
    roles=STAFF,
    response=AnswerOut,
    errors=["not_yours", "session_ended"],
    tags=TAGS,
)
async def answer(request: web.Request) -> web.Response:
    app = request.app
    session_id = request.match_info["session_id"]
    officer = current_officer(request)
    placement = app[ROUTER].placement(session_id)
    if placement.status != "assigned" or placement.officer_id != officer.id:
        raise ApiError(409, "not_yours", "Accept the offer first; this contact is not yours.")
    async with app[DB]() as session, session.begin():
        contact = await session.get(ContactSession, session_id)
        if contact is None:
            raise ApiError(409, "not_yours", "There is no such contact.")
        again = contact.answered_at is not None  # her console re-opens it (a reload)
        if not again:
            try:
                await mark_answered(
                    session, contact, officer_id=officer.id, answered_at=app[CLOCK]()
                )
            except Conflict as exc:
                raise ApiError(409, "session_ended", exc.message) from None
        elif contact.officer_id != officer.id:
            raise ApiError(409, "not_yours", "Another officer answered this contact.")
        case = await session.get(Case, contact.case_id)
        assert case is not None
        location = await _location(request, session, session_id)
        linked = await session.scalar(
            select(TimelineEvent.id).where(TimelineEvent.key == f"session:{session_id}:linked")
        )
        body = {
            "session_id": session_id,
            "case_id": case.id,
            "token": app[HUB].join_token(session_id, "officer"),
            "channel": contact.channel,
            "service_line": contact.service_line,
            "language": contact.language,
            "anonymous": contact.anonymous,
            "category": case.category,
            "district": case.district,
            "callback_safe": placement_callback(app, session_id),
            "tracking_code": tracking_code.display(case.tracking_code),
            "linked_case": linked is not None,
            "silent": contact.silent,
            "recorded": contact.service_line not in app[SETTINGS].recording_off_lines,
            "location": location,
            "ended_at": contact.ended_at.timestamp() if contact.ended_at else None,
            "chat": await _chat_so_far(request, session, session_id),
        }
    await app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="session.answer",
        object_type="session",
        object_id=session_id,
        address=client_address(request),
        detail={"case_id": contact.case_id, "again": again},
    )
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def placement_callback(app: web.Application, session_id: str) -> bool:
    task = app[ROUTER].board.tasks.get(session_id)
    return bool(task is not None and task.callback_safe)


async def _location(
    request: web.Request, session: AsyncSession, session_id: str
) -> dict[str, object] | None:
    data = await session.scalar(
        select(TimelineEvent.data).where(TimelineEvent.key == f"session:{session_id}:location")
    )
    if not data:
        return None
    sealed = base64.b64decode(data["sealed"])
    location: dict[str, object] = json.loads(request.app[DATA_KEY].open(sealed, LOCATION_FIELD))
    return location


async def _chat_so_far(
    request: web.Request, session: AsyncSession, session_id: str
) -> list[dict[str, str]]:
    """The session's chat messages, opened (a reloaded console shows them again)."""
    rows = await session.scalars(
        select(TimelineEvent.data)
        .where(TimelineEvent.session_id == session_id, TimelineEvent.kind == "chat.message")
        .order_by(TimelineEvent.at, TimelineEvent.id)
    )
    key = request.app[DATA_KEY]
    return [
        {"side": data["from"], "text": key.open(base64.b64decode(data["sealed"]), CHAT_FIELD)}
        for data in rows
    ]


# --- what the hub tells us -------------------------------------------------------------


_ENDED = select(ContactSession.ended_at).where(ContactSession.id == bindparam("id"))


async def _end_contact(app: web.Application, session_id: str, reason: str) -> None:
    """End the contact on its case (once) and take it out of line when nobody answered."""
    # A phone call's contact has usually been ended by its hang-up already: one plain
    # read tells, without a transaction (the write below checks again).
    async with reader(app[ENGINE]).connect() as conn:
        found = (await conn.execute(_ENDED, {"id": session_id})).first()
    if found is None or found.ended_at is not None:
        return
    answered = False
    async with app[DB]() as session, session.begin():
        contact = await session.get(ContactSession, session_id)
        if contact is None or contact.ended_at is not None:
            return
        answered = contact.answered_at is not None
        if not answered:
            disposition = "abandoned"
        elif reason == "dropped":
            disposition = "dropped"
        else:
            disposition = "answered"
        try:
            await end_session(session, contact, disposition=disposition, now=app[CLOCK]())
        except Conflict:
            return
    if not answered:
        try:
            await app[ROUTER].cancel(session_id)
        except Refused as refusal:
            if refusal.code != "unknown_task":  # a callback's ring is never in line
                log.warning("contacts: an ended contact stays in line (%s)", refusal.code)
        except Exception:
            log.exception("contacts: could not take an ended contact out of line")


async def _chat(app: web.Application, event: ChatPosted) -> None:
    sealed = app[DATA_KEY].seal(event.text, CHAT_FIELD)
    async with app[DB]() as session, session.begin():
        case_id = await session.scalar(
            select(ContactSession.case_id).where(ContactSession.id == event.session_id)
        )
        if case_id is None:
            return
        await record_event(
            session,
            key=f"chat:{event.session_id}:{secrets.token_hex(8)}",
            kind="chat.message",
            at=app[CLOCK](),
            session_id=event.session_id,
            case_id=case_id,
            data={"from": event.side, "sealed": base64.b64encode(sealed).decode()},
        )


async def _listen(app: web.Application) -> AsyncIterator[None]:
    """Hear the hub (it calls listeners in tasks of its own, never in a socket's handler,
    and lets them finish before it closes)."""

    async def on_event(event: HubEvent) -> None:
        try:
            if isinstance(event, SessionEnded):
                await _end_contact(app, event.session_id, event.reason)
            elif isinstance(event, ChatPosted):
                await _chat(app, event)
        except Exception:
            log.exception("contacts: could not record a %s", type(event).__name__)

    app[HUB].add_listener(on_event)
    yield


def setup(app: web.Application) -> None:
    app.router.add_post("/api/contacts", start_contact)
    app.router.add_get("/api/contacts/{session_id}", her_place)
    app.router.add_post("/api/contacts/{session_id}/answer", answer)
    # Appended after signaling's and the router's contexts: both exist by then.
    app.cleanup_ctx.append(_listen)
