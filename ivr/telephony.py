"""Twilio as the bridge's phone network (:class:`media.telephony.Telephony`)."""

from __future__ import annotations

from aiohttp import web
from twilio.request_validator import RequestValidator

from contacts.service import DESK
from ivr import calls, twilio_api
from ivr.signature import refuse_forgery, stream_url
from ivr.twiml import url
from safecall.errors import ApiError
from safecall.state import SETTINGS


class TwilioTelephony:
    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def check_stream(self, request: web.Request) -> None:
        """The upgrade must carry Twilio's ``X-Twilio-Signature`` for the ``wss://`` URL it
        called (built from ``SAFECALL_PUBLIC_URL``; no parameters): 403 ``bad_signature``,
        audited, otherwise."""
        settings = self.app[SETTINGS]
        if not settings.ivr_enabled:
            raise ApiError(503, "ivr_off", "The phone line is not configured on this server.")
        assert settings.twilio_auth_token is not None
        signature = request.headers.get("X-Twilio-Signature", "")
        url = stream_url(settings, request.path_qs)
        if signature and RequestValidator(settings.twilio_auth_token).validate(url, {}, signature):
            return
        await refuse_forgery(request, "media_stream", "missing" if not signature else "wrong")

    async def hang_up(self, call_sid: str) -> None:
        """End the call; but when the conversation opened her case and the case has no PIN
        yet, she is first offered to set one on the keypad (:mod:`ivr.pin`)."""
        app = self.app
        call = await calls.find_call(app, call_sid)
        if call is not None and call.direction == "inbound":
            if await app[DESK].may_set_pin(call.session_id):
                offer = url(app, "ivr/pin/offer", f"lang={call.language}")
                try:
                    await twilio_api.redirect(app, call_sid, offer)
                    return
                except twilio_api.TwilioRestException:
                    pass  # the call is over already: nothing to offer
        await twilio_api.hang_up(app, call_sid)
