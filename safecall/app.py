"""The app factory: one explicit place where routes, middlewares and resources meet."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web
from redis.asyncio import Redis

import cases.api
import cases.reports
import cases.tracking_routes
import ivr.routes
import media.routes
import officers.routes
import queues.api
import queues.service
import recordings.routes
import signaling.console_feed
import signaling.intake
import signaling.place_in_line
import signaling.routes
from audit.log import AuditLog
from officers.auth import auth_middleware
from safecall import health, pages, response_headers
from safecall.db import create_engine, session_factory, utcnow
from safecall.errors import error_middleware
from safecall.settings import Settings
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, ENGINE, REDIS, SETTINGS
from sealing.data_key import DataKey


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> web.Application:
    """The whole server. Resources open on startup and close on cleanup."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware],
        client_max_size=256 * 1024,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[DATA_KEY] = DataKey.load(settings.data_key_file)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(queues.service.router_context)

    response_headers.setup(app)
    health.setup(app)
    officers.routes.setup(app)
    cases.api.setup(app)
    cases.reports.setup(app)
    cases.tracking_routes.setup(app)
    queues.api.setup(app)
    signaling.routes.setup(app)
    signaling.intake.setup(app)
    signaling.place_in_line.setup(app)
    signaling.console_feed.setup(app)
    ivr.routes.setup(app)
    media.routes.setup(app)
    recordings.routes.setup(app)
    pages.setup(app)
    return app


def settle_heap() -> None:
    """For a serving process, once its app has started: what start-up made (modules, the
    menu, compiled statements: about 160,000 objects) is put out of the garbage
    collector's reach, so that a full collection no longer walks it; that walk took
    about 90 ms, a stall of every webhook and call in the process. Not done by the app
    itself: a test process starts hundreds of apps, and each collection here costs it
    about 80 ms."""
    gc.collect()
    gc.freeze()


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url)
    app[ENGINE] = engine
    app[DB] = session_factory(engine)
    app[AUDIT] = AuditLog(app[DB], settings.audit_key_file, clock=app[CLOCK])
    yield
    await app[AUDIT].close()
    await engine.dispose()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    """One shared Redis client for small things (readiness, single-use tokens)."""
    url = app[SETTINGS].redis_url
    if url is None:
        yield
        return
    client = Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5)
    app[REDIS] = client
    yield
    await client.aclose()
