"""``GET /twilio/media``: Twilio Media Streams into the bridge.

Public (Twilio has no login) and guarded twice: the upgrade must carry a
valid ``X-Twilio-Signature`` for the ``wss://`` URL Twilio called (built from
``SAFECALL_PUBLIC_URL``; no parameters), or it is refused with 403
``bad_signature`` before any WebSocket exists, and audited; then the stream's
``start`` must carry a genuine, unused ``token`` custom parameter
(:mod:`media.stream_token`), or the socket is closed (1008) with nothing joined.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web
from redis.exceptions import RedisError

from media.bridge import Bridge
from media.config import MediaConfig
from media.stream_token import SPENT, SpentTokens, redeem
from media.telephony import TELEPHONY
from media.twilio_stream import Closed, MediaStream, Start
from safecall.endpoint import endpoint
from safecall.errors import ApiError
from safecall.redis_client import redis_client
from safecall.state import SETTINGS

log = logging.getLogger(__name__)

MEDIA_CONFIG = web.AppKey("media_config", MediaConfig)
BRIDGES: web.AppKey[set[Bridge]] = web.AppKey("media_bridges")
"""The calls bridged by this process right now."""
MAX_FRAME = 64 * 1024
"""Twilio's messages are small (a media message is about 300 bytes)."""


def setup(app: web.Application) -> None:
    """Add this package's routes and resources to the app."""
    app[MEDIA_CONFIG] = MediaConfig()
    app[BRIDGES] = set[Bridge]()
    app[SPENT] = SpentTokens()
    app.router.add_get("/twilio/media", media_stream)


async def media_context(app: web.Application) -> AsyncIterator[None]:
    url = app[SETTINGS].redis_url
    if url:
        app[SPENT].redis = redis_client(url, socket_connect_timeout=5, socket_timeout=5)
    yield
    bridges: set[Bridge] = app[BRIDGES]
    for bridge in list(bridges):  # ends each call: nothing would carry its audio
        await bridge.stream.close()
    running = [bridge.task for bridge in bridges if bridge.task is not None]
    if running:  # each hangs up its call and ends its session
        await asyncio.wait(running, timeout=app[MEDIA_CONFIG].hangup_wait_seconds + 5)
    await app[SPENT].close()


@endpoint(
    "Twilio Media Streams (bidirectional, <Connect><Stream>) for a phone call an officer "
    "accepted; signed by Twilio, with the call's single-use stream token (docs/media.md).",
    public=True,
    document=False,
    errors=["bad_signature", "ivr_off", "not_websocket"],
    statuses=[403, 503],
)
async def media_stream(request: web.Request) -> web.StreamResponse:
    telephony = request.app.get(TELEPHONY)
    if telephony is None:
        raise ApiError(503, "ivr_off", "The phone line is not configured on this server.")
    await telephony.check_stream(request)
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_FRAME, compress=False)
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "not_websocket", "Connect to this address with a WebSocket.")
    await ws.prepare(request)
    app = request.app
    config = app[MEDIA_CONFIG]
    stream = MediaStream(ws)
    start: Start | None = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(config.start_timeout_seconds):
            while start is None:
                event = await stream.next_event()
                if isinstance(event, Closed):
                    return ws
                if isinstance(event, Start):
                    start = event
    if start is None:
        log.info("media: a stream sent no start in time; closing it")
        await ws.close(code=WSCloseCode.POLICY_VIOLATION)
        return ws
    stream.stream_sid = start.stream_sid
    if start.encoding != "audio/x-mulaw" or start.sample_rate != 8000:
        log.warning("media: a stream in %s at %d Hz was refused", start.encoding, start.sample_rate)
        await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"8 kHz mu-law only")
        return ws
    try:
        claim = await redeem(app, start.custom_parameters.get("token", ""))
    except (RedisError, OSError):
        log.warning("media: stream tokens cannot be checked (Redis unreachable); refusing a stream")
        claim = None
    if claim is None or claim.call_sid != start.call_sid:
        log.warning("media: a stream without a valid token was refused")
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"invalid stream token")
        return ws
    bridge = Bridge(app, stream, claim, config)
    bridges: set[Bridge] = app[BRIDGES]
    bridges.add(bridge)
    # Its own task: aiohttp cancels a handler whose connection is lost, and a lost
    # stream is exactly when the bridge must still end the session and the call.
    bridge.task = asyncio.create_task(bridge.run())
    bridge.task.add_done_callback(lambda _: bridges.discard(bridge))
    await asyncio.shield(bridge.task)
    return ws
