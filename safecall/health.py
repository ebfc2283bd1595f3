"""Liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import os

import prometheus_client
from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import text

from safecall import openapi
from safecall.endpoint import endpoint
from safecall.errors import ApiError
from safecall.state import ENGINE, REDIS


class Health(BaseModel):
    status: str
    pid: int


class Ready(BaseModel):
    status: str
    database: str
    redis: str


@endpoint("Liveness: the process answers.", public=True, response=Health, tags=["health"])
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "pid": os.getpid()})


@endpoint(
    "Readiness: the database and, when configured, Redis are reachable.",
    public=True,
    response=Ready,
    errors=["not_ready"],
    tags=["health"],
)
async def readyz(request: web.Request) -> web.Response:
    database = redis_state = "not_configured"
    try:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        raise ApiError(503, "not_ready", "The database is not reachable.") from None
    client = request.app.get(REDIS)
    if client is not None:
        try:
            await client.ping()
            redis_state = "ok"
        except Exception:
            raise ApiError(503, "not_ready", "Redis is not reachable.") from None
    return web.json_response({"status": "ok", "database": database, "redis": redis_state})


@endpoint(
    "Prometheus metrics.",
    public=True,
    content_type="text/plain",
    document=False,
)
async def metrics(request: web.Request) -> web.Response:
    body = prometheus_client.generate_latest()
    return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})


@endpoint("This OpenAPI document.", public=True, document=False)
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi.build(request.app))


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/openapi.json", openapi_json)
