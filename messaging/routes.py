"""Her choices and her updates on HTTP; Twilio's delivery receipts; the loops that write and
send updates.

- ``PUT /api/cases/{id}/updates`` — the officer records what she chose (she told her);
- ``PUT /api/contacts/{id}/updates`` — she chooses at the end of her contact (her token);
- ``GET /api/cases/{id}/updates`` — her choice and the messages so far, with receipts;
- ``POST /api/cases/{id}/steps`` — a court step (challan, hearing date) for her updates;
- ``POST /api/track/updates/stop`` — she stops them on /track (her code and PIN);
- ``POST /twilio/messaging/status`` — Twilio's receipts (signed).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cases.casework import can_read
from cases.models import Case, ContactSession
from cases.timeline import record_event
from contacts.service import TRACKING
from contacts.tracking import Asker, PinWrong
from ivr.signature import twilio_form, twilio_webhook
from messaging import sender
from messaging.choices import choice
from messaging.models import OutboundMessage, UpdateChoice
from messaging.service import PHONE_FIELD, Messenger
from messaging.texts import Texts
from officers.auth import current_officer
from safecall.background import Periodic
from safecall.endpoint import STAFF, endpoint
from safecall.errors import read_body
from safecall.refusals import Invalid, NotFound, Unavailable
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, SETTINGS, client_address
from sealing.data_key import mask_phone
from signaling.routes import her_session

MESSENGER = web.AppKey("messenger", Messenger)
TAGS = ["messaging"]
NO_STORE = {"Cache-Control": "no-store"}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@dataclass(frozen=True)
class LoopConfig:
    every: float = 5.0
    """Seconds between looks for new case steps and for messages whose time has come."""


LOOP = web.AppKey("messaging_loop", LoopConfig)


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["none", "track", "sms", "whatsapp"]
    language: Literal["ur", "en", "pa"] | None = Field(
        default=None, description="Default: her contact's language."
    )
    phone: str | None = Field(default=None, max_length=32)
    name_police: bool = Field(default=False, description="Messages may say 'police'.")
    safe_times: list[list[str]] | None = Field(
        default=None, description='Local windows: [["10:00", "12:00"], ...].'
    )
    any_time: bool = False


class ChoiceOut(BaseModel):
    case_id: int
    channel: str
    language: str
    phone: str | None = Field(description="Masked.")
    name_police: bool
    safe_times: list[list[str]]
    stopped: bool


class MessageOut(BaseModel):
    id: int
    purpose: str
    step: str | None
    channel: str
    status: str
    due_at: str
    sent_at: str | None
    error_code: str | None


class UpdatesOut(BaseModel):
    choice: ChoiceOut | None
    messages: list[MessageOut]


def _view(app: web.Application, row: UpdateChoice) -> dict[str, object]:
    phone = app[DATA_KEY].open_optional(row.phone_sealed, PHONE_FIELD)
    return ChoiceOut(
        case_id=row.case_id,
        channel=row.channel,
        language=row.language,
        phone=None if phone is None else mask_phone(phone),
        name_police=row.name_police,
        safe_times=row.safe_times,
        stopped=row.stopped_at is not None,
    ).model_dump()


def _checked(app: web.Application, body: ChoiceIn, language: str) -> object:
    chosen = choice(
        channel=body.channel,
        language=body.language or language,
        phone=body.phone,
        name_police=body.name_police,
        safe_times=body.safe_times,
        any_time=body.any_time,
    )
    if chosen.sends and chosen.channel not in sender.senders(app):
        raise Unavailable(
            "channel_off", f"{chosen.channel.upper()} messages are not set up on this server."
        )
    return chosen


async def _readable_case(request: web.Request) -> Case:
    raw = request.match_info["case_id"]
    officer = current_officer(request)
    async with request.app[DB]() as session:
        case = await session.get(Case, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if case is None or not can_read(officer, case):
        raise NotFound("case_not_found", "There is no case with that id that you can see.")
    return case


CHOICE_ERRORS = [
    "case_not_found",
    "unknown_channel",
    "phone_required",
    "invalid_phone",
    "invalid_safe_times",
    "channel_off",
]


@endpoint(
    "Record how she chose to be kept informed (she told the officer).",
    roles=STAFF,
    body=ChoiceIn,
    response=ChoiceOut,
    errors=CHOICE_ERRORS,
    tags=TAGS,
)
async def officer_choice(request: web.Request) -> web.Response:
    body = await read_body(request, ChoiceIn)
    case = await _readable_case(request)
    async with request.app[DB]() as session:
        language = await session.scalar(
            select(ContactSession.language)
            .where(ContactSession.case_id == case.id)
            .order_by(ContactSession.arrived_at.desc())
            .limit(1)
        )
    chosen = _checked(request.app, body, language or "ur")
    row = await request.app[MESSENGER].choose(case.id, chosen, "officer")  # type: ignore[arg-type]
    officer = current_officer(request)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="case.updates_chosen",
        object_type="case",
        object_id=str(case.id),
        address=client_address(request),
        detail={"channel": body.channel},
    )
    return web.json_response(_view(request.app, row), headers=NO_STORE)


@endpoint(
    "At the end of her contact, she chooses how she may be kept informed (send her token in "
    "Authorization: Bearer).",
    public=True,
    body=ChoiceIn,
    response=ChoiceOut,
    errors=["invalid_session_token", *CHOICE_ERRORS],
    statuses=[401],
    tags=TAGS,
)
async def her_choice(request: web.Request) -> web.Response:
    session_id = await her_session(request)
    body = await read_body(request, ChoiceIn)
    async with request.app[DB]() as session:
        contact = await session.get(ContactSession, session_id)
    if contact is None:
        raise NotFound("contact_not_found", "There is no such contact.")
    chosen = _checked(request.app, body, contact.language)
    row = await request.app[MESSENGER].choose(contact.case_id, chosen, "her")  # type: ignore[arg-type]
    await request.app[AUDIT].record(
        actor_kind="public",
        officer_id=None,
        action="case.updates_chosen",
        object_type="case",
        object_id=str(contact.case_id),
        address=None,  # anonymous means anonymous
        detail={"channel": body.channel},
    )
    return web.json_response(_view(request.app, row), headers=NO_STORE)


@endpoint(
    "Her choice and the updates sent or waiting for her safe time, with their receipts.",
    roles=STAFF,
    response=UpdatesOut,
    errors=["case_not_found"],
    tags=TAGS,
)
async def case_updates(request: web.Request) -> web.Response:
    case = await _readable_case(request)
    async with request.app[DB]() as session:
        row = await session.get(UpdateChoice, case.id)
        messages = await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.case_id == case.id)
            .order_by(OutboundMessage.id)
        )
        listed = [
            MessageOut(
                id=m.id,
                purpose=m.purpose,
                step=m.step,
                channel=m.channel,
                status=m.status,
                due_at=m.due_at.isoformat(),
                sent_at=None if m.sent_at is None else m.sent_at.isoformat(),
                error_code=m.error_code,
            ).model_dump()
            for m in messages
        ]
    out = {"choice": None if row is None else _view(request.app, row), "messages": listed}
    return web.json_response(out, headers=NO_STORE)


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: Literal["challan", "hearing_date"]
    date: str | None = Field(default=None, description="YYYY-MM-DD (a hearing's date).")


@endpoint(
    "Record a court step of the case (challan submitted, a hearing's date): it reaches her "
    "updates and her timeline on /track.",
    roles=STAFF,
    body=StepIn,
    status=201,
    errors=["case_not_found", "invalid_date"],
    tags=TAGS,
)
async def case_step(request: web.Request) -> web.Response:
    body = await read_body(request, StepIn)
    case = await _readable_case(request)
    day = None
    if body.step == "hearing_date":
        try:
            day = date.fromisoformat(body.date or "")
        except ValueError:
            raise Invalid("invalid_date", "A hearing date is YYYY-MM-DD.") from None
    officer = current_officer(request)
    now = request.app[CLOCK]()
    async with request.app[DB]() as session, session.begin():
        await record_event(
            session,
            key=f"case:{case.id}:step:{secrets.token_hex(8)}",
            kind="case.step",
            at=now,
            case_id=case.id,
            officer_id=officer.id,
            data={"step": body.step, **({"date": day.strftime("%d-%m-%Y")} if day else {})},
            complainant_visible=True,
        )
    return web.json_response({"step": body.step}, status=201)


class StopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=4096, description="Her tracking code.")
    pin: str = Field(max_length=64, description="Her PIN.")


@endpoint(
    "Stop the updates of her case from /track (her code and PIN).",
    public=True,
    body=StopIn,
    errors=["invalid_tracking_code", "tracking_code_unknown", "pin_wrong", "too_many_attempts"],
    tags=TAGS,
)
async def stop_from_track(request: web.Request) -> web.Response:
    body = await read_body(request, StopIn)
    if not body.pin.strip():
        raise PinWrong(0.0)
    found = await request.app[TRACKING].find(
        body.code, Asker.address(client_address(request)), pin=body.pin
    )
    stopped = await request.app[MESSENGER].stop(via="track", case_id=found.case.id)
    return web.json_response({"stopped": stopped > 0}, headers=NO_STORE)


@twilio_webhook("a message's delivery receipt (MessageStatus).")
async def receipt(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    await request.app[MESSENGER].receipt(
        form.get("MessageSid", ""), form.get("MessageStatus", ""), form.get("ErrorCode")
    )
    return web.Response(text=EMPTY_TWIML, content_type="application/xml")


async def messenger_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the database's and Twilio's client): the messenger and
    its loop (case steps into held messages, due messages out)."""

    async def send(channel: str, to: str, body: str, template: bool) -> sender.Sent:
        return await sender.send(app, channel, to, body, template=template)

    messenger = Messenger(
        db=app[DB],
        data_key=app[DATA_KEY],
        clock=app[CLOCK],
        zone=ZoneInfo(app[SETTINGS].time_zone),
        texts=Texts.load(),
        send=send,
    )
    app[MESSENGER] = messenger

    async def step() -> None:
        await messenger.write_updates()
        await messenger.send_due()

    async with Periodic(
        step,
        every=app[LOOP].every,
        name="messaging",
        failure="messaging loop failed; trying again shortly",
        jitter=0.1,
    ):
        yield


def setup(app: web.Application) -> None:
    Texts.load()  # a gap in the texts stops the server now, not at the first update
    app[LOOP] = LoopConfig()
    app.router.add_put("/api/cases/{case_id}/updates", officer_choice)
    app.router.add_get("/api/cases/{case_id}/updates", case_updates)
    app.router.add_post("/api/cases/{case_id}/steps", case_step)
    app.router.add_put("/api/contacts/{session_id}/updates", her_choice)
    app.router.add_post("/api/track/updates/stop", stop_from_track)
    app.router.add_post("/twilio/messaging/status", receipt)
