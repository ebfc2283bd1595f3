"""ICE host addresses for the bridge's peer connections (``SAFECALL_MEDIA_ICE_HOSTS``).

aioice lists the machine's interfaces itself and skips 127.0.0.1, so inside
a loopback-only namespace aiortc finds no candidate at all; in production one
wants to pin the public interface. aioice 0.13 has no option for this
(aiortc/aioice#2 is still open): its ``Connection.gather_candidates`` calls the
module function ``aioice.ice.get_host_addresses``. :func:`install` wraps that
function once, so that code running inside :func:`pinned` (a context variable,
so only the bridge's own tasks) gets the configured addresses and everything
else in the process keeps aioice's own behaviour.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

import aioice.ice
from aiortc import RTCConfiguration

_PINNED: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "media_ice_hosts", default=None
)
_original: Callable[[bool, bool], list[str]] | None = None


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    pinned = _PINNED.get()
    if pinned:
        return [
            host
            for host in pinned
            if (use_ipv6 if ":" in host else use_ipv4)  # aiortc asks for both
        ]
    assert _original is not None
    return _original(use_ipv4, use_ipv6)


def install() -> None:
    """Route aioice's host address lookup through :func:`pinned` (idempotent)."""
    global _original
    if _original is None:
        _original = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = _host_addresses


@contextlib.contextmanager
def pinned(hosts: tuple[str, ...]) -> Iterator[None]:
    """Gather host candidates on ``hosts`` only, for peer connections set up in this block.

    Candidates are gathered in ``setLocalDescription``: call it inside. With
    no hosts, aioice lists the interfaces as usual.
    """
    install()
    token = _PINNED.set(hosts or None)
    try:
        yield
    finally:
        _PINNED.reset(token)


def configuration() -> RTCConfiguration:
    """No STUN/TURN server: aiortc would otherwise ask Google's STUN server.

    The bridge runs on a server with a reachable address (pinned above); the
    officer's browser brings its own TURN relay when she is behind NAT.
    """
    return RTCConfiguration(iceServers=[])
