"""Only Twilio may drive the phone menu: every webhook's ``X-Twilio-Signature`` is checked.

The signature covers the URL Twilio called and the form it posted
(https://www.twilio.com/docs/usage/webhooks/webhooks-security). Behind a
reverse proxy the URL the server sees is not the one Twilio called, so it is
rebuilt from ``SAFECALL_PUBLIC_URL`` and the request's path and query. A
missing or wrong signature gets 403 ``bad_signature``, is audited (the path
and the reason, never the caller's number) and nothing else happens.

A flood of forged requests must not flood the audit chain (or the database):
:class:`ForgeryLog` lets the first :data:`AUDITED` refusals per address in
each :data:`WINDOW` be audited one by one and counts the rest, written as one
``twilio.bad_signature_summary`` event per address and window (by the next
refusal, or the background flush, or when the server stops). Every refusal is
still answered 403. Each process keeps its own counts.
"""

from __future__ import annotations

import functools
import hmac
import logging
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from safecall.background import Periodic, describe
from safecall.endpoint import endpoint
from safecall.errors import ApiError, Handler
from safecall.ratelimit import address_key
from safecall.settings import Settings
from safecall.state import AUDIT, CLOCK, SETTINGS, client_address

log = logging.getLogger(__name__)

HEADER = "X-Twilio-Signature"
AUDITED = 5
"""Refused signatures per address and window audited one by one."""
WINDOW = 60.0
"""Seconds of one window."""


@dataclass(frozen=True)
class Summary:
    """Refusals from one address in one window that were counted, not audited one by one."""

    address: str
    """The address (IPv4, or the IPv6 /64)."""
    since: float
    """When the window began."""
    more: int
    path: str
    """The path of the last one."""


@dataclass
class _Window:
    since: float
    audited: int = 0
    more: int = 0
    path: str = ""


class ForgeryLog:
    """Which refused signatures are audited one by one, per address and window.

    In this process's memory, bounded: a window over is dropped (its summary
    handed out by :meth:`due`), and beyond ``max_keys`` the oldest window is
    closed early (its summary too), so no refusal goes uncounted.
    """

    def __init__(
        self, audited: int = AUDITED, window: float = WINDOW, max_keys: int = 10_000
    ) -> None:
        self.audited = audited
        self.window = window
        self.max_keys = max_keys
        # Oldest window first: a new window goes to the end.
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._closed: list[Summary] = []

    def note(self, address: str, path: str, now: float) -> bool:
        """Count a refusal; True when it is to be audited by itself."""
        key = address_key(address)
        current = self._windows.get(key)
        if current is not None and now >= current.since + self.window:
            self._close(key, self._windows.pop(key))
            current = None
        if current is None:
            current = self._windows[key] = _Window(since=now)
            while len(self._windows) > self.max_keys:
                self._close(*self._windows.popitem(last=False))
        if current.audited < self.audited:
            current.audited += 1
            return True
        current.more += 1
        current.path = path
        return False

    def due(self, now: float) -> list[Summary]:
        """Summaries of the windows over by ``now`` (each handed out once)."""
        while self._windows:
            key, oldest = next(iter(self._windows.items()))
            if now < oldest.since + self.window:
                break
            self._close(key, self._windows.pop(key))
        closed, self._closed = self._closed, []
        return closed

    def _close(self, key: str, window: _Window) -> None:
        if window.more:
            self._closed.append(Summary(key, window.since, window.more, window.path))


FORGERIES: web.AppKey[ForgeryLog] = web.AppKey("twilio_forgeries")


