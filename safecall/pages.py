"""The web pages (citizen page, console, tracking) and their static files.

Pages are sent with ``Cache-Control: no-store`` and a strict content
security policy: the citizen page must leave nothing behind in the browser.
Both are read once at start (:mod:`safecall.assets`): the pages name their
static files by version, and everything is sent compressed when the browser
accepts it (``Vary: Accept-Encoding``); static files are cached (see there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from safecall.assets import IMMUTABLE, REVALIDATE, Assets, chosen_encoding, encoded
from safecall.endpoint import endpoint
from safecall.errors import ApiError, Handler
from safecall.state import SETTINGS

WEB = Path(__file__).parent / "web"
ASSETS = web.AppKey("assets", Assets)

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

    @endpoint(summary, public=True, content_type="text/html", document=False)
    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"}
        if map_tiles:
            origin = request.app[SETTINGS].map_origin
            policy = headers["Content-Security-Policy"]
            headers["Content-Security-Policy"] = policy.replace(
                "img-src 'self' data: blob:;", f"img-src 'self' data: blob: {origin};"
            )
        return compressed(request, request.app[ASSETS].files[filename].bodies, headers)

    return handler


def compressed(
    request: web.Request, bodies: Mapping[str, bytes], headers: Mapping[str, str]
) -> web.Response:
    """The body in the best encoding the browser accepts (``Vary: Accept-Encoding``)."""
    encoding = chosen_encoding(request.headers.get("Accept-Encoding", ""), bodies)
    headers = {**headers, "Vary": "Accept-Encoding"}
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    return web.Response(body=bodies[encoding], headers=headers)


def compressed_json(request: web.Request, data: object, headers: Mapping[str, str]) -> web.Response:
    """A public answer holding no one's data (no secret: nothing for BREACH to find),
    compressed when the browser accepts it."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return compressed(
        request, encoded(body, fast=True), {**headers, "Content-Type": "application/json"}
    )


@endpoint("Static files for the pages.", public=True, document=False)
async def static(request: web.Request) -> web.StreamResponse:
    asset = request.app[ASSETS].get(request.match_info["name"])
    if asset is None or asset.name.endswith(".html"):
        raise ApiError(404, "not_found", "There is no such file.")
    encoding = chosen_encoding(request.headers.get("Accept-Encoding", ""), asset.bodies)
    current = request.query.get("v") == asset.version
    # A script or style sheet is not a document: the pages' policies (CSP, framing,
    # permissions) would only cost bytes on every file; nosniff and no-referrer are added
    # to every answer (safecall.response_headers).
    headers = {
        "Content-Type": asset.content_type,
        "Cache-Control": IMMUTABLE if current else REVALIDATE,
        "Vary": "Accept-Encoding",
    }
    if not current:  # a versioned file is never asked again: no tag to send
        headers["ETag"] = asset.etag(encoding)
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    if asset.etag(encoding) in _tags(request.headers.get("If-None-Match", "")):
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.bodies[encoding], headers=headers)


def _tags(if_none_match: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in if_none_match.split(",") if tag.strip()}


def setup(app: web.Application) -> None:
    from safecall import app_shell  # its files join the pages' (icons, the offline page)

    app[ASSETS] = Assets.build(WEB, extra=app_shell.files(app[SETTINGS]))
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
