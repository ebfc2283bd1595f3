"""Twilio's REST API, through the real ``twilio`` client, at ``SAFECALL_TWILIO_API_BASE``.

The client has no base-URL setting; it takes an HTTP client, so
:class:`BaseUrlHttpClient` rewrites ``https://api.twilio.com`` to the
configured base (a local emulator in tests). One client per app, opened and
closed with it (:func:`client_context`).

- :func:`connect_to_bridge` moves a live call to the media bridge
  (``calls(sid).update`` with ``<Connect><Stream>``, a signed one-time token
  in the stream's parameters);
- :func:`hang_up` ends a call; :func:`send_sms` sends a text;
- :func:`place_call` rings her (callbacks), from the neutral caller id, with
  answering-machine detection so no voicemail is ever left.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import encode_basic_auth, web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from ivr.signature import stream_url
from media import stream_token
from safecall.settings import Settings
from safecall.state import SETTINGS

log = logging.getLogger(__name__)

TWILIO_BASE = "https://api.twilio.com"
TWILIO = web.AppKey("twilio_client", Client)
TIMEOUT = 10.0
"""Seconds for one REST request (webhooks must answer within 15 s)."""

__all__ = [
    "TwilioRestException",
    "bridge_url",
    "connect_to_bridge",
    "hang_up",
    "place_call",
    "redirect",
    "send_sms",
]


class TwilioOff(RuntimeError):
    """The server has no Twilio account configured."""


class BaseUrlHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Sends the client's requests to ``base`` instead of https://api.twilio.com."""

    def __init__(self, base: str, timeout: float = TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.base = base.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  (the twilio client's signature)
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_BASE):
            url = self.base + url[len(TWILIO_BASE) :]
        if auth is not None:  # aiohttp deprecates BasicAuth objects: send the header instead
            headers = {**(headers or {}), "Authorization": encode_basic_auth(*auth)}
        return await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )


def make_client(settings: Settings) -> Client:
    if not settings.ivr_enabled:
        raise TwilioOff("SAFECALL_TWILIO_ACCOUNT_SID and SAFECALL_TWILIO_AUTH_TOKEN are not set")
    return Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=BaseUrlHttpClient(settings.twilio_api_base),
    )


async def client_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry: the REST client (when Twilio is configured)."""
    client = make_client(app[SETTINGS]) if app[SETTINGS].ivr_enabled else None
    if client is not None:
        app[TWILIO] = client
    yield
    if client is not None:
        http = client.http_client
        if isinstance(http, AsyncTwilioHttpClient):
            await http.close()


def client(app: web.Application) -> Client:
    found = app.get(TWILIO)
    if found is None:
        raise TwilioOff("Twilio is not configured on this server")
    return found


def bridge_url(settings: Settings) -> str:
    """Where Twilio streams a call to the bridge: ``wss://{public URL}/twilio/media``."""
    return stream_url(settings, "/twilio/media")


def bridge_twiml(
    app: web.Application,
    call_sid: str,
    session_id: str,
    *,
    lang: str | None = None,
    line: str | None = None,
) -> str:
    """``<Connect><Stream>`` to the media bridge, with a fresh one-time token.

    The bridge records the call from the moment it connects, so she first hears,
    in ``lang``, that the call is recorded (``<Play>`` of the ``recording_notice``
    prompt); not when ``line`` is one with recording off (``SAFECALL_RECORDING_OFF_LINES``).
    """
    from ivr.twiml import MENU, PROMPTS  # imported when first needed, like the bridge's

    token = stream_token.issue(app, session_id=session_id, call_sid=call_sid)
    response = VoiceResponse()
    prompts, menu = app.get(PROMPTS), app.get(MENU)
    if prompts is not None and menu is not None and line not in app[SETTINGS].recording_off_lines:
        notice_lang = lang if lang is not None and lang in menu.languages else None
        prompts.add(response, "recording_notice", notice_lang or menu.default_language)
    connect = response.connect()
    stream = connect.stream(url=bridge_url(app[SETTINGS]))
    stream.parameter(name="token", value=token)
    return str(response)


async def connect_to_bridge(
    app: web.Application,
    call_sid: str,
    session_id: str,
    *,
    lang: str | None = None,
    line: str | None = None,
) -> None:
    """Move the live call to the media bridge (it leaves the hold loop at once)."""
    twiml = bridge_twiml(app, call_sid, session_id, lang=lang, line=line)
    await client(app).calls(call_sid).update_async(twiml=twiml)


async def redirect(app: web.Application, call_sid: str, to: str) -> None:
    """Run the TwiML at ``to`` on the live call (what it runs now stops)."""
    await client(app).calls(call_sid).update_async(url=to, method="POST")


async def hang_up(app: web.Application, call_sid: str) -> None:
    """End the call (nothing happens when it had ended already)."""
    try:
        await client(app).calls(call_sid).update_async(status="completed")
    except TwilioRestException as exc:
        if exc.status not in (400, 404):  # an ended call cannot be updated: that is fine
            raise


async def send_sms(app: web.Application, to: str, body: str) -> str:
    """Send a text from the neutral number; the message's sid."""
    settings = app[SETTINGS]
    if not settings.twilio_caller_id:
        raise TwilioOff("SAFECALL_TWILIO_CALLER_ID is not set")
    message = await client(app).messages.create_async(
        to=to, from_=settings.twilio_caller_id, body=body
    )
    return str(message.sid)


async def place_call(
    app: web.Application,
    to: str,
    twiml_url: str,
    *,
    status_callback: str | None = None,
    ring_seconds: int = 30,
    **extra: Any,
) -> str:
    """Ring ``to`` from the neutral number; Twilio fetches ``twiml_url`` when she answers.

    Machine detection is on (``Enable``): the TwiML at ``twiml_url`` sees
    ``AnsweredBy`` and hangs up on a machine, so no voicemail is left.
    Returns the new call's sid.
    """
    settings = app[SETTINGS]
    if not settings.twilio_caller_id:
        raise TwilioOff("SAFECALL_TWILIO_CALLER_ID is not set")
    options: dict[str, Any] = {
        "to": to,
        "from_": settings.twilio_caller_id,
        "url": twiml_url,
        "timeout": ring_seconds,
        "machine_detection": "Enable",
    }
    if status_callback is not None:
        options["status_callback"] = status_callback
        options["status_callback_event"] = ["completed"]
    options.update(extra)
    call = await client(app).calls.create_async(**options)
    return str(call.sid)
