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

The officer's side of a contact (answering it) is in :mod:`contacts.routes`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contacts import request as contact
from contacts.service import DESK, INTAKE_LIMITS, TRACKING, VOCABULARY
from contacts.tracking import Asker
from queues.router import Placement
from queues.service import ROUTER
from safecall.endpoint import endpoint
from safecall.errors import read_body
from safecall.state import AUDIT, CLOCK, client_address
from signaling.routes import CONFIG, her_session

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
    sos: bool = Field(
        default=False,
        description="The app's one-tap SOS: an emergency voice call (or chat) on the women's "
        "line, on a new case (no tracking code).",
    )


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
        "sos_line",
        "sos_channel",
        "sos_with_code",
        "unknown_category",
        "unknown_district",
        "intake_busy",
        "going_away",
        "not_ready",
    ],
    statuses=[429, 503],
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
        sos=body.sos,
    )
    await app[INTAKE_LIMITS].admit(client_address(request), app[CLOCK]().timestamp())
    asked = await _code_checked(request, asked)
    opened = await app[DESK].open(asked, join_within=app[CONFIG].citizen_join_seconds)
    if asked.tracking_code is not None and not opened.linked:
        # A code that matched nothing is a guess as far as tracking is concerned: charged
        # to the same limits as /track, though the answer is the same as for a match.
        await app[TRACKING].miss(Asker.address(client_address(request)))
    out = ContactOut(
        session_id=opened.session_id,
        tracking_code=opened.code_for_her(asked).display(),
        token=opened.citizen_token,
        channel=body.channel,
    )
    return web.json_response(out.model_dump(), status=201, headers={"Cache-Control": "no-store"})


async def _code_checked(
    request: web.Request, asked: contact.ContactRequest
) -> contact.ContactRequest:
    """Her request, without the code she gave when her network has used up its lookups:
    help is never refused for it (the contact opens on a new case, the officer links it)."""
    if asked.tracking_code is None:
        return asked
    app = request.app
    refusal = await app[TRACKING].limiter.admit(client_address(request), app[CLOCK]())
    return asked if refusal is None else dataclasses.replace(asked, tracking_code=None)


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
    session_id = await her_session(request)
    placement = request.app[ROUTER].placement(session_id)
    return web.json_response(_place(placement), headers={"Cache-Control": "no-store"})


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pin: str = Field(max_length=64, description="4 to 8 digits (Urdu digits allowed).")


class PinOut(BaseModel):
    set: bool


@endpoint(
    "At the end of her contact, she sets the PIN that unlocks her case's timeline on /track "
    "(send her token in Authorization: Bearer). Only on the contact that opened the case, "
    "and only once: a PIN is changed on /track with the old one.",
    public=True,
    body=PinIn,
    response=PinOut,
    errors=["invalid_session_token", "invalid_pin", "pin_already_set", "not_this_contacts_case"],
    statuses=[409],
    tags=TAGS,
)
async def set_pin(request: web.Request) -> web.Response:
    session_id = await her_session(request)
    body = await read_body(request, PinIn)
    case_id = await request.app[DESK].set_pin(session_id, body.pin)
    await request.app[AUDIT].record(
        actor_kind="public",
        officer_id=None,
        action="case.pin_set",
        object_type="case",
        object_id=str(case_id),
        address=None,  # anonymous means anonymous
        detail={"session_id": session_id},
    )
    return web.json_response(PinOut(set=True).model_dump(), headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/contacts", start_contact)
    app.router.add_get("/api/contacts/{session_id}", her_place)
    app.router.add_post("/api/contacts/{session_id}/pin", set_pin)
