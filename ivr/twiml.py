"""The TwiML she hears: questions, the hold loop, goodbyes (built with ``twilio.twiml``).

Every URL in it is absolute, from ``SAFECALL_PUBLIC_URL``: it is the URL
Twilio calls next and signs, and the one the signature is checked against.
"""

from __future__ import annotations

import math

from aiohttp import web
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

from ivr.menu import ANNOUNCEMENTS, NUMBERS, Menu, Step
from ivr.progress import Progress
from ivr.prompts import Prompts
from queues.router import Placement
from safecall.state import SETTINGS

MENU = web.AppKey("ivr_menu", Menu)
PROMPTS = web.AppKey("ivr_prompts", Prompts)
XML = "application/xml"


def url(app: web.Application, path: str, query: str = "") -> str:
    base = app[SETTINGS].public_url.rstrip("/")
    return f"{base}/twilio/{path}" + (f"?{query}" if query else "")


def reply(response: VoiceResponse) -> web.Response:
    return web.Response(text=str(response), content_type=XML, headers={"Cache-Control": "no-store"})


def ask(
    app: web.Application, step: Step, progress: Progress, *, retry: bool = False
) -> VoiceResponse:
    """Ask ``step``'s question; no answer comes back to the same URL without ``Digits``."""
    menu, prompts = app[MENU], app[PROMPTS]
    lang = progress.lang(menu)
    action = url(app, f"ivr/{step.name}", progress.query())
    response = VoiceResponse()
    words = [word for choice in step.choices for word in choice.words]
    gather = response.gather(
        input="dtmf speech",
        action=action,
        method="POST",
        num_digits=1,
        timeout=menu.timeout,
        speech_timeout="auto",
        language=menu.languages[lang].speech,
        hints=", ".join(words)[:1000] or None,
    )
    if retry:
        prompts.add(gather, "retry", lang)
    for code in menu.languages if step.all_languages else (lang,):
        prompts.add(gather, step.name, code)
    response.redirect(action, method="POST")
    return response


def hold(
    app: web.Application,
    response: VoiceResponse,
    placement: Placement,
    *,
    lang: str,
    callback_safe: bool,
) -> VoiceResponse:
    """Her place and wait, the hold recording, then back to the wait step (about 30 s)."""
    menu, prompts = app[MENU], app[PROMPTS]
    container = response
    if callback_safe:
        container = response.gather(
            input="dtmf",
            action=url(app, "ivr/hold-key"),
            method="POST",
            num_digits=1,
            timeout=1,
        )
        prompts.add(container, "callback_offer", lang)
    if placement.position is not None:
        announce(app, container, "position", placement.position, lang)
        if placement.estimated_wait is not None:
            minutes = max(1, math.ceil(placement.estimated_wait / 60))
            announce(app, container, "wait", minutes, lang)
    prompts.hold(container, menu.hold_loops)
    response.redirect(url(app, "ivr/wait"), method="POST")
    return response


def announce(app: web.Application, parent: TwiML, name: str, number: int, lang: str) -> None:
    """An announcement with a number: recorded words and number, ``<Say>`` beyond them."""
    menu, prompts = app[MENU], app[PROMPTS]
    if number > NUMBERS:
        template = menu.announcements[name][lang]
        prompts.say(parent, template.replace(ANNOUNCEMENTS[name], str(number)), lang)
        return
    before, after = menu.parts(name, lang)
    if before:
        prompts.add(parent, f"{name}_before", lang)
    prompts.add(parent, f"n{number}", lang)
    if after:
        prompts.add(parent, f"{name}_after", lang)


def goodbye(app: web.Application, message: str, lang: str) -> VoiceResponse:
    response = VoiceResponse()
    app[PROMPTS].add(response, message, lang)
    response.hangup()
    return response
