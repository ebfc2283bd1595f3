"""Callbacks: the officer who accepted a callback task rings her back through Twilio.

``POST /api/phone/callbacks/{task_id}/call`` (the officer holding the task)
opens a new contact on her case, its signaling session, and asks the Calls
resource to ring her number (sealed on her case; she said a callback is
safe) from the neutral caller id, with answering-machine detection. The
officer gets the new session's join token and waits on it as for any call.

When she answers, Twilio fetches ``POST /twilio/ivr/callback-answer``: a
person is connected to the bridge at once (the contact is answered by the
officer who rang); a machine is hung up on, so no voicemail ever names the
police. A callback not answered ends ``missed``, the officer is freed and
her callback goes back in line later for whoever is free
(:mod:`ivr.callback_retries`), up to ``callback_attempts`` rings in all.
``GET /api/phone/callbacks/{task_id}`` tells the console what became of a ring.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from cases.casework import Conflict
from cases.models import Case, Complainant, ContactSession
from cases.sessions import open_details
from cases.tracking_code import TrackingCode
from contacts.request import contact_request
from contacts.service import DESK, VOCABULARY
from ivr import callback_retries, calls, twilio_api
from ivr.models import PhoneCall
from ivr.signature import twilio_form, twilio_webhook
from ivr.twiml import MENU, reply, url
from ivr.webhooks import call_sid
from officers.auth import current_officer
from queues.model import TaskStatus
from queues.service import ROUTER
from safecall.db import reader
from safecall.endpoint import STAFF, endpoint
from safecall.errors import ApiError
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, ENGINE, SETTINGS, client_address
from signaling.events import HubEvent, SessionEnded
from signaling.routes import HUB

log = logging.getLogger(__name__)

TAGS = ["phone"]
MACHINE = ("machine", "fax")
"""``AnsweredBy`` values that are not a person (machine_start, machine_end_beep, fax...)."""


class CallbackOut(BaseModel):
    session_id: str = Field(description="The new contact's session (on the same case).")
    case_id: int = Field(description="Her case, for the console's case panel.")
    tracking_code: str = Field(description="Her case's tracking code (unchanged by a callback).")
    token: str = Field(description="The officer side's join token for /ws.")
    attempt: int = Field(description="1 for the first ring, then 2, 3...")
    attempts_left: int
    callback_times: str | None = Field(description="When she said it suits her, in her words.")


@endpoint(
    "Ring her back for the callback task you accepted (from the neutral number; bridged to "
    "you when she answers, never left on voicemail).",
    roles=STAFF,
    response=CallbackOut,
    status=201,
    errors=[
        "not_yours",
        "not_callback_safe",
        "callback_in_progress",
        "callback_attempts_used",
        "twilio_unavailable",
        "ivr_off",
    ],
    statuses=[502, 503],
    tags=TAGS,
)
async def place_callback(request: web.Request) -> web.Response:
    app = request.app
    if not app[SETTINGS].ivr_enabled or not app[SETTINGS].twilio_caller_id:
        raise ApiError(503, "ivr_off", "The phone line is not configured on this server.")
    officer = current_officer(request)
    task = app[ROUTER].board.tasks.get(request.match_info["task_id"])
    if (
        task is None
        or not task.is_callback
        or task.status != TaskStatus.ASSIGNED
        or task.officer != officer.id
    ):
        raise ApiError(409, "not_yours", "Accept the callback task first; it is not yours.")
    origin = task.session_id
    menu, now = app[MENU], app[CLOCK]()
    async with app[DB]() as session:
        earlier = await session.get(ContactSession, origin)
        assert earlier is not None
        case = await session.get(Case, earlier.case_id)
        assert case is not None
        details = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
    opened = None if details is None else open_details(app[DATA_KEY], details)
    if details is None or opened is None or not opened.phone or not details.callback_safe:
        raise ApiError(409, "not_callback_safe", "She did not say it is safe to call back.")
    number, times, case_id = opened.phone, opened.callback_times, case.id
    attempt = 0

    async def check_rings(session: AsyncSession, contact: ContactSession) -> None:
        """In the same transaction as the new contact: not ringing already, rings left."""
        nonlocal attempt
        tries = await session.scalar(
            select(func.count()).select_from(PhoneCall).where(PhoneCall.origin_session_id == origin)
        )
        ringing = await session.scalar(
            select(PhoneCall.call_sid).where(
                PhoneCall.origin_session_id == origin, PhoneCall.ended_at.is_(None)
            )
        )
        if ringing is not None:
            raise Conflict("callback_in_progress", "Her phone is already ringing.")
        attempt = int(tries or 0) + 1
        if attempt > menu.callback_attempts:
            raise Conflict(
                "callback_attempts_used",
                f"She was rung {menu.callback_attempts} times; complete the task.",
            )

    asked = contact_request(
        app[VOCABULARY],
        line=earlier.service_line,
        channel=calls.CHANNEL,
        language=earlier.language,
        anonymous=False,
        tracking_code=TrackingCode(case.tracking_code),
    )
    contact = await app[DESK].open(asked, queue=False, officer_id=officer.id, write=check_rings)
    new_session, tracking_code = contact.session_id, contact.case_code.digits
    try:
        call_sid = await twilio_api.place_call(
            app,
            number,
            url(app, "ivr/callback-answer"),
            status_callback=url(app, "status"),
            ring_seconds=menu.callback_ring_seconds,
        )
    except (twilio_api.TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("phone: a callback could not be placed (%s)", type(exc).__name__)
        await app[DESK].record_end(new_session, "missed")
        await app[HUB].end_session(new_session, "failed")
        raise ApiError(
            502, "twilio_unavailable", "Twilio could not place the call; try again."
        ) from None
    async with app[DB]() as session, session.begin():
        session.add(
            PhoneCall(
                call_sid=call_sid,
                session_id=new_session,
                direction="callback",
                origin_session_id=origin,
                phone_hash=app[DATA_KEY].phone_hash(number),
                language=earlier.language,
                line=earlier.service_line,
                category=None,
                emergency=False,
                silent=False,
                callback_safe=True,
                state="waiting",
                officer_id=officer.id,
                attempt=attempt,
                created_at=now,
            )
        )
    await app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="session.callback_place",
        object_type="session",
        object_id=new_session,
        address=client_address(request),
        detail={"attempt": attempt, "callback_task": task.id},
    )
    body = CallbackOut(
        session_id=new_session,
        case_id=case_id,
        tracking_code=tracking_code,
        token=await app[DESK].officer_token(new_session, officer.id) or "",
        attempt=attempt,
        attempts_left=menu.callback_attempts - attempt,
        callback_times=times,
    )
    return web.json_response(body.model_dump(), status=201, headers={"Cache-Control": "no-store"})


@twilio_webhook(
    "the callback was picked up (a person is bridged; a machine is hung up on).", "invalid_call"
)
async def callback_answered(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    sid = call_sid(form)
    call = await calls.find_call(app, sid)
    response = VoiceResponse()
    if call is None:
        # Twilio was faster than our own record of the call: ask again in a moment.
        tries = request.query.get("n", "0")
        if tries.isascii() and tries.isdigit() and int(tries) < 5:
            response.pause(length=1)
            response.redirect(url(app, "ivr/callback-answer", f"n={int(tries) + 1}"), method="POST")
        else:
            response.hangup()
        return reply(response)
    answered_by = form.get("AnsweredBy", "")
    if answered_by.startswith(MACHINE):
        await app[DESK].record_end(call.session_id, "missed")
        await app[HUB].end_session(call.session_id, "missed")
        await calls.set_state(app, sid, "ended", was="waiting")
        await callback_retries.ring_ended(app, call)
        response.hangup()
        return reply(response)
    if await calls.claim_bridge(app, call.session_id) != sid or call.officer_id is None:
        response.hangup()
        return reply(response)
    await app[DESK].mark_answered(call.session_id, call.officer_id)
    twiml = twilio_api.bridge_twiml(app, sid, call.session_id, lang=call.language, line=call.line)
    await calls.set_state(app, sid, "bridged", was="bridging")
    return web.Response(text=twiml, content_type="application/xml")


class RingsOut(BaseModel):
    rings: int = Field(description="Rings placed so far for her callback.")
    attempts: int = Field(description="Rings allowed in all (the menu's callback_attempts).")
    outcome: str = Field(
        description="What became of the last ring: none (not rung yet), ringing, answered, "
        "missed (unanswered, the next step a moment away), retry_scheduled (back in line at "
        "next_ring_at), retry_in_line (next_task_id waits for an officer), unreachable "
        "(the last ring went unanswered)."
    )
    next_ring_at: str | None = Field(description="When the next ring goes (went) back in line.")
    next_task_id: str | None = Field(description="The callback task of the next ring.")


@endpoint(
    "What became of the rings for a callback task: answered, ringing, back in line later "
    "(when), or unreachable after the last ring.",
    roles=STAFF,
    response=RingsOut,
    errors=["unknown_callback"],
    statuses=[404],
    tags=TAGS,
)
async def callback_rings(request: web.Request) -> web.Response:
    app = request.app
    origin = callback_retries.origin_of(request.match_info["task_id"])
    async with app[DB]() as session:
        known = origin is not None and await session.get(ContactSession, origin) is not None
        if origin is None or not known:
            raise ApiError(404, "unknown_callback", "There is no such callback task.")
        rings = list(
            (
                await session.scalars(
                    select(PhoneCall)
                    .where(PhoneCall.origin_session_id == origin)
                    .order_by(PhoneCall.attempt)
                )
            ).all()
        )
        last = rings[-1] if rings else None
        contact = await session.get(ContactSession, last.session_id) if last else None
    attempts = app[MENU].callback_attempts
    outcome, next_at, next_task = "none", None, None
    if last is not None and contact is not None:
        retry = await callback_retries.retry_of(app, origin, last.attempt + 1)
        if contact.answered_at is not None:
            outcome = "answered"
        elif last.ended_at is None and last.state != "ended":
            outcome = "ringing"
        elif retry is not None:
            next_task = callback_retries.task_id(origin, retry.attempt)
            outcome = "retry_in_line" if retry.done_at else "retry_scheduled"
            next_at = retry.due_at.isoformat()
        else:
            outcome = "unreachable" if last.attempt >= attempts else "missed"
    body = RingsOut(
        rings=len(rings),
        attempts=attempts,
        outcome=outcome,
        next_ring_at=next_at,
        next_task_id=next_task,
    )
    return web.json_response(body.model_dump(), headers={"Cache-Control": "no-store"})


_RINGING = select(PhoneCall.call_sid).where(
    PhoneCall.session_id == bindparam("id"),
    PhoneCall.direction == "callback",
    PhoneCall.state == "waiting",
    PhoneCall.ended_at.is_(None),
)


async def cancel_rings_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry: an officer who hangs up while her phone still rings stops
    the ring, so she never picks up to a line nobody is on (Twilio's status callback then
    ends the ring as any unanswered one)."""

    async def on_event(event: HubEvent) -> None:
        if not isinstance(event, SessionEnded):
            return
        try:
            # Every session's end asks (a plain read, no transaction): few are rings.
            async with reader(app[ENGINE]).connect() as conn:
                sid = await conn.scalar(_RINGING, {"id": event.session_id})
            if sid is not None:
                await twilio_api.hang_up(app, sid)
        except Exception:
            log.exception("phone: could not stop an unanswered callback ring")

    app[HUB].add_listener(on_event)
    yield


def setup(app: web.Application) -> None:
    app.router.add_post("/api/phone/callbacks/{task_id}/call", place_callback)
    app.router.add_get("/api/phone/callbacks/{task_id}", callback_rings)
    app.router.add_post("/twilio/ivr/callback-answer", callback_answered)
