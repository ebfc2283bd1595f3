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
    """Where a request came from: the peer, or X-Forwarded-For behind a trusted proxy.

    The *last* address of X-Forwarded-For is the one our proxy saw: a client may send
    the header itself, and a proxy that appends (nginx's ``$proxy_add_x_forwarded_for``)
    keeps what she sent in front, so the first one is hers to choose.
    """
    if request.app[SETTINGS].trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:64]
    return (request.remote or "unknown")[:64]
