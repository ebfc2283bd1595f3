"""What the bridge needs from the phone network, supplied by the package that speaks to it.

The bridge checks that a Media Stream's upgrade really comes from the phone
network and, when a bridged call must end, asks the network to hang it up.
How both are done is the phone line's business (:mod:`ivr` speaks Twilio), so
it sets :data:`TELEPHONY` when it adds its routes; the bridge depends only on
this protocol, never on :mod:`ivr`.
"""

from __future__ import annotations

import logging
from typing import Protocol

from aiohttp import web

log = logging.getLogger(__name__)


class Telephony(Protocol):
    async def check_stream(self, request: web.Request) -> None:
        """Return when the Media Stream upgrade ``request`` is the network's own; raise a
        refusal (forged, or the phone line is off) otherwise."""

    async def hang_up(self, call_sid: str) -> None:
        """End the call (nothing happens when it has ended already)."""


TELEPHONY: web.AppKey[Telephony] = web.AppKey("telephony")


async def hang_up_call(app: web.Application, call_sid: str) -> bool:
    """Ask the network to end the call; True when it took the request.

    Failures are logged: the stream is closed anyway, and the network ends a call
    whose ``<Connect><Stream>`` socket closed (nothing follows it in the TwiML).
    """
    telephony = app.get(TELEPHONY)
    if telephony is None:
        log.error("media: cannot hang up a call: no phone network is configured")
        return False
    try:
        await telephony.hang_up(call_sid)
    except Exception:
        log.exception("media: hanging up a call through the phone network failed")
        return False
    return True
