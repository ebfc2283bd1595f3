"""``GET /api/probe?bytes=N``: N bytes (0 to 65,536) that do not compress, never cached.

The citizen page times it to judge her network when the browser does not say
(``navigator.connection``): the round trip with an empty answer, then the
throughput over a few kilobytes (safecall/web/bandwidth.js). The bytes are
random, made once at start; they carry nothing.
"""

from __future__ import annotations

import os

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from safecall.endpoint import endpoint
from safecall.errors import read_query

MAX_BYTES = 65536
FILLER = web.AppKey("probe_filler", bytes)


class ProbeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bytes: int = Field(default=16384, ge=0, le=MAX_BYTES, description="How many bytes to send.")
    n: str | None = Field(default=None, max_length=40, description="Ignored (a cache buster).")


@endpoint(
    "Bytes for the citizen page to time (her network's round trip and throughput).",
    public=True,
    query=ProbeQuery,
    content_type="application/octet-stream",
    tags=["contacts"],
)
async def probe(request: web.Request) -> web.Response:
    asked = read_query(request, ProbeQuery)
    body = request.app[FILLER][: asked.bytes]
    return web.Response(
        body=body,
        content_type="application/octet-stream",
        headers={"Cache-Control": "no-store"},
    )


def setup(app: web.Application) -> None:
    app[FILLER] = os.urandom(MAX_BYTES)
    app.router.add_get("/api/probe", probe)
