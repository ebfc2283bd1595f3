"""The connections ``safecall serve`` accepts: deadlines for a request's head and body,
and a cap on open connections per address.

aiohttp waits for a request's head as long as a connection may stay idle (an hour
by default): a client that sends half a head, or a body one byte at a time, holds
a socket and its memory for that long, and a few hundred such clients hold them
all. So each connection is watched from outside aiohttp's own protocol:

* its request head (request line and headers) must arrive within
  ``header_seconds`` of the connection opening, or of the first byte after the
  previous answer; else it is answered 408 ``request_timeout`` and closed (closed
  without a word when not a byte came: browsers open sockets ahead of need and
  retry on a fresh one);
* once the head is read, the body must arrive within ``body_seconds``; else the
  connection is closed (the handler reading it sees it break off);
* an address (an IPv6 one by its /64) may hold ``per_address`` connections at
  once; one more is answered 429 ``too_many_connections`` and closed. Behind a
  reverse proxy every connection comes from the proxy: the proxy limits per client
  there (docs/security.md), and the cap here is off unless set.

A WebSocket is one long request: no deadline runs while it is open (its own
heartbeat and join timeout watch it). Idle keep-alive connections close after
``keepalive_seconds``. :class:`GuardedSite` is the TCP site that serves
through the watch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from safecall.ratelimit import address_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    header_seconds: float = 10.0
    """Longest wait for a request's head (request line and headers)."""
    body_seconds: float = 60.0
    """Longest wait for a request's body once its head is read."""
    keepalive_seconds: float = 75.0
    """How long an idle connection stays open between requests."""
    per_address: int = 256
    """Open connections per address at once; 0 for no cap."""


def raw_refusal(status: int, reason: str, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer (JSON error, connection closing), for a connection that
    no handler will answer."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n\r\n"
    )
    return head.encode() + body


TIMED_OUT = raw_refusal(
    408, "Request Timeout", "request_timeout", "The request did not arrive in time; send it again."
)
TOO_MANY = raw_refusal(
    429,
    "Too Many Requests",
    "too_many_connections",
    "Too many connections from your network are open; close some and try again.",
)


class _Watch(asyncio.Protocol):
    """One connection: aiohttp's handler inside, the deadlines around it."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: RequestHandler | None = None
        self._transport: asyncio.Transport | None = None
        self._address: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._state = "head"
        """``head`` (a head may be on its way), ``busy`` (a request is handled: a
        WebSocket's lasts as long as the socket) or ``idle`` (between requests)."""
        self._bytes_while_busy = False
        self._head_begun = False
        self._payload: Any = None

    # --- asyncio.Protocol, passed on to aiohttp's handler -----------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        address = address_key(str(peer[0])) if peer else "unknown"
        if not self._guard.admit(address):
            transport.write(TOO_MANY)
            transport.close()
            return
        self._address = address
        self._inner = self._guard.server()
        self._guard.watching[self._inner] = self
        self._inner.connection_made(transport)
        self._arm(self._guard.limits.header_seconds, self._head_late)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._state == "idle":
            self._state = "head"
            self._arm(self._guard.limits.header_seconds, self._head_late)
        if self._state == "head":
            self._head_begun = self._head_begun or bool(data)
        elif self._state == "busy" and self._payload is None:
            self._bytes_while_busy = True
        self._inner.data_received(data)
        if self._state == "busy" and self._payload is not None and self._payload.is_eof():
            self._body_done()

    def eof_received(self) -> bool | None:
        if self._inner is not None:
            self._inner.eof_received()
        return None  # the transport closes itself

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._address is not None:
            self._guard.release(self._address)
            self._address = None
        inner, self._inner = self._inner, None
        if inner is not None:
            self._guard.watching.pop(inner, None)
            inner.connection_lost(exc)

    # --- what aiohttp tells us through the server's factory and handler ------------------

    def head_read(self, payload: Any) -> None:
        self._disarm()
        self._state = "busy"
        self._head_begun = False
        self._bytes_while_busy = False
        if payload.is_eof():
            self._payload = None
        else:
            self._payload = payload
            self._arm(self._guard.limits.body_seconds, self._body_late)

    def request_done(self) -> None:
        if self._state != "busy":
            return
        self._disarm()
        self._payload = None
        self._state = "idle"
        if self._bytes_while_busy:  # the next head began while this one was answered
            self._state = "head"
            self._arm(self._guard.limits.header_seconds, self._head_late)

    # --- deadlines -----------------------------------------------------------------------

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _body_done(self) -> None:
        self._disarm()
        self._payload = None

    def _head_late(self) -> None:
        self._timer = None
        if self._state == "head" and self._transport is not None:
            if self._head_begun:
                self._transport.write(TIMED_OUT)
            self._transport.close()

    def _body_late(self) -> None:
        self._timer = None
        payload = self._payload
        if self._state == "busy" and payload is not None and not payload.is_eof():
            if self._transport is not None:
                self._transport.close()


class ConnectionGuard:
    """The protocol factory: aiohttp's server, each connection watched (:class:`_Watch`)."""

    def __init__(self, server: web.Server, limits: ConnectionLimits) -> None:
        self.server = server
        self.limits = limits
        self.watching: dict[RequestHandler, _Watch] = {}
        self._open: Counter[str] = Counter()
        # aiohttp calls the request factory once a head is parsed, and the handler for
        # each request; both are the server's public attributes, read by each
        # connection's handler when it is made, so they are wrapped before any is.
        make_request = server.request_factory
        handle = server.request_handler

        def factory(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
            watch = self.watching.get(protocol)
            if watch is not None:
                watch.head_read(payload)
            return make_request(message, payload, protocol, writer, task)

        async def handler(request: web.BaseRequest) -> web.StreamResponse:
            try:
                return await handle(request)
            finally:
                watch = self.watching.get(request.protocol)
                if watch is not None:
                    watch.request_done()

        server.request_factory = factory
        server.request_handler = handler

    def __call__(self) -> asyncio.Protocol:
        return _Watch(self)

    def admit(self, address: str) -> bool:
        cap = self.limits.per_address
        if cap and self._open[address] >= cap:
            log.warning("refused a connection: %d open from one address", cap)
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def open_from(self, address: str) -> int:
        """Connections open from ``address`` now (for tests and diagnostics)."""
        return self._open[address_key(address)]


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through a :class:`ConnectionGuard`."""

    __slots__ = ("_guard", "_host", "_port")

    def __init__(
        self, runner: web.AppRunner, host: str, port: int, limits: ConnectionLimits
    ) -> None:
        super().__init__(runner)
        server = runner.server
        if server is None:
            raise RuntimeError("set the runner up before making its site")
        self._guard = ConnectionGuard(server, limits)
        self._host = host
        self._port = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._guard, self._host, self._port, backlog=self._backlog, reuse_address=True
        )