def twilio_webhook(summary: str, *errors: str) -> Callable[[Handler], Handler]:
    """Declare a Twilio webhook: public (its signature is the check), answering TwiML.

    Whatever fails behind it (the database or Redis down, a bug), Twilio gets TwiML, never
    JSON: she hears the hold recording and Twilio asks the same address again
    (:func:`hold_and_retry`), so no caller is hung up on because a part of ours is down.
    Only what is Twilio's business is refused as such (a forged signature, the line off).
    """
    declare = endpoint(
        "Twilio: " + summary,
        public=True,
        content_type="application/xml",
        errors=["bad_signature", "ivr_off", *errors],
        statuses=[503],
        tags=["phone"],
    )

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def answered(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ApiError:
                raise
            except Exception as exc:
                log.warning(
                    "phone: %s could not be answered (%s); she holds, Twilio asks again",
                    request.path,
                    describe(exc),
                )
                return hold_and_retry(request)

        return declare(answered)

    return wrap


RETRY_PARAM = "retry"
"""How often a webhook was asked again after a failure (in its query string)."""


def hold_and_retry(request: web.Request) -> web.Response:
    """TwiML that holds her a few seconds (the hold recording, or a pause) and asks the same
    address again, counting the tries in the query string."""
    from ivr.twiml import PROMPTS  # the menu's prompts; no database is needed for them

    query = dict(request.query)
    tries = query.get(RETRY_PARAM, "0")
    query[RETRY_PARAM] = str(int(tries) + 1 if tries.isascii() and tries.isdigit() else 1)
    again = public_url(request.app[SETTINGS], request.path) + "?" + urlencode(list(query.items()))
    response = VoiceResponse()
    prompts = request.app.get(PROMPTS)
    if prompts is not None:
        prompts.hold(response, 1)
    else:
        response.pause(length=5)
    response.redirect(again, method="POST")
    return web.Response(
        text=str(response), content_type="application/xml", headers={"Cache-Control": "no-store"}
    )


def public_url(settings: Settings, path_qs: str) -> str:
    """The URL Twilio called for a request whose path and query are ``path_qs``."""
    return settings.public_url.rstrip("/") + path_qs


def stream_url(settings: Settings, path_qs: str) -> str:
    """The URL of a Media Stream at ``path_qs``: the public URL with ``wss``, the only
    scheme Twilio streams to, whatever the public URL says (TLS may end at a proxy in
    front of us). Used for the ``<Stream url>`` we give and the signature we check."""
    return "wss://" + public_url(settings, path_qs).split("://", 1)[1]


def signature_matches(
    settings: Settings, url: str, params: MultiDictProxy[str] | dict[str, str], signature: str
) -> bool:
    """Whether ``signature`` is Twilio's for ``url`` and ``params`` (form fields)."""
    token = settings.twilio_auth_token
    if not token or not signature:
        return False
    validator = _validator(token)
    # The URL as we were called first (one HMAC); the library's full check (with and
    # without the port, two more) only when that does not match.
    if hmac.compare_digest(validator.compute_signature(url, params), signature):
        return True
    return bool(validator.validate(url, params, signature))


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def require_ivr(request: web.Request) -> Settings:
    """The settings, or 503 ``ivr_off`` when Twilio is not configured."""
    settings = request.app[SETTINGS]
    if not settings.ivr_enabled:
        raise ApiError(
            503, "ivr_off", "The phone line is not configured on this server (no Twilio account)."
        )
    return settings


async def twilio_form(request: web.Request) -> MultiDictProxy[str]:
    """The form Twilio posted, once its signature is checked; 403 (audited) otherwise."""
    settings = require_ivr(request)
    form = await request.post()
    params = _texts(form)
    signature = request.headers.get(HEADER, "")
    url = public_url(settings, request.path_qs)
    if not signature_matches(settings, url, params, signature):
        await refuse_forgery(request, "webhook", "missing" if not signature else "wrong")
    return params


async def refuse_forgery(request: web.Request, object_type: str, reason: str) -> NoReturn:
    """403 ``bad_signature``; audited one by one up to the address's allowance for the
    minute, then counted into one summary (a flood cannot flood the audit chain)."""
    app, address, path = request.app, client_address(request), request.path[:64]
    now = app[CLOCK]().timestamp()
    if app[FORGERIES].note(address, path, now):
        await app[AUDIT].record(
            actor_kind="twilio",
            officer_id=None,
            action="twilio.bad_signature",
            object_type=object_type,
            object_id=path,
            address=address,
            detail={"reason": reason},
        )
    await write_summaries(app, now)
    raise ApiError(403, "bad_signature", "This request is not signed by Twilio for this server.")


async def write_summaries(app: web.Application, now: float) -> int:
    """Audit the summaries of the windows over by ``now``; how many were written."""
    written = 0
    for summary in app[FORGERIES].due(now):
        await app[AUDIT].record(
            actor_kind="twilio",
            officer_id=None,
            action="twilio.bad_signature_summary",
            object_type="webhook",
            object_id=summary.path,
            address=summary.address,
            detail={
                "more": summary.more,
                "since": datetime.fromtimestamp(summary.since, UTC).isoformat(),
                "window_seconds": app[FORGERIES].window,
            },
        )
        written += 1
    return written


async def forgeries_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry: summaries are written when their window is over even
    when no further refusal comes, and all of them when the server stops."""
    try:
        async with Periodic(
            lambda: write_summaries(app, app[CLOCK]().timestamp()),
            every=app[FORGERIES].window,
            name="ivr-forgery-summaries",
            failure="phone: refused-signature summaries could not be audited",
        ):
            yield
    finally:
        try:
            await write_summaries(app, math.inf)
        except Exception as exc:
            log.error(
                "phone: refused-signature summaries could not be audited at stop (%s)",
                describe(exc),
            )


def setup(app: web.Application) -> None:
    app[FORGERIES] = ForgeryLog()


def _texts(form: MultiDictProxy[Any]) -> MultiDictProxy[str]:
    # Twilio posts text fields only; a file field counts as empty (and fails the check).
    out: MultiDict[str] = MultiDict()
    for key, value in form.items():
        out.add(key, value if isinstance(value, str) else "")
    return MultiDictProxy(out)
