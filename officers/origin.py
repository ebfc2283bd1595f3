"""Refusing cross-site writes: a state-changing request from another site's page.

Browsers send ``Origin`` on every cross-site POST (and on same-site fetch
POSTs); a page elsewhere cannot forge it. When it is present it must be this
server's own origin: the configured public URL, or the scheme and host the
request was sent to. Requests without ``Origin`` (curl, Twilio, older
same-site form posts) pass: the SameSite=Strict cookie already keeps other
sites' requests from being logged in.
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
    """The origins this request may come from."""
    return {
        _origin_of(request.app[SETTINGS].public_url),
        f"{request.scheme}://{request.host}".lower(),
    }


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
