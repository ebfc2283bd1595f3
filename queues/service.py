"""The routing engine inside the server: one router per process, started and stopped
with the app, with the timeline writer beside it.

With ``SAFECALL_REDIS_URL`` set the router uses the Redis store (several server
processes share the queues); otherwise the in-process store. The routing
configuration comes from ``SAFECALL_ROUTING_FILE`` or the packaged defaults,
and is checked before the server serves anything. On Redis, :mod:`queues.recovery`
watches for Redis losing the state (``RECOVERY``; the node is not ready while it rebuilds).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from queues.memory_store import MemoryStore
from queues.recovery import Recovery
from queues.redis_store import RedisStore, consumer_name
from queues.router import Router
from queues.store import Store
from queues.timeline_sink import GROUP, TimelineSink
from safecall.health import READINESS_CHECKS, NotReady
from safecall.state import CLOCK, DB, ROUTING, SETTINGS

ROUTER = web.AppKey("router", Router)
RECOVERY = web.AppKey("queues_recovery", Recovery)
"""Present when the router runs on Redis (the only store that can lose its state)."""
REBUILDING = NotReady(
    "redis_reset", "Redis lost its data (a restart without persistence); the queues are rebuilt."
)


async def router_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the database's): the router and the timeline sink."""
    settings = app[SETTINGS]
    config = app[ROUTING]
    store: Store
    if settings.redis_url:
        store = RedisStore(config, settings.redis_url, groups=(GROUP,))
    else:
        store = MemoryStore(config, groups=(GROUP,))
    router = Router(store, config, app[CLOCK])
    await router.start()
    recovery = None
    if isinstance(store, RedisStore):
        recovery = Recovery(router, store)
        recovery.start()
        app[RECOVERY] = recovery
        watched = recovery

        def rebuilding() -> NotReady | None:
            return REBUILDING if watched.rebuilding else None

        if READINESS_CHECKS in app:
            app[READINESS_CHECKS].append(rebuilding)
    sink = TimelineSink(store, app[DB], consumer_name())
    sink.start()
    app[ROUTER] = router
    try:
        yield
    finally:
        await sink.stop()
        if recovery is not None:
            await recovery.stop()
        await router.stop()
