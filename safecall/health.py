"""Liveness, readiness, metrics and the OpenAPI document.

``/healthz`` and ``/readyz`` say only whether the process serves (no process id,
no versions). ``/metrics`` holds staffing per service line, so it answers only
a scraper on this host (loopback, not through a proxy) or one that sends
``SAFECALL_METRICS_TOKEN`` as a bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass

import prometheus_client
from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import text

from safecall import openapi
from safecall.endpoint import endpoint
from safecall.errors import ApiError
from safecall.state import ENGINE, REDIS, SETTINGS


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    database: str
    redis: str


@endpoint("Liveness: the process answers.", public=True, response=Health, tags=["health"])
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@endpoint(
    "Readiness: the database and, when configured, Redis are reachable.",
    public=True,
    response=Ready,
    errors=["not_ready", "redis_reset"],
    tags=["health"],
)
async def readyz(request: web.Request) -> web.Response:
    checked = await request.app[READINESS].check(request.app)
    if checked.problem is not None:
        raise ApiError(503, checked.code, checked.problem, {"Retry-After": "1"})
    return web.json_response({"status": "ok", "database": checked.database, "redis": checked.redis})


@dataclass(frozen=True)
class Checked:
    database: str
    redis: str
    problem: str | None
    """Why the node cannot serve, in a sentence; None when it can."""
    code: str = "not_ready"
    """The stable code of the problem (``redis_reset`` while the queues are rebuilt)."""


@dataclass(frozen=True)
class NotReady:
    """A readiness check's problem with a code of its own (a plain sentence is
    ``not_ready``)."""

    code: str
    message: str


class Readiness:
    """The readiness checks, cached for ``keep`` seconds and run by one request at a time:
    a load balancer asking often, under load, costs one database and one Redis round trip
    a second, and is answered at once (a slow check must not get a healthy node ejected)."""

    def __init__(self, keep: float = 1.0, wait: float = 2.0) -> None:
        self.keep = keep
        self.wait = wait
        self._last: tuple[float, Checked] | None = None
        self._lock = asyncio.Lock()

    async def check(self, app: web.Application) -> Checked:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.keep:
            return self._last[1]
        async with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < self.keep:
                return self._last[1]
            checked = await self._run(app)
            self._last = (time.monotonic(), checked)
            return checked

    async def _run(self, app: web.Application) -> Checked:
        database = redis_state = "not_configured"
        try:
            async with asyncio.timeout(self.wait):
                async with app[ENGINE].connect() as conn:
                    await conn.execute(text("SELECT 1"))
            database = "ok"
        except Exception:
            return Checked("unreachable", redis_state, "The database is not reachable.")
        client = app.get(REDIS)
        if client is not None:
            try:
                async with asyncio.timeout(self.wait):
                    await client.ping()
                redis_state = "ok"
            except Exception:
                return Checked(database, "unreachable", "Redis is not reachable.")
        for why in app[READINESS_CHECKS]:
            problem = why()
            if isinstance(problem, NotReady):
                return Checked(database, redis_state, problem.message, problem.code)
            if problem is not None:
                return Checked(database, redis_state, problem)
        return Checked(database, redis_state, None)


READINESS = web.AppKey("readiness", Readiness)
READINESS_CHECKS: web.AppKey[list[Callable[[], str | NotReady | None]]] = web.AppKey(
    "readiness_checks"
)
"""More reasons a node is not ready, from the packages that know them (the router while it
rebuilds after Redis lost its data): each gives a sentence (or a :class:`NotReady` with its
own code), or None."""


def _from_this_host(request: web.Request) -> bool:
    """The peer is loopback and no proxy forwarded the request (a proxy on this host
    adds X-Forwarded-For; what it passes on is not from this host)."""
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def may_scrape(request: web.Request) -> bool:
    """A scraper on this host, or one with the metrics token."""
    if _from_this_host(request):
        return True
    token = request.app[SETTINGS].metrics_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token is None or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@endpoint(
    "Prometheus metrics: to this host, or with SAFECALL_METRICS_TOKEN as a bearer token.",
    public=True,
    content_type="text/plain",
    errors=["metrics_forbidden"],
    document=False,
)
async def metrics(request: web.Request) -> web.Response:
    if not may_scrape(request):
        raise ApiError(
            403,
            "metrics_forbidden",
            "Metrics are served to this host only, or with the metrics token "
            "(SAFECALL_METRICS_TOKEN) as 'Authorization: Bearer <token>'.",
        )
    body = prometheus_client.generate_latest()
    return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})


@endpoint("This OpenAPI document.", public=True, document=False)
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi.build(request.app))


def setup(app: web.Application) -> None:
    app[READINESS] = Readiness()
    app[READINESS_CHECKS] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/openapi.json", openapi_json)
