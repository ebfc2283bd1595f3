"""Twilio's webhooks: the call arrives, the menu's questions, the hold loop, hang-ups.

Every handler first checks the request's signature (:mod:`ivr.signature`),
then answers TwiML fast (Twilio gives up after 15 s). What she answered so
far travels in the action URL's query (:mod:`ivr.progress`); once she is in
line, the call is found by its CallSid (:mod:`ivr.calls`).

No input, or a key the question does not know, asks again; after
``retries`` tries she goes to the general queue — as a silent call when she
never pressed or said anything, since she may not be able to speak. The
silent key does that at once. The menu never hangs up on her.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web
from multidict import MultiDictProxy
from twilio.twiml.voice_response import VoiceResponse

from ivr import callback_retries, calls, tracking
from ivr.menu import QUEUE, TRACK
from ivr.models import PhoneCall
from ivr.progress import Progress, read
from ivr.signature import twilio_form, twilio_webhook
from ivr.twilio_api import bridge_twiml
from ivr.twiml import MENU, PROMPTS, asked, goodbye, holding, reply, url
from queues.router import Refused
from queues.service import ROUTER
from safecall.errors import ApiError, is_outage
from safecall.refusals import Unavailable
from signaling.routes import HUB


def call_sid(form: MultiDictProxy[str]) -> str:
    sid = form.get("CallSid", "")
    if not sid or len(sid) > 64 or not sid.isalnum():
        raise ApiError(400, "invalid_call", "The request carries no valid CallSid.")
    return sid


@twilio_webhook("a call to the helpline arrives (signed webhook; answers TwiML).", "invalid_call")
async def voice(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    sid = call_sid(form)
    call = await calls.find_call(app, sid)
    if call is not None and call.state == "waiting":  # Twilio asked again: she is in line
        return await _hold_reply(app, call)
    menu = app[MENU]
    return reply(asked(app, menu.steps[menu.first_step], Progress()))


@twilio_webhook(
    "her answer to one of the menu's questions (or none, after the timeout).",
    "invalid_call",
    "unknown_step",
)
async def menu_step(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    menu = app[MENU]
    step = menu.steps.get(request.match_info["step"])
    if step is None:
        raise ApiError(404, "unknown_step", "The menu has no such question.")
    progress = read(request.query, menu)
    digits, speech = form.get("Digits", ""), form.get("SpeechResult", "")
    if digits == menu.silent_key:
        return await queue(request, form, progress, silent=True)
    choice = step.choose(digits, speech)
    if choice is None:
        gave = bool(digits.strip() or speech.strip())
        progress = replace(progress, tries=progress.tries + 1, spoke=progress.spoke or gave)
        if progress.tries >= menu.retries:
            return await queue(request, form, progress, silent=not progress.spoke)
        return reply(asked(app, step, progress, retry=True))
    progress = progress.answered(step.field, choice)
    if choice.next == QUEUE:
        return await queue(request, form, progress, silent=False)
    if choice.next == TRACK:
        return reply(tracking.ask_code(app, progress))
    return reply(asked(app, menu.steps[choice.next], progress))


async def queue(
    request: web.Request, form: MultiDictProxy[str], progress: Progress, *, silent: bool
) -> web.Response:
    """The end of the menu: her contact opens and she waits in line."""
    app = request.app
    menu = app[MENU]
    try:
        queued = await calls.queue_call(
            app,
            menu,
            call_sid=call_sid(form),
            caller=form.get("From", ""),
            intake=progress.intake(menu, silent=silent),
        )
    except Unavailable:
        # Nothing of her contact was kept (the desk undid it): she holds, then we try again.
        return reply(_try_again(app, progress, silent=silent))
    call = queued.call
    first: tuple[str, ...] = ("silent_queued" if call.silent else "queued",)
    if queued.deprioritised:
        first = ("prank_notice", *first)
    placement = app[ROUTER].placement(call.session_id)
    return reply(
        holding(
            app,
            placement,
            lang=progress.lang(menu),
            callback_safe=call.callback_safe,
            first=first,
        )
    )


def _try_again(app: web.Application, progress: Progress, *, silent: bool) -> VoiceResponse:
    response = VoiceResponse()
    app[PROMPTS].hold(response, 1)
    query = progress.query()
    again = (query + "&" if query else "") + f"silent={int(silent)}"
    response.redirect(url(app, "ivr/enqueue", again), method="POST")
    return response


@twilio_webhook(
    "put her in line again, after the line could not take her a moment ago.", "invalid_call"
)
async def enqueue(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    call = await calls.find_call(app, call_sid(form))
    if call is not None:  # she is in line already (the earlier try got through)
        return await _hold_reply(app, call)
    progress = read(request.query, app[MENU])
    return await queue(request, form, progress, silent=request.query.get("silent") == "1")


async def _hold_reply(app: web.Application, call: PhoneCall) -> web.Response:
    placement = app[ROUTER].placement(call.session_id)
    return reply(holding(app, placement, lang=call.language, callback_safe=call.callback_safe))


@twilio_webhook(
    "she is waiting; her place in line, the hold recording, or the officer.", "invalid_call"
)
async def wait(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    call = await calls.find_call(app, call_sid(form))
    if call is None:  # not in line (a lost record): start again rather than hang up
        response = VoiceResponse()
        response.redirect(url(app, "voice"), method="POST")
        return reply(response)
    if call.state != "waiting":
        return await _hold_reply(app, call)
    placement = app[ROUTER].placement(call.session_id)
    if placement.status == "assigned":
        # The officer accepted; the listener moves the call, unless it could not yet.
        if await calls.claim_bridge(app, call.session_id) == call.call_sid:
            twiml = bridge_twiml(
                app, call.call_sid, call.session_id, lang=call.language, line=call.line
            )
            await calls.set_state(app, call.call_sid, "bridged", was="bridging")
            return web.Response(text=twiml, content_type="application/xml")
        return await _hold_reply(app, call)
    if placement.status == "unknown":
        # The line forgot her (an in-process store restarted): back in line, same place.
        await calls.requeue(app, call, app[MENU])
        return await _hold_reply(app, call)
    if placement.status in ("waiting", "offered"):
        return await _hold_reply(app, call)
    # Out of line without an officer (nobody answered in time): tell her, end kindly.
    await calls.end_contact(app, call.session_id, "missed")
    await app[HUB].end_session(call.session_id, "missed")
    await calls.set_state(app, call.call_sid, "ended", was="waiting")
    message = "callback_booked" if call.callback_safe else "missed"
    return reply(goodbye(app, message, call.language))


@twilio_webhook(
    "she pressed a key while waiting (the callback key asks to be called back).", "invalid_call"
)
async def hold_key(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    menu = app[MENU]
    call = await calls.find_call(app, call_sid(form))
    if call is None:
        response = VoiceResponse()
        response.redirect(url(app, "voice"), method="POST")
        return reply(response)
    wants = form.get("Digits", "") == menu.callback_key
    if wants and call.callback_safe and call.state == "waiting":
        try:
            await app[ROUTER].to_callback(call.session_id, by=0)
        except Refused:
            pass  # an officer took her meanwhile: she stays on the line
        else:
            await calls.end_contact(app, call.session_id, "transferred")
            await app[HUB].end_session(call.session_id, "callback")
            await calls.set_state(app, call.call_sid, "ended", was="waiting")
            return reply(goodbye(app, "callback_booked", call.language))
    response = VoiceResponse()
    response.redirect(url(app, "ivr/wait"), method="POST")
    return reply(response)


@twilio_webhook(
    "a call's status changed (a hang-up while waiting abandons the contact).", "invalid_call"
)
async def status(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    sid = call_sid(form)
    said = form.get("CallStatus", "")
    if said in calls.ENDED_STATUSES:
        try:
            await _call_over(request.app, sid, said)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # Twilio sends a status callback once, whatever it is answered: keep trying here.
            calls.later(request.app, lambda: _call_over(request.app, sid, said), "a hang-up")
    return reply(VoiceResponse())


async def _call_over(app: web.Application, sid: str, said: str) -> None:
    ended = await calls.end_call(app, sid, said)
    if ended is not None and ended.direction == "callback":
        await callback_retries.ring_ended(app, ended)
