"""Routes of the `ivr` package: Twilio's webhooks, the recorded prompts, the officer actions."""

from __future__ import annotations

from aiohttp import web

from contacts.service import VOCABULARY
from ivr import callbacks, escalation, marks, pin, signature, tracking, webhooks
from ivr.menu import MenuError, load
from ivr.prompts import Prompts, prompt_file
from ivr.telephony import TwilioTelephony
from ivr.twiml import MENU, PROMPTS, RENDERED, Rendered
from media.telephony import TELEPHONY
from safecall.state import ROUTING, SETTINGS


def setup(app: web.Application) -> None:
    """Add this package's routes and resources to the app (after signaling's and the router's)."""
    settings = app[SETTINGS]
    menu = load(extra_categories=settings.extra_categories)
    lines = app[VOCABULARY].lines
    named = (set(menu.answers.get("line", ())) - {"none"}) | {menu.general_line}
    if unknown := sorted(named - lines):
        raise MenuError(
            f"menu.toml names service line(s) {', '.join(unknown)} that the server does not "
            f"have; its lines are {', '.join(sorted(lines))}."
        )
    emergency = app[ROUTING].emergency_priority
    if menu.prank_priority >= emergency:
        # The router refuses such an override; find out now, not on a caller's turn.
        raise MenuError(
            f"menu.toml: prank_priority must be below the routing emergency priority "
            f"({emergency}); it is {menu.prank_priority}."
        )
    app[MENU] = menu
    app[PROMPTS] = Prompts(menu, settings)
    app[RENDERED] = Rendered()
    signature.setup(app)
    app[TELEPHONY] = TwilioTelephony(app)
    app.router.add_post("/twilio/voice", webhooks.voice)
    app.router.add_post("/twilio/status", webhooks.status)
    app.router.add_post("/twilio/ivr/wait", webhooks.wait)
    app.router.add_post("/twilio/ivr/hold-key", webhooks.hold_key)
    app.router.add_post("/twilio/ivr/enqueue", webhooks.enqueue)
    app.router.add_post("/twilio/ivr/track/code", tracking.code_typed)
    app.router.add_post("/twilio/ivr/track/pin", tracking.pin_typed)
    callbacks.setup(app)  # before the menu's /twilio/ivr/{step}
    pin.setup(app)
    app.router.add_post("/twilio/ivr/{step}", webhooks.menu_step)
    app.router.add_get("/twilio/prompts/{lang}/{name}", prompt_file)
    marks.setup(app)
    escalation.setup(app)
