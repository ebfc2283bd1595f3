"""Only Twilio may drive the phone menu: every webhook's ``X-Twilio-Signature`` is checked.

The signature covers the URL Twilio called and the form it posted
(https://www.twilio.com/docs/usage/webhooks/webhooks-security). Behind a
reverse proxy the URL the server sees is not the one Twilio called, so it is
rebuilt from ``SAFECALL_PUBLIC_URL`` and the request's path and query. A
missing or wrong signature gets 403 ``bad_signature``, is audited (the path
and the reason, never the caller's number) and nothing else happens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator

from safecall.endpoint import endpoint
from safecall.errors import ApiError, Handler
from safecall.settings import Settings
from safecall.state import AUDIT, SETTINGS, client_address

HEADER = "X-Twilio-Signature"


def twilio_webhook(summary: str, *errors: str) -> Callable[[Handler], Handler]:
    """Declare a Twilio webhook: public (its signature is the check), answering TwiML."""
    return endpoint(
        "Twilio: " + summary,
        public=True,
        content_type="application/xml",
        errors=["bad_signature", "ivr_off", *errors],
        statuses=[503],
        tags=["phone"],
    )


def public_url(settings: Settings, path_qs: str) -> str:
    """The URL Twilio called for a request whose path and query are ``path_qs``."""
    return settings.public_url.rstrip("/") + path_qs


def signature_matches(
    settings: Settings, url: str, params: MultiDictProxy[str] | dict[str, str], signature: str
) -> bool:
    """Whether ``signature`` is Twilio's for ``url`` and ``params`` (form fields)."""
    token = settings.twilio_auth_token
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, params, signature))


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
        await request.app[AUDIT].record(
            actor_kind="twilio",
            officer_id=None,
            action="twilio.bad_signature",
            object_type="webhook",
            object_id=request.path[:64],
            address=client_address(request),
            detail={"reason": "missing" if not signature else "wrong"},
        )
        raise ApiError(403, "bad_signature", "This request is not signed by Twilio.")
    return params


def _texts(form: MultiDictProxy[Any]) -> MultiDictProxy[str]:
    # Twilio posts text fields only; a file field counts as empty (and fails the check).
    out: MultiDict[str] = MultiDict()
    for key, value in form.items():
        out.add(key, value if isinstance(value, str) else "")
    return MultiDictProxy(out)
