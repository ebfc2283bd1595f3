"""Browser contacts on HTTP: her intake, her place in line, the officer's answer.

``POST /api/contacts`` (public) turns her intake into a
:class:`~contacts.request.ContactRequest` and asks the contact desk to open it
(:meth:`contacts.desk.Desk.open`: a session on a case, her join token, a place
in line); it answers with the session id, a tracking code and her join token
(the page keeps it in memory only). With that token she asks
``GET /api/contacts/{id}`` for her place in line and joins ``/ws``.

The tracking code in the answer is the one she gave, whether or not it
matched a case (the answer must not tell a guesser which codes exist; the
officer tells her in the conversation), or her new case's.

An officer accepts an offer through the queues API, then asks
``POST /api/contacts/{id}/answer`` for the officer side's join token
(:meth:`contacts.desk.Desk.answer`): only the officer the contact is assigned
to gets it. She may ask again (a reload): the same token, with the chat so far
and, once the call is over, when it ended (her wrap-up is timed from it).

Join tokens are derived from a secret every process shares (the hub's), so
the officer may ask any process for hers.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contacts import request as contact
from contacts.desk import Answered
from contacts.service import DESK, VOCABULARY
from officers.auth import current_officer
from queues.router import Placement
from queues.service import ROUTER
from safecall.endpoint import STAFF, endpoint
from safecall.errors import ApiError, read_body
from safecall.state import AUDIT, SETTINGS, client_address
from signaling.hub import token_hash
from signaling.routes import HUB

TAGS = ["contacts"]
CHANNELS = {"video": "browser_video", "audio": "browser_audio", "chat": "chat"}


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy: float | None = Field(default=None, ge=0, le=1_000_000, description="Metres.")


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_line: str = Field(max_length=16, description="women or child.")
    channel: Literal["video", "audio", "chat"]
    language: Literal["ur", "en", "pa"] = "ur"
    category: str | None = Field(default=None, max_length=40)
    district: str | None = Field(
        default=None, max_length=64, description="A district's code, from GET /api/districts."
    )
    anonymous: bool = True
    name: str | None = Field(default=None, max_length=120)
    phone: str | None = Field(default=None, max_length=32)
    callback_safe: bool = False
    callback_times: str | None = Field(default=None, max_length=120)
    tracking_code: str | None = Field(
        default=None,
        max_length=64,
        description="The code of an earlier contact: 12 digits; spaces, dashes and Urdu "
        "digits allowed.",
    )
    location: Location | None = None


class ContactOut(BaseModel):
    session_id: str
    tracking_code: str = Field(
        description="Display form, e.g. 1234 5678 9012: the code she gave (whether or not it "
        "matched a case), or her new case's."
    )
    token: str = Field(description="Her join token for /ws; keep it in memory only.")
    channel: str


class PlaceOut(BaseModel):
    status: str = Field(description="waiting, offered, assigned, or how it ended.")
    position: int | None
    estimated_wait: float | None = Field(description="Seconds; null when not known.")


class ChatLine(BaseModel):
    side: Literal["citizen", "officer"]
    text: str


class StatementOut(BaseModel):
    name: str | None
    phone: str | None
    callback_safe: bool
    callback_times: str | None


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
    code_unmatched: bool = Field(
        description="She gave a code that matched no case: this contact opened a new case; "
        "tell her its code (she was not told)."
    )
    statement: StatementOut | None = Field(
        description="What a returning complainant said about herself on this contact: "
        "unconfirmed, never written over the case by itself."
    )
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


def _statement(body: ContactIn) -> contact.Statement | None:
    statement = contact.Statement(
        name=body.name or None,
        phone=body.phone or None,
        callback_safe=body.callback_safe,
        callback_times=body.callback_times or None,
    )
    return None if statement.empty else statement


@endpoint(
    "Start a browser contact (video, audio or chat): opens it on a case, puts it in line "
    "and opens its call. Only the service line and the channel are needed.",
    public=True,
    body=ContactIn,
    response=ContactOut,
    status=201,
    errors=[
        "unknown_service_line",
        "invalid_tracking_code",
        "anonymous_with_details",
        "callback_needs_phone",
        "invalid_phone",
        "invalid_name",
        "invalid_callback_times",
        "invalid_location",
        "unknown_category",
        "unknown_district",
        "going_away",
        "not_ready",
    ],
    statuses=[503],
    tags=TAGS,
)
async def start_contact(request: web.Request) -> web.Response:
    body = await read_body(request, ContactIn)
    app = request.app
    location = None
    if body.location is not None:
        where = body.location
        location = contact.Location(where.latitude, where.longitude, where.accuracy)
    asked = contact.contact_request(
        app[VOCABULARY],
        line=body.service_line,
        channel=CHANNELS[body.channel],
        language=body.language,
        category=body.category or None,
        district=body.district,
        anonymous=body.anonymous,
        statement=_statement(body),
        tracking_code=body.tracking_code,
        location=location,
        silent=body.channel == "chat",
    )
    opened = await app[DESK].open(asked)
    out = ContactOut(
        session_id=opened.session_id,
        tracking_code=opened.code_for_her(asked).display(),
        token=opened.citizen_token,
        channel=body.channel,
    )
    return web.json_response(out.model_dump(), status=201, headers={"Cache-Control": "no-store"})


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
    answered = await app[DESK].answer(session_id, officer.id)
    await app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="session.answer",
        object_type="session",
        object_id=session_id,
        address=client_address(request),
        detail={"case_id": answered.case_id, "again": answered.again},
    )
    body = _answer_out(app, answered)
    return web.json_response(body.model_dump(), headers={"Cache-Control": "no-store"})


def _answer_out(app: web.Application, answered: Answered) -> AnswerOut:
    said = answered.statement
    return AnswerOut(
        session_id=answered.session_id,
        case_id=answered.case_id,
        token=app[HUB].join_token(answered.session_id, "officer"),
        channel=answered.channel,
        service_line=answered.service_line,
        language=answered.language,
        anonymous=answered.anonymous,
        category=answered.category,
        district=answered.district,
        callback_safe=placement_callback(app, answered.session_id),
        tracking_code=answered.tracking_code.display(),
        linked_case=answered.linked_case,
        code_unmatched=answered.code_unmatched,
        statement=None
        if said is None
        else StatementOut(
            name=said.name,
            phone=said.phone,
            callback_safe=said.callback_safe,
            callback_times=said.callback_times,
        ),
        silent=answered.silent,
        recorded=answered.service_line not in app[SETTINGS].recording_off_lines,
        location=None if answered.location is None else Location.model_validate(answered.location),
        ended_at=None if answered.ended_at is None else answered.ended_at.timestamp(),
        chat=[ChatLine(side=side, text=text) for side, text in answered.chat],
    )


def placement_callback(app: web.Application, session_id: str) -> bool:
    task = app[ROUTER].board.tasks.get(session_id)
    return bool(task is not None and task.callback_safe)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/contacts", start_contact)
    app.router.add_get("/api/contacts/{session_id}", her_place)
    app.router.add_post("/api/contacts/{session_id}/answer", answer)
