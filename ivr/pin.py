"""Her PIN set on the phone keypad, once the officer ends the conversation.

When the officer ends a phone call whose contact opened the case (and the
case has no PIN yet), the call is not hung up at once: Twilio is asked to
run ``/twilio/ivr/pin/offer``, where she may type a PIN of 4 to 8 digits
twice (or hang up). The PIN set is the contact desk's
(:meth:`contacts.desk.Desk.set_pin`): only once, never on a case the call
merely named. The first PIN travels to the second question sealed (never in
clear in a URL).
"""

from __future__ import annotations

import base64

from aiohttp import web
from twilio.twiml.voice_response import VoiceResponse

from cases.tracking_code import ascii_digits
from contacts.service import DESK
from ivr import calls
from ivr.signature import twilio_form, twilio_webhook
from ivr.twiml import MENU, PROMPTS, reply, url
from ivr.webhooks import call_sid
from safecall.refusals import Refusal
from safecall.state import DATA_KEY
from sealing.data_key import SealError

PIN_FIELD = "ivr.pin"


def _lang(app: web.Application, request: web.Request) -> str:
    menu = app[MENU]
    lang = request.query.get("lang", "")
    return lang if lang in menu.languages else menu.default_language


def offer(app: web.Application, lang: str) -> VoiceResponse:
    """The question: a PIN now, or hang up (no answer ends the call kindly)."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        action=url(app, "ivr/pin/first", f"lang={lang}"),
        method="POST",
        finish_on_key="#",
        timeout=10,
    )
    app[PROMPTS].add(gather, "pin_offer", lang)
    response.hangup()
    return response


@twilio_webhook("the conversation is over: she may set a PIN for her case.", "invalid_call")
async def pin_offer(request: web.Request) -> web.Response:
    await twilio_form(request)
    app = request.app
    return reply(offer(app, _lang(app, request)))


def _digits(typed: str) -> str | None:
    pin = ascii_digits(typed).strip()
    return pin if 4 <= len(pin) <= 8 and pin.isascii() and pin.isdigit() else None


@twilio_webhook("she typed a PIN once: she is asked for it again.", "invalid_call")
async def pin_first(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    lang = _lang(app, request)
    pin = _digits(form.get("Digits", ""))
    response = VoiceResponse()
    if pin is None:
        app[PROMPTS].add(response, "pin_mismatch", lang)
        response.hangup()
        return reply(response)
    sealed = app[DATA_KEY].seal(pin, PIN_FIELD)
    token = base64.urlsafe_b64encode(sealed).decode().rstrip("=")
    gather = response.gather(
        input="dtmf",
        action=url(app, "ivr/pin/again", f"lang={lang}&p={token}"),
        method="POST",
        finish_on_key="#",
        timeout=10,
    )
    app[PROMPTS].add(gather, "pin_again", lang)
    response.hangup()
    return reply(response)


@twilio_webhook("she typed her PIN again: it is set when both are the same.", "invalid_call")
async def pin_again(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    lang = _lang(app, request)
    first = _opened(app, request.query.get("p", ""))
    pin = _digits(form.get("Digits", ""))
    call = await calls.find_call(app, call_sid(form))
    response = VoiceResponse()
    message = "pin_mismatch"
    if call is not None and pin is not None and pin == first:
        try:
            await app[DESK].set_pin(call.session_id, pin)
            message = "pin_set"
        except Refusal:
            message = "pin_mismatch"  # set already, or not this call's case: nothing changes
    app[PROMPTS].add(response, message, lang)
    response.hangup()
    return reply(response)


def _opened(app: web.Application, token: str) -> str | None:
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return app[DATA_KEY].open(sealed, PIN_FIELD)
    except (ValueError, SealError):
        return None


def setup(app: web.Application) -> None:
    app.router.add_post("/twilio/ivr/pin/offer", pin_offer)
    app.router.add_post("/twilio/ivr/pin/first", pin_first)
    app.router.add_post("/twilio/ivr/pin/again", pin_again)
