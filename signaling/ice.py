"""ICE servers for a call: STUN, and TURN with time-limited credentials.

TURN credentials follow coturn's REST shared-secret scheme (``use-auth-secret``
with ``static-auth-secret``): the username is ``"<expiry unix time>:<id>"`` and
the password is ``base64(HMAC-SHA1(secret, username))``; coturn recomputes it
and refuses it after the expiry. The id is random: it names no one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from pydantic import BaseModel


class IceServer(BaseModel):
    """One entry of ``RTCConfiguration.iceServers``."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServers(BaseModel):
    """Pass ``iceServers`` straight to ``new RTCPeerConnection({iceServers})``."""

    iceServers: list[IceServer]
    ttl: int
    """Seconds the TURN credentials stay valid."""


def turn_password(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def turn_credentials(secret: str, ttl: int, now: float) -> tuple[str, str]:
    """``(username, password)`` valid for ``ttl`` seconds from ``now``."""
    username = f"{int(now) + ttl}:{secrets.token_hex(8)}"
    return username, turn_password(secret, username)


def ice_servers(
    stun_urls: tuple[str, ...],
    turn_urls: tuple[str, ...],
    turn_secret: str | None,
    ttl: int,
    now: float,
) -> IceServers:
    """The servers a page should use; empty when none are configured (host candidates only)."""
    servers: list[IceServer] = []
    if stun_urls:
        servers.append(IceServer(urls=list(stun_urls)))
    if turn_urls and turn_secret:
        username, password = turn_credentials(turn_secret, ttl, now)
        servers.append(IceServer(urls=list(turn_urls), username=username, credential=password))
    return IceServers(iceServers=servers, ttl=ttl)
