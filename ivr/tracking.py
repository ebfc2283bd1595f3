"""Track a case by phone: she types her 12-digit code (and her PIN when she set one).

She hears the case's coarse status (the words of :mod:`cases.public_view`,
recorded per language), then the line question again, so she can still talk
to an officer. A code that matches nothing and a wrong PIN sound the same.
The lookup is the web's (:mod:`contacts.tracking`): charged to the calling
number's keyed hash as the web charges an address, and PIN attempts to the
case, whatever number they come from (caller ID can be spoofed). The typed
code travels to the PIN question sealed (never in clear in a URL).
"""

from __future__ import annotations

import base64
from dataclasses import replace

from aiohttp import web
from twilio.twiml.voice_response import VoiceResponse

from cases.public_view import public_status
from contacts.service import TRACKING
from contacts.tracking import Asker, CodeUnknown, PinWrong, TooManyTries
from ivr import calls
from ivr.progress import Progress, read
from ivr.signature import twilio_form, twilio_webhook
from ivr.twiml import MENU, PROMPTS, ask, reply, url
from safecall.refusals import Invalid
from safecall.state import DATA_KEY
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


def _asker(app: web.Application, caller: str) -> Asker:
    number = calls.caller_number(caller)
    return Asker.phone(app[DATA_KEY].phone_hash(number or WITHHELD))


@twilio_webhook("she typed her tracking code (or nothing).")
async def code_typed(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    menu = app[MENU]
    progress = read(request.query, menu)
    lang = progress.lang(menu)
    response = VoiceResponse()
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
    code = _opened(app, request.query.get("c", "")) or ""
    pin = form.get("Digits", "").strip() or None
    response = VoiceResponse()
    try:
        asker = _asker(app, form.get("From", ""))
        found = await app[TRACKING].find(code, asker, pin=pin, pin_if_set=True)
    except TooManyTries:
        app[PROMPTS].add(response, "track_later", lang)
    except (Invalid, CodeUnknown, PinWrong):
        app[PROMPTS].add(response, "track_unknown", lang)
    else:
        status = public_status(found.case.status)
        app[PROMPTS].add(response, f"status_{status}", lang)
    _back_to_line(app, response, progress)
    return reply(response)
