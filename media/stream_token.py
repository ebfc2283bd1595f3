"""Media stream tokens: the bridge takes a call's audio only with one of these.

When an officer accepts a phone call, the IVR moves the call to the bridge
with ``<Connect><Stream>`` and a ``token`` custom parameter made by
:func:`issue`. The bridge :func:`redeem` s it from the stream's ``start``
message: the token names the signaling session and the Twilio call, is signed
with a secret every process derives from the data key, expires after
:data:`TTL_SECONDS`, and is taken once (a second stream with the same token
is refused, on any process when Redis is shared).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from safecall.state import CLOCK, DATA_KEY

TTL_SECONDS = 60
"""From the Calls update to Twilio opening the stream takes a second or two; a minute is ample."""
MAX_TOKEN = 512
"""Characters; anything longer is not one of ours."""
PURPOSE = "media stream tokens"
REDIS_PREFIX = "media:spent:"


@dataclass(frozen=True)
class StreamClaim:
    """What a valid token entitles its stream to."""

    session_id: str
    """The signaling session the caller joins as the citizen side."""
    call_sid: str
    """Twilio's call (``CA…``), to hang up when the session ends."""


class SpentTokens:
    """Nonces of redeemed tokens, kept until their token would have expired anyway.

    In Redis (``SET NX`` with a TTL) when the app has one, so that a token is
    single-use across processes; in this process's memory otherwise.
    """

    def __init__(self, redis: Redis | None = None) -> None:
        self.redis = redis
        self._local: dict[str, float] = {}

    async def spend(self, nonce: str, ttl: int) -> bool:
        """True the first time ``nonce`` is spent (remembered ``ttl`` seconds); False after."""
        if self.redis is not None:
            return bool(await self.redis.set(REDIS_PREFIX + nonce, "1", nx=True, ex=ttl))
        now = time.monotonic()
        for old in [n for n, until in self._local.items() if until < now]:
            del self._local[old]
        if nonce in self._local:
            return False
        self._local[nonce] = now + ttl
        return True

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None


SPENT = web.AppKey("media_spent_tokens", SpentTokens)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(app: web.Application, body: str) -> str:
    secret = app[DATA_KEY].secret(PURPOSE)
    return _b64(hmac.new(secret, body.encode(), "sha256").digest())


def issue(app: web.Application, *, session_id: str, call_sid: str) -> str:
    """A signed, single-use token for one stream of ``call_sid`` into ``session_id``."""
    expires = int(app[CLOCK]().timestamp()) + TTL_SECONDS
    fields = {"s": session_id, "c": call_sid, "e": expires, "n": secrets.token_urlsafe(12)}
    body = _b64(json.dumps(fields, separators=(",", ":")).encode())
    return f"{body}.{_mac(app, body)}"


async def redeem(app: web.Application, token: str) -> StreamClaim | None:
    """The claim of a genuine, unexpired, unused token (using it up); None otherwise.

    Raises ``RedisError`` when the shared store cannot be reached: the stream
    is then refused like a bad token, but the caller should log why.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 1:
        return None
    body, mac = token.split(".")
    if not hmac.compare_digest(mac.encode(), _mac(app, body).encode()):
        return None
    try:
        fields = json.loads(_unb64(body))
        session_id, call_sid = str(fields["s"]), str(fields["c"])
        expires, nonce = int(fields["e"]), str(fields["n"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None  # signed by us, so only a bug gets here
    left = expires - app[CLOCK]().timestamp()
    if left < 0:
        return None
    if not await app[SPENT].spend(nonce, int(left) + 1):
        return None
    return StreamClaim(session_id, call_sid)
