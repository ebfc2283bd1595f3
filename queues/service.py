"""The routing engine inside the server: one router per process, started and stopped
with the app, with the timeline writer beside it.

With ``SAFECALL_REDIS_URL`` set the router uses the Redis store (several server
processes share the queues); otherwise the in-process store. The routing
configuration comes from ``SAFECALL_ROUTING_FILE`` or the packaged defaults,
and is checked before the server serves anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from queues.memory_store import MemoryStore
from queues.redis_store import RedisStore, consumer_name
from queues.router import Router
from queues.store import Store
from queues.timeline_sink import GROUP, TimelineSink
from safecall.state import CLOCK, DB, ROUTING, SETTINGS

ROUTER = web.AppKey("router", Router)


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
    sink = TimelineSink(store, app[DB], consumer_name())
    sink.start()
    app[ROUTER] = router
    try:
        yield
    finally:
        await sink.stop()
        await router.stop()
