"""Track a case by phone: she types her 12-digit code (and her PIN when she set one).

She hears the case's coarse status (the words of :mod:`cases.public_view`,
recorded per language), then the line question again, so she can still talk
to an officer. A code that matches nothing and a wrong PIN sound the same.
Wrong tries are counted per calling number (its keyed hash): after
``track_free_tries`` each further one doubles the wait before the next try.
The typed code travels to the PIN question sealed (never in clear in a URL).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from cases.casework import check_pin
from cases.models import Case
from cases.public_view import public_status
from cases.tracking_code import is_valid, normalise
from ivr import calls
from ivr.models import TrackingTries
from ivr.progress import Progress, read
from ivr.signature import twilio_form, twilio_webhook
from ivr.twiml import MENU, PROMPTS, ask, reply, url
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB
from sealing.data_key import SealError

CODE_FIELD = "ivr.tracking_code"
WITHHELD = "withheld"
"""Callers without a number share one count."""


def ask_code(app: web.Application, progress: Progress, *, retry: bool = False) -> VoiceResponse:
    lang = progress.lang(app[MENU])
    action = url(app, "ivr/track/code", progress.query())
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", action=action, method="POST", finish_on_key="#", timeout=10
    )
    if retry:
        app[PROMPTS].add(gather, "retry", lang)
    app[PROMPTS].add(gather, "track_code", lang)
    response.redirect(action, method="POST")
    return response


def _back_to_line(app: web.Application, response: VoiceResponse, progress: Progress) -> None:
    """Append the line question (she may still talk to an officer)."""
    step = app[MENU].steps["line"] if "line" in app[MENU].steps else None
    menu = app[MENU]
    target = step or menu.steps[menu.first_step]
    follow = ask(app, target, replace(progress, tries=0))
    for verb in follow.verbs:
        response.append(verb)


def _number_key(app: web.Application, caller: str) -> str:
    number = calls.caller_number(caller)
    return app[DATA_KEY].phone_hash(number or WITHHELD)


async def _blocked(app: web.Application, key: str, now: datetime) -> bool:
    async with app[DB]() as session:
        row = await session.get(TrackingTries, key)
    return bool(row and row.blocked_until and row.blocked_until > now)


async def _record(app: web.Application, key: str, *, success: bool) -> None:
    menu, now = app[MENU], app[CLOCK]()
    async with app[DB]() as session, session.begin():
        row = await session.get(TrackingTries, key, with_for_update=True)
        if row is None:
            row = TrackingTries(phone_hash=key, failures=0, updated_at=now)
            session.add(row)
        if success:
            row.failures, row.blocked_until = 0, None
        else:
            row.failures += 1
            beyond = row.failures - menu.track_free_tries
            if beyond >= 0:
                row.blocked_until = now + timedelta(seconds=menu.track_delay * 2 ** min(beyond, 12))
        row.updated_at = now


@twilio_webhook("she typed her tracking code (or nothing).")
async def code_typed(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    menu = app[MENU]
    progress = read(request.query, menu)
    lang = progress.lang(menu)
    key = _number_key(app, form.get("From", ""))
    response = VoiceResponse()
    if await _blocked(app, key, app[CLOCK]()):
        app[PROMPTS].add(response, "track_later", lang)
        _back_to_line(app, response, progress)
        return reply(response)
    digits = form.get("Digits", "").strip()
    if not digits:
        progress = replace(progress, tries=progress.tries + 1)
        if progress.tries >= menu.retries:
            _back_to_line(app, response, progress)
            return reply(response)
        return reply(ask_code(app, progress, retry=True))
    sealed = app[DATA_KEY].seal(digits[:32], CODE_FIELD)
    token = base64.urlsafe_b64encode(sealed).decode().rstrip("=")
    query = progress.query()
    action = url(app, "ivr/track/pin", (query + "&" if query else "") + f"c={token}")
    gather = response.gather(
        input="dtmf", action=action, method="POST", finish_on_key="#", timeout=10
    )
    app[PROMPTS].add(gather, "track_pin", lang)
    response.redirect(action, method="POST")
    return reply(response)


def _opened(app: web.Application, token: str) -> str | None:
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return app[DATA_KEY].open(sealed, CODE_FIELD)
    except (ValueError, SealError):
        return None


@twilio_webhook("she typed her PIN (or only #): she hears her case's status.")
async def pin_typed(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    menu = app[MENU]
    progress = replace(read(request.query, menu), tries=0)
    lang = progress.lang(menu)
    key = _number_key(app, form.get("From", ""))
    code = normalise(_opened(app, request.query.get("c", "")) or "")
    pin = form.get("Digits", "").strip()
    case = None
    if code is not None:
        async with app[DB]() as session:
            case = await session.scalar(select(Case).where(Case.tracking_code == code))
    found = case is not None and code is not None and is_valid(code)
    if found and case is not None and case.pin_hash is not None:
        found = await asyncio.to_thread(check_pin, case, pin)  # argon2: off the loop
    response = VoiceResponse()
    await _record(app, key, success=found)
    if not found or case is None:
        app[PROMPTS].add(response, "track_unknown", lang)
    else:
        await app[AUDIT].record(
            actor_kind="public",
            officer_id=None,
            action="case.track",
            object_type="case",
            object_id=str(case.id),
            address=None,
            detail={"pin": bool(pin), "via": "phone"},
        )
        app[PROMPTS].add(response, f"status_{public_status(case.status)}", lang)
    _back_to_line(app, response, progress)
    return reply(response)
