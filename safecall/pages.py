"""The web pages (citizen page, console, tracking) and their static files.

Pages are sent with ``Cache-Control: no-store`` and a strict content
security policy: the citizen page must leave nothing behind in the browser.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from safecall.endpoint import endpoint
from safecall.errors import ApiError, Handler
from safecall.state import SETTINGS

WEB = Path(__file__).parent / "web"

_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".html": "text/html",
}

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(self)",
}


def page(filename: str, summary: str, *, map_tiles: bool = False) -> Handler:
    """A page; ``map_tiles``: its images may also come from the map tile server."""
    path = WEB / filename

    @endpoint(summary, public=True, content_type="text/html", document=False)
    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {**SECURITY_HEADERS, "Content-Type": "text/html"}
        if map_tiles:
            origin = request.app[SETTINGS].map_origin
            policy = headers["Content-Security-Policy"]
            headers["Content-Security-Policy"] = policy.replace(
                "img-src 'self' data: blob:;", f"img-src 'self' data: blob: {origin};"
            )
        return web.FileResponse(path, headers=headers)

    return handler


@endpoint("Static files for the pages.", public=True, document=False)
async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = (WEB / name).resolve()
    if path.parent != WEB.resolve() or path.suffix not in _TYPES or not path.is_file():
        raise ApiError(404, "not_found", "There is no such file.")
    return web.FileResponse(path, headers={**SECURITY_HEADERS, "Content-Type": _TYPES[path.suffix]})


def setup(app: web.Application) -> None:
    app.router.add_get("/", page("index.html", "The citizen page."))
    app.router.add_get("/console", page("console.html", "The officer console.", map_tiles=True))
    app.router.add_get(
        "/console/reports",
        page("reports.html", "The supervisors' reports on screen (log in on the console first)."),
    )
    # The page itself holds nothing: its figures come from /api/wallboard/events, which
    # only supervisors and admins may read; anyone else is told to log in as one.
    app.router.add_get(
        "/console/wallboard",
        page("wallboard.html", "The supervisors' wallboard (log in on the console first)."),
    )
    app.router.add_get("/track", page("track.html", "Track a case by its code."))
    app.router.add_get("/hide", page("hide.html", "How to hide a visit to the helpline's pages."))
    app.router.add_get("/static/{name}", static)
