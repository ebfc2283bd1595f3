"""Ending the phone call itself, through Twilio's Calls resource (``ivr.twilio_api``)."""

from __future__ import annotations

import importlib
import logging

from aiohttp import web

log = logging.getLogger(__name__)


async def hang_up_call(app: web.Application, call_sid: str) -> bool:
    """Ask Twilio to complete the call; True when it took the request.

    ``ivr.twilio_api`` owns the REST client (base URL, credentials); it is
    looked up at call time so the bridge does not import the IVR at start.
    Failures are logged: the stream is closed anyway, and Twilio ends a call
    whose ``<Connect><Stream>`` socket closed (nothing follows it in the TwiML).
    """
    try:
        twilio_api = importlib.import_module("ivr.twilio_api")
    except ImportError:
        log.error("media: cannot hang up a call: ivr.twilio_api is missing")
        return False
    try:
        await twilio_api.hang_up(app, call_sid)
    except Exception:
        log.exception("media: hanging up a call through the Calls resource failed")
        return False
    return True
