"""Handing a phone call over to the 15 control or a station, by conference or transfer.

The officer's voice reaches the phone network only through her call's own two-way Media
Stream (``<Connect><Stream>``, the bridge); a call in a Twilio conference cannot hold one
(``<Connect>`` and ``<Dial>`` are verbs of the same call, one at a time). So the officer
stays with her on the bridge while the receiving side is rung, and leaves as she joins it:

1. ``POST /api/phone/contacts/{id}/handoff`` rings the receiving number through the Calls
   resource. When it answers it hears the briefing first (the case code digit by digit,
   the urgency, the line and the district, with ``<Say>``), then waits in a conference
   room named after the handoff (no one's data in the name).
   - ``conference``: the officer tells her what happens while the room fills; the console
     shows "waiting" once the receiver is in the room (Twilio's conference callbacks);
   - ``transfer``: she is moved into the room at once; the officer leaves at once.
2. ``POST /api/phone/handoffs/{id}/join`` (conference) moves her call into the room
   (``Calls(sid).update`` with ``<Dial><Conference>``): her Media Stream stops, the bridge
   hears ``stop`` and her contact ends ``transferred``; she and the receiver talk; the room
   ends when either hangs up.

Every step is an event on her contact's timeline (``handoff.*``), which is also the
handoff's state: any process can answer for it.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from twilio.twiml.voice_response import Dial, VoiceResponse

from cases.models import Case, ContactSession, Leg, TimelineEvent
from cases.timeline import record_event
from contacts.service import DESK
from ivr import twilio_api
from ivr.signature import public_url, twilio_form, twilio_webhook
from officers.auth import current_officer
from places.model import Kind
from places.routes import PLACES
from safecall.endpoint import STAFF, endpoint
from safecall.errors import read_body
from safecall.refusals import Conflict, Invalid, NotFound, Unavailable
from safecall.state import AUDIT, CLOCK, DB, SETTINGS, client_address

log = logging.getLogger(__name__)

ROOM_PREFIX = "safecall-handoff-"
RING_SECONDS = 30
TAGS = ["phone"]
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
CONNECTING = {
    "ur": "آپ کو ملایا جا رہا ہے۔ لائن پر رہیں۔",
    "en": "You are being connected. Please stay on the line.",
    "pa": "تہانوں ملایا جا رہیا اے۔ لائن تے رہو۔",
}
VOICES = {"ur": "ur-IN", "en": "en-GB", "pa": "pa-IN"}
MESSAGES = {
    "calling": "Ringing {target}; stay with her.",
    "waiting": "{target} has heard the briefing and is waiting: join her to them.",
    "joined": "She is talking with {target}. You have left the call.",
    "failed": "{target} did not answer; stay with her, try again or call another number.",
    "ended": "The handed-over call has ended.",
}


class HandoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(max_length=64, description="'control' (the 15 control) or a station's code.")
    mode: str = Field(pattern="^(conference|transfer)$")
    urgency: str = Field(
        default="emergency", pattern="^(emergency|today|routine)$", description="Said first."
    )


class HandoffOut(BaseModel):
    id: str
    status: str = Field(description="calling | waiting | joined | failed | ended")
    message: str


def _room(handoff_id: str) -> str:
    return ROOM_PREFIX + handoff_id


def _conference(dial: Dial, room: str, callback: str, *, end_on_exit: bool) -> None:
    dial.conference(
        room,
        beep="false",
        start_conference_on_enter="true",
        end_conference_on_exit="true" if end_on_exit else "false",
        wait_url="",
        status_callback=callback,
        status_callback_event="start end join leave",
    )


def _briefing(code: str, urgency: str, line: str, district: str | None) -> str:
    digits = " ".join(code.replace(" ", ""))
    where = f" District {district.replace('_', ' ')}." if district else ""
    return (
        f"Safecall handoff. Case code {digits}. I repeat, {digits}. {urgency.capitalize()}. "
        f"{line.capitalize()} line.{where} The caller is joining you now."
    )


@endpoint(
    "Hand the phone call you hold over to the 15 control or a station: conference (you stay "
    "until they answer, then join her to them) or transfer (she goes at once).",
    roles=STAFF,
    body=HandoffIn,
    response=HandoffOut,
    status=201,
    errors=[
        "not_yours",
        "not_on_the_phone",
        "unknown_place",
        "no_number",
        "twilio_unavailable",
        "ivr_off",
    ],
    statuses=[502, 503],
    tags=TAGS,
)
async def start(request: web.Request) -> web.Response:
    app = request.app
    body = await read_body(request, HandoffIn)
    settings = app[SETTINGS]
    if not settings.ivr_enabled or not settings.twilio_caller_id:
        raise Unavailable("ivr_off", "The phone line is not configured on this server.")
    officer = current_officer(request)
    session_id = request.match_info["session_id"]
    contact, case, call_sid = await _live_call(app, session_id, officer.id)
    directory = app[PLACES]
    target = directory.control(case.district) if body.to == "control" else directory.get(body.to)
    if target is None or target.kind not in (Kind.CONTROL, Kind.STATION, Kind.DISTRICT_OFFICE):
        raise Invalid("unknown_place", "Choose the 15 control or a station from the list.")
    number = target.duty_phone
    if number is None:
        raise Invalid("no_number", f"The directory has no duty number for {target.name}.")
    handoff_id = secrets.token_hex(12)
    room = _room(handoff_id)
    callback = public_url(settings, "/twilio/handoff/conference")
    urgency = body.urgency
    receiver = VoiceResponse()
    receiver.say(
        _briefing(case.tracking_code, urgency, case.service_line, case.district), language="en-GB"
    )
    _conference(receiver.dial(), room, callback, end_on_exit=True)
    now = app[CLOCK]()
    try:
        created = await twilio_api.client(app).calls.create_async(
            to=number,
            from_=settings.twilio_caller_id,
            twiml=str(receiver),
            timeout=RING_SECONDS,
            status_callback=public_url(settings, "/twilio/handoff/call"),
            status_callback_event=["completed"],
        )
        receiver_sid = str(created.sid)
        if body.mode == "transfer":
            await _move_her(app, call_sid, room, contact.language)
    except (twilio_api.TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("handoff: Twilio refused the handoff (%s)", type(exc).__name__)
        raise Unavailable(
            "twilio_unavailable", "Twilio could not place the call; try again."
        ) from None
    async with app[DB]() as session, session.begin():
        await record_event(
            session,
            key=f"handoff:{handoff_id}:started",
            kind="handoff.started",
            at=now,
            session_id=session_id,
            case_id=case.id,
            officer_id=officer.id,
            data={
                "handoff_id": handoff_id,
                "mode": body.mode,
                "place": target.code,
                "target": target.name,
                "receiver_call": receiver_sid,
                "caller_call": call_sid,
            },
        )
    if body.mode == "transfer":
        await _left(app, session_id, case.id, handoff_id, officer.id)
    await app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action=f"handoff.{body.mode}",
        object_type="session",
        object_id=session_id,
        address=client_address(request),
        detail={"place": target.code},
    )
    return web.json_response(await _state(app, handoff_id), status=201)


async def _live_call(
    app: web.Application, session_id: str, officer_id: int
) -> tuple[ContactSession, Case, str]:
    async with app[DB]() as session:
        contact = await session.get(ContactSession, session_id) if len(session_id) <= 32 else None
        if contact is None or contact.officer_id != officer_id:
            raise Conflict("not_yours", "Only the officer on the call may hand it over.")
        leg = await session.scalar(
            select(Leg.external_id)
            .where(Leg.session_id == session_id, Leg.external_id.is_not(None))
            .order_by(Leg.id)
            .limit(1)
        )
        case = await session.get(Case, contact.case_id)
    if contact.channel != "phone" or contact.ended_at is not None or leg is None or case is None:
        raise Conflict("not_on_the_phone", "This contact is not a live phone call.")
    return contact, case, str(leg)


async def _move_her(app: web.Application, call_sid: str, room: str, language: str) -> None:
    settings = app[SETTINGS]
    her = VoiceResponse()
    her.say(CONNECTING.get(language, CONNECTING["en"]), language=VOICES.get(language, "en-GB"))
    _conference(
        her.dial(), room, public_url(settings, "/twilio/handoff/conference"), end_on_exit=True
    )
    await twilio_api.client(app).calls(call_sid).update_async(twiml=str(her))


async def _left(
    app: web.Application, session_id: str, case_id: int, handoff_id: str, officer_id: int
) -> None:
    """Her contact ends ``transferred`` (before her stream stops, so the bridge's hang-up
    finds it ended and changes nothing)."""
    await app[DESK].record_end(session_id, "transferred")
    async with app[DB]() as session, session.begin():
        await record_event(
            session,
            key=f"handoff:{handoff_id}:officer_left",
            kind="handoff.officer_left",
            at=app[CLOCK](),
            session_id=session_id,
            case_id=case_id,
            officer_id=officer_id,
            data={"handoff_id": handoff_id},
        )


async def _events(app: web.Application, handoff_id: str) -> dict[str, dict[str, Any]]:
    async with app[DB]() as session:
        rows = await session.execute(
            select(
                TimelineEvent.kind,
                TimelineEvent.data,
                TimelineEvent.session_id,
                TimelineEvent.case_id,
                TimelineEvent.officer_id,
            )
            .where(TimelineEvent.key.like(f"handoff:{handoff_id}:%"))
            .order_by(TimelineEvent.id)
        )
        return {
            row.kind: {
                **row.data,
                "session_id": row.session_id,
                "case_id": row.case_id,
                "officer_id": row.officer_id,
            }
            for row in rows
        }


async def _state(app: web.Application, handoff_id: str) -> dict[str, str]:
    seen = await _events(app, handoff_id)
    started = seen.get("handoff.started")
    if started is None:
        raise NotFound("handoff_not_found", "There is no such handoff.")
    status = "calling"
    if "handoff.receiver_joined" in seen:
        status = "waiting"
    if "handoff.caller_joined" in seen:
        status = "joined"
    if "handoff.failed" in seen and status == "calling":
        status = "failed"
    if "handoff.ended" in seen and status != "joined":
        status = "ended" if status != "failed" else status
    message = MESSAGES[status].format(target=started["target"])
    return HandoffOut(id=handoff_id, status=status, message=message).model_dump()


@endpoint(
    "Where a handoff stands (calling, waiting in the room, joined, failed, ended).",
    roles=STAFF,
    response=HandoffOut,
    errors=["handoff_not_found"],
    tags=TAGS,
)
async def state(request: web.Request) -> web.Response:
    return web.json_response(
        await _state(request.app, request.match_info["handoff_id"]),
        headers={"Cache-Control": "no-store"},
    )


@endpoint(
    "Join her to the receiving side waiting in the room, and leave the call.",
    roles=STAFF,
    response=HandoffOut,
    errors=["handoff_not_found", "not_yours", "not_waiting", "twilio_unavailable"],
    statuses=[503],
    tags=TAGS,
)
async def join(request: web.Request) -> web.Response:
    app = request.app
    handoff_id = request.match_info["handoff_id"]
    officer = current_officer(request)
    seen = await _events(app, handoff_id)
    started = seen.get("handoff.started")
    if started is None or started["officer_id"] != officer.id:
        raise NotFound("handoff_not_found", "There is no such handoff of yours.")
    if (await _state(app, handoff_id))["status"] != "waiting":
        raise Conflict("not_waiting", "The receiving side is not waiting in the room now.")
    session_id = str(started["session_id"])
    async with app[DB]() as session:
        contact = await session.get(ContactSession, session_id)
    language = contact.language if contact is not None else "en"
    await _left(app, session_id, int(started["case_id"]), handoff_id, officer.id)
    try:
        await _move_her(app, str(started["caller_call"]), _room(handoff_id), language)
    except (twilio_api.TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("handoff: her call could not be moved (%s)", type(exc).__name__)
        raise Unavailable("twilio_unavailable", "Twilio could not move her call.") from None
    await app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="handoff.join",
        object_type="session",
        object_id=session_id,
        address=client_address(request),
    )
    return web.json_response(await _state(app, handoff_id))


@twilio_webhook("a handoff room's conference events (join, leave, start, end).")
async def conference_event(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    name = form.get("FriendlyName", "")
    if not name.startswith(ROOM_PREFIX):
        return web.Response(text=EMPTY, content_type="application/xml")
    handoff_id = name[len(ROOM_PREFIX) :][:32]
    seen = await _events(request.app, handoff_id)
    started = seen.get("handoff.started")
    if started is None:
        return web.Response(text=EMPTY, content_type="application/xml")
    event, call_sid = form.get("StatusCallbackEvent", ""), form.get("CallSid", "")
    kind = None
    if event == "participant-join" and call_sid == started["receiver_call"]:
        kind = "handoff.receiver_joined"
    elif event == "participant-join" and call_sid == started["caller_call"]:
        kind = "handoff.caller_joined"
    elif event == "conference-end":
        kind = "handoff.ended"
    if kind is not None:
        await _note(request.app, handoff_id, kind, started, {"event": event})
    return web.Response(text=EMPTY, content_type="application/xml")


@twilio_webhook("a handoff's receiving call ended (unanswered, busy, failed or completed).")
async def receiver_call(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    status, call_sid = form.get("CallStatus", ""), form.get("CallSid", "")
    async with request.app[DB]() as session:
        key = await session.scalar(
            select(TimelineEvent.key).where(
                TimelineEvent.kind == "handoff.started",
                TimelineEvent.data["receiver_call"].as_string() == call_sid,
            )
        )
    if key is not None and status in ("busy", "no-answer", "failed", "canceled"):
        handoff_id = key.split(":")[1]
        started = (await _events(request.app, handoff_id))["handoff.started"]
        await _note(request.app, handoff_id, "handoff.failed", started, {"status": status})
    return web.Response(text=EMPTY, content_type="application/xml")


async def _note(
    app: web.Application, handoff_id: str, kind: str, started: dict[str, Any], data: dict[str, str]
) -> None:
    async with app[DB]() as session, session.begin():
        await record_event(
            session,
            key=f"handoff:{handoff_id}:{kind.split('.')[1]}",
            kind=kind,
            at=app[CLOCK](),
            session_id=started["session_id"],
            case_id=started["case_id"],
            data={"handoff_id": handoff_id, **data},
        )


def setup(app: web.Application) -> None:
    app.router.add_post("/api/phone/contacts/{session_id}/handoff", start)
    app.router.add_get("/api/phone/handoffs/{handoff_id}", state)
    app.router.add_post("/api/phone/handoffs/{handoff_id}/join", join)
    app.router.add_post("/twilio/handoff/conference", conference_event)
    app.router.add_post("/twilio/handoff/call", receiver_call)
