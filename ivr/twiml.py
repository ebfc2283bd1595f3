"""The TwiML she hears: questions, the hold loop, goodbyes (built with ``twilio.twiml``).

Every URL in it is absolute, from ``SAFECALL_PUBLIC_URL``: it is the URL
Twilio calls next and signs, and the one the signature is checked against.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable

from aiohttp import web
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

from ivr.menu import ANNOUNCEMENTS, NUMBERS, Menu, Step
from ivr.progress import Progress
from ivr.prompts import Prompts
from queues.router import Placement
from safecall.state import SETTINGS

XML = "application/xml"


class Rendered:
    """TwiML already rendered, by what decides it (the question and her answers so far,
    her place and wait, ...): built with ``twilio.twiml`` the first time, then the same
    text; the least recently used are forgotten past ``size``."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._texts: OrderedDict[Hashable, str] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], VoiceResponse]) -> str:
        text = self._texts.get(key)
        if text is None:
            text = str(build())
            self._texts[key] = text
            if len(self._texts) > self.size:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(key)
        return text


MENU = web.AppKey("ivr_menu", Menu)
PROMPTS = web.AppKey("ivr_prompts", Prompts)
RENDERED = web.AppKey("ivr_rendered", Rendered)


def url(app: web.Application, path: str, query: str = "") -> str:
    base = app[SETTINGS].public_url.rstrip("/")
    return f"{base}/twilio/{path}" + (f"?{query}" if query else "")


def reply(response: VoiceResponse | str) -> web.Response:
    return web.Response(text=str(response), content_type=XML, headers={"Cache-Control": "no-store"})


def asked(app: web.Application, step: Step, progress: Progress, *, retry: bool = False) -> str:
    """:func:`ask`, rendered (the same question after the same answers reads the same)."""
    return app[RENDERED].get(
        ("ask", step.name, progress, retry), lambda: ask(app, step, progress, retry=retry)
    )


def holding(
    app: web.Application,
    placement: Placement,
    *,
    lang: str,
    callback_safe: bool,
    first: tuple[str, ...] = (),
) -> str:
    """The prompts ``first`` (if any), then :func:`hold`, rendered."""
    minutes = None
    if placement.position is not None and placement.estimated_wait is not None:
        minutes = max(1, math.ceil(placement.estimated_wait / 60))

    def build() -> VoiceResponse:
        response = VoiceResponse()
        for name in first:
            app[PROMPTS].add(response, name, lang)
        return hold(app, response, placement, lang=lang, callback_safe=callback_safe)

    key = ("hold", lang, callback_safe, placement.position, minutes, first)
    return app[RENDERED].get(key, build)


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


def goodbye(app: web.Application, message: str, lang: str) -> str:
    def build() -> VoiceResponse:
        response = VoiceResponse()
        app[PROMPTS].add(response, message, lang)
        response.hangup()
        return response

    return app[RENDERED].get(("goodbye", message, lang), build)
