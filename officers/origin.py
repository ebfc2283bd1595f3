"""Refusing cross-site writes: a state-changing request from another site's page.

Browsers send ``Origin`` on every cross-site POST (and on same-site fetch
POSTs); a page elsewhere cannot forge it. When it is present it must be one of
the origins configured: the public URL's (``SAFECALL_PUBLIC_URL``) or one of
``SAFECALL_ALLOWED_ORIGINS``. The Host header is never trusted for this: a page
on a name the attacker points at this server (DNS rebinding) sends a Host and an
Origin that agree. Requests without ``Origin`` (curl, Twilio, older same-site
form posts) pass: the SameSite=Strict cookie already keeps other sites'
requests from being logged in.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from safecall.errors import ApiError
from safecall.state import SETTINGS

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(request: web.Request) -> set[str]:
    """The origins this request may come from: the public URL's and the allowed ones."""
    settings = request.app[SETTINGS]
    return {_origin_of(settings.public_url), *settings.allowed_origins}


def check_origin(request: web.Request) -> None:
    """Raise 403 ``bad_origin`` for a write whose Origin is another site (or ``null``)."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if origin.strip().lower() not in own_origins(request):
        raise ApiError(
            403, "bad_origin", "This request came from another site's page; use safecall itself."
        )
