"""Signaling on the app: ``GET /ws`` (the WebSocket), ``GET /api/ice-servers``, the hub's life.

``/ws`` is public: a page proves which side it is by the session token in its
``join`` message; the officer side also needs the officer's login cookie.
Before the upgrade, a socket opened by another site's page (``Origin`` not
allowed) is refused with 403 ``bad_origin``, and an address opening too many
sockets too fast with 429 ``too_many_connections``.

On shutdown the hub stops taking sessions, and every socket is closed with
going-away (1001) so its page reconnects, to another process when there is
one; sessions survive in Redis and resume there. ``safecall serve`` calls
``Hub.drain()`` on SIGTERM, before aiohttp's shutdown, which also lets calls
in progress end first (capped) when this process is the only one.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from officers.auth import COOKIE, officer_for_token
from officers.origin import own_origins
from safecall.endpoint import endpoint
from safecall.errors import ApiError, read_query
from safecall.redis_client import redis_client
from safecall.state import CLOCK, DATA_KEY, DB, SETTINGS, client_address
from signaling.bus import CHANNEL, Bus, LocalBus, RedisBus, new_node_id
from signaling.config import SignalingConfig
from signaling.connection import Authorize, Connection
from signaling.errors import SignalingError
from signaling.hub import Hub, token_hash
from signaling.ice import IceServers, ice_servers
from signaling.limits import ConnectionLimit
from signaling.memory_store import MemoryStore
from signaling.redis_store import RedisStore
from signaling.store import Seat, SessionStore

CONFIG = web.AppKey("signaling_config", SignalingConfig)
HUB = web.AppKey("signaling_hub", Hub)
CONNECTION_LIMIT = web.AppKey("signaling_connection_limit", ConnectionLimit)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[CONFIG] = SignalingConfig(
        grace_seconds=settings.call_grace_seconds, node_ttl_seconds=settings.node_ttl_seconds
    )
    app.router.add_get("/ws", websocket)
    app.router.add_get("/api/ice-servers", get_ice_servers)


async def hub_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    url = app[SETTINGS].redis_url
    client: Redis | None = None
    store: SessionStore
    bus: Bus
    if url:
        node_id = new_node_id()
        client = redis_client(
            url,
            client_name=f"safecall-signaling:{node_id}",  # who is who in CLIENT LIST
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=10,
            health_check_interval=10,
        )
        store = RedisStore(
            client,
            max_pending=config.max_pending,
            idle_ttl=config.idle_ttl_seconds,
            ended_ttl=config.ended_ttl_seconds,
        )
        # Pub/sub ignores the database number: name the channel after it, so that
        # deployments (or test runs) on other databases of one Redis stay apart.
        database = client.connection_pool.connection_kwargs.get("db", 0)
        bus = RedisBus(client, channel=f"{CHANNEL}:{database}", node_id=node_id)
    else:
        store = MemoryStore(
            max_pending=config.max_pending,
            idle_ttl=config.idle_ttl_seconds,
            ended_ttl=config.ended_ttl_seconds,
        )
        bus = LocalBus().attach()
    secret = app[DATA_KEY].secret("signaling join tokens")
    hub = Hub(store, bus, config, token_secret=secret)
    app[HUB] = hub
    app[CONNECTION_LIMIT] = ConnectionLimit(config.connections_burst, config.connections_per_second)
    await hub.start()
    yield
    await hub.close()
    if client is not None:
        await client.aclose()


async def drain(app: web.Application) -> None:
    # By the time on_shutdown runs, aiohttp has stopped reading every connection
    # (pre_shutdown drops incoming data, WebSocket frames included): waiting for
    # calls here would only hold pages that can no longer be heard. Send them
    # away at once; to let calls finish first, call ``app[HUB].drain()`` on
    # SIGTERM before the runner's cleanup.
    if HUB in app:
        await app[HUB].drain(wait_for_calls=False)


async def her_session(request: web.Request) -> str:
    """The session in the path, when the request carries its citizen's token
    (``Authorization: Bearer``: her join or resume token); 401 ``invalid_session_token``
    otherwise. Her page's own requests about her contact use it."""
    session_id = request.match_info["session_id"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(session_id) > 64:
        raise ApiError(401, "invalid_session_token", "Send your contact's token.")
    seat = await request.app[HUB].store.seat(session_id, token_hash(token))
    if seat is None or seat.side != "citizen":
        raise ApiError(401, "invalid_session_token", "Send your contact's token.")
    return session_id


def _allowed_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser page (browsers always send Origin on a WebSocket)
    return origin.strip().lower() in own_origins(request)


def _officer_check(request: web.Request) -> Authorize:
    cookie = request.cookies.get(COOKIE)

    async def authorize(seat: Seat) -> None:
        if seat.side != "officer":
            return
        if not cookie:
            raise SignalingError("login_required")
        async with request.app[DB]() as session:
            officer = await officer_for_token(session, cookie, request.app[CLOCK]())
        if officer is None:
            raise SignalingError("login_required", "Your login has ended; log in again.")
        if seat.officer_id is not None and officer.id != seat.officer_id:
            raise SignalingError("wrong_officer")

    return authorize


@endpoint(
    "The signaling WebSocket for browser calls and chat (protocol: docs/signaling.md).",
    public=True,
    document=False,
    errors=["bad_origin", "too_many_connections", "going_away", "not_websocket"],
)
async def websocket(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    config = request.app[CONFIG]
    if not _allowed_origin(request):
        raise ApiError(403, "bad_origin", "This page may not open calls here; use safecall itself.")
    if hub.draining:
        raise ApiError(
            503, "going_away", "This server is restarting; try again.", {"Retry-After": "1"}
        )
    wait = request.app[CONNECTION_LIMIT].admit(client_address(request), time.monotonic())
    if wait:
        raise ApiError(
            429,
            "too_many_connections",
            "Too many connections from your network just now; try again in a moment.",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )
    ws = web.WebSocketResponse(
        heartbeat=config.heartbeat_seconds,
        max_msg_size=config.hard_message_bytes,
        compress=False,  # a deflate context per socket costs far more than the saving
    )
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "not_websocket", "Connect to this address with a WebSocket.")
    await ws.prepare(request)
    conn = Connection(ws, hub, config, _officer_check(request), request.transport)
    await conn.run()
    return ws


class IceQuery(BaseModel):
    session: str | None = Field(default=None, max_length=64)
    """The call's session id, with its token in ``Authorization: Bearer <token>``."""


async def _may_have_ice(request: web.Request, query: IceQuery) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if query.session and scheme.lower() == "bearer" and token.strip():
        if await request.app[HUB].store.seat(query.session, token_hash(token.strip())):
            return True
    cookie = request.cookies.get(COOKIE)
    if cookie:
        async with request.app[DB]() as session:
            return await officer_for_token(session, cookie, request.app[CLOCK]()) is not None
    return False


@endpoint(
    "STUN and TURN servers for a call, with TURN credentials that expire. Send the call's "
    "session id (?session=) and its join or resume token (Authorization: Bearer), or be "
    "logged in to the console.",
    public=True,
    query=IceQuery,
    response=IceServers,
    errors=["invalid_session_token"],
    statuses=[401],
    tags=["signaling"],
)
async def get_ice_servers(request: web.Request) -> web.Response:
    query = read_query(request, IceQuery)
    if not await _may_have_ice(request, query):
        raise ApiError(
            401,
            "invalid_session_token",
            "Send your call's session id and token, or log in to the console.",
        )
    settings = request.app[SETTINGS]
    servers = ice_servers(
        settings.stun_urls,
        settings.turn_urls,
        settings.turn_secret,
        request.app[CONFIG].turn_ttl_seconds,
        time.time(),
    )
    return web.json_response(
        servers.model_dump(exclude_none=True), headers={"Cache-Control": "no-store"}
    )
