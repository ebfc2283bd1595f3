"""Sending one text through Twilio Messaging (SMS or WhatsApp), from our own numbers.

``messages.create`` with a ``StatusCallback`` so delivery receipts come back
(:mod:`messaging.webhooks`). On WhatsApp, a message to someone who has not
written to us in the last 24 hours must be an approved template
(``SAFECALL_TWILIO_WHATSAPP_TEMPLATE``, its one variable the text); inside the
window it is free text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from twilio.base.exceptions import TwilioRestException

from ivr import twilio_api
from ivr.signature import public_url
from safecall.state import SETTINGS

UNSUBSCRIBED = 21610
"""Twilio: the number replied STOP; nothing more may be sent to it from this sender."""


@dataclass(frozen=True)
class Sent:
    sid: str
    status: str


class SendFailed(Exception):
    """Twilio refused the message (``code``: Twilio's error code, or ``unreachable``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def senders(app: web.Application) -> dict[str, str]:
    """Our number per channel (an SMS from the neutral caller id; WhatsApp when set)."""
    settings = app[SETTINGS]
    out: dict[str, str] = {}
    if settings.ivr_enabled and settings.twilio_caller_id:
        out["sms"] = settings.twilio_caller_id
    if settings.ivr_enabled and settings.twilio_whatsapp_from:
        out["whatsapp"] = settings.twilio_whatsapp_from
    return out


async def send(
    app: web.Application, channel: str, to: str, body: str, *, template: bool = False
) -> Sent:
    """Send ``body`` to ``to`` (a number, without the ``whatsapp:`` prefix)."""
    settings = app[SETTINGS]
    sender = senders(app).get(channel)
    if sender is None:
        raise SendFailed("channel_off")
    options: dict[str, object] = {
        "from_": sender,
        "to": f"whatsapp:{to}" if channel == "whatsapp" else to,
        "status_callback": public_url(settings, "/twilio/messaging/status"),
    }
    if template and settings.twilio_whatsapp_template:
        options["content_sid"] = settings.twilio_whatsapp_template
        options["content_variables"] = json.dumps({"1": body}, ensure_ascii=False)
    else:
        options["body"] = body
    try:
        message = await twilio_api.client(app).messages.create_async(**options)
    except TwilioRestException as exc:
        raise SendFailed(str(exc.code or exc.status)) from None
    except (aiohttp.ClientError, TimeoutError, twilio_api.TwilioOff):
        raise SendFailed("unreachable") from None
    return Sent(str(message.sid), str(message.status or "queued"))
