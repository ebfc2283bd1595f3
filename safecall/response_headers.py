"""Headers every response carries, set in one place (the response-prepare hook).

Answers under ``/api/`` carry personal data (her details, case timelines, officers'
names): ``Cache-Control: no-store`` keeps them out of the browser's and any proxy's
cache (a shared console computer, a family phone), unless a handler chose its own
caching. Every answer carries ``nosniff`` (a JSON error is never run as a script)
and ``Referrer-Policy: no-referrer`` (a page address never leaks to another site).
Pages set a content security policy of their own (:mod:`safecall.pages`).
"""

from __future__ import annotations

from aiohttp import web

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
SERVER = "safecall"
"""Said instead of aiohttp's and Python's versions (and fewer bytes on a 2G link)."""
API_PREFIX = "/api/"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add the headers the response does not set itself."""
    headers = response.headers
    for name, value in ALWAYS.items():
        headers.setdefault(name, value)
    headers["Server"] = SERVER
    if request.path.startswith(API_PREFIX):
        headers.setdefault("Cache-Control", "no-store")


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
