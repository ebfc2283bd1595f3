"""Typed application state shared by every package's handlers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from safecall.settings import Settings

if TYPE_CHECKING:
    from audit.log import AuditLog
    from queues.config import RoutingConfig
    from sealing.data_key import DataKey

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
DATA_KEY: web.AppKey[DataKey] = web.AppKey("data_key")
AUDIT: web.AppKey[AuditLog] = web.AppKey("audit")
REDIS = web.AppKey("redis", Redis)
"""A shared client (text replies) when SAFECALL_REDIS_URL is set; absent otherwise."""
ROUTING: web.AppKey[RoutingConfig] = web.AppKey("routing_config")
"""The routing configuration (SAFECALL_ROUTING_FILE or the defaults), read once at start."""
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
"""Now, as the app sees it; tests replace it to drive delays without sleeping."""


def client_address(request: web.Request) -> str:
    """Where a request came from: the peer, or X-Forwarded-For behind a trusted proxy."""
    if request.app[SETTINGS].trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return (request.remote or "unknown")[:64]
