"""One page's WebSocket: read, check, dispatch; deliver in order; acknowledge.

The reader loop takes one text frame at a time: size, pace, then the schema
(:func:`signaling.messages.parse`); anything refused gets an ``error`` with
its code and the loop goes on, unless the error is fatal, when the socket is
closed with the error's close code. Nothing a page sends can raise out of
the loop.

Relayed messages (offer, answer, candidate, ...) read in one burst go to the
hub together, in one store step (one Redis round trip for a burst of
candidates instead of one each): the reader queues them and a relay task
hands the queue to :meth:`Hub.relay <signaling.hub.Hub.relay>` when the
reader has read what had arrived. Anything else the page sends (an ack, a
ping, a refused frame) is handled only once the messages before it are, and
a hangup closes its burst, so each page's messages are handled in the order
it sent them, as if one by one.

Delivery to the page goes through :meth:`Connection.deliver`, serialised by a
lock: a message is sent only if it is the next seq for this socket; an older
one is skipped (already sent) and a gap is filled from the store first, so a
page sees each mailbox message once, in order, whatever order the bus brought
them in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, WSMsgType, web
from redis.exceptions import RedisError

from signaling.bus import new_conn_id
from signaling.config import SignalingConfig
from signaling.errors import SignalingError
from signaling.limits import MessageLimit
from signaling.messages import (
    RELAYED_TYPES,
    Ack,
    ClientMessage,
    Join,
    Ping,
    Relayed,
    Resume,
    Side,
    dump,
    parse,
)
from signaling.store import Entry, Seat

if TYPE_CHECKING:
    from signaling.hub import Hub

log = logging.getLogger(__name__)

_HIGH_WATER = 48 * 1024
"""Below asyncio's default write high-water mark (64 KiB), with room for a frame header."""
_MAX_BURST = 64
"""Relayed messages queued before the reader waits for the hub to take them."""
_CORK: int = getattr(socket, "TCP_CORK", 0)
"""Linux: hold partial TCP segments until uncorked (see :meth:`Connection.send`); 0 elsewhere."""

Authorize = Callable[[Seat], Awaitable[None]]
"""Raises a SignalingError when this socket may not take the seat (the officer's login)."""


async def _anyone(seat: Seat) -> None:
    return None


class Connection:
    """A page's socket and what the server knows of it."""

    __slots__ = (
        "_ack_timer",
        "_burst",
        "_corked",
        "_delivering",
        "_inbox",
        "_join_timer",
        "_lock",
        "_relaying",
        "_tcp",
        "acked_in",
        "authorize",
        "config",
        "conn_id",
        "finished",
        "hub",
        "last_in",
        "limit",
        "resume_token",
        "sent_seq",
        "session_id",
        "side",
        "transport",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        hub: Hub,
        config: SignalingConfig,
        authorize: Authorize = _anyone,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self.ws = ws
        self.transport = transport
        """The TCP connection under the socket, to cut when a page stops reading."""
        self.hub = hub
        self.config = config
        self.authorize = authorize
        self.conn_id = new_conn_id(hub.bus.node_id)
        self.session_id: str | None = None
        self.side: Side | None = None
        self.resume_token = ""
        self.sent_seq = 0
        """The last mailbox seq sent on this socket."""
        self.last_in = 0
        """The last seq taken from the page."""
        self.acked_in = 0
        """The last seq acknowledged to the page."""
        self.finished = False
        """The session ended (or the side was taken elsewhere): nothing more goes out."""
        self.limit = MessageLimit(
            config.messages_burst,
            config.messages_per_second,
            config.refusals_before_close,
            time.monotonic(),
        )
        self._lock = asyncio.Lock()
        self._tcp: socket.socket | None = None
        """The TCP socket, to cork (None where that cannot be done)."""
        if transport is not None and _CORK:
            self._tcp = transport.get_extra_info("socket")
        self._corked = False
        self._ack_timer: asyncio.TimerHandle | None = None
        self._join_timer: asyncio.TimerHandle | None = None
        self._burst: list[Relayed] = []
        """Relayed messages read and checked, not yet handed to the hub (in order)."""
        self._relaying: asyncio.Task[None] | None = None
        """The task handing bursts to the hub, while there is one to hand."""
        self._inbox: list[Entry] = []
        """Mailbox messages heard on the bus, waiting for :meth:`deliver`."""
        self._delivering = False

    # ---- reading -----------------------------------------------------------

    async def run(self) -> None:
        """Read until the socket closes; then tell the hub the side has left."""
        loop = asyncio.get_running_loop()
        self._join_timer = loop.call_later(self.config.join_timeout_seconds, self._join_late)
        self.hub.register(self)
        try:
            async for frame in self.ws:
                if frame.type is WSMsgType.TEXT:
                    await self._on_text(frame.data)
                elif frame.type is WSMsgType.BINARY:
                    await self.refuse(SignalingError("not_text"))
        finally:
            self._join_timer.cancel()
            if self._ack_timer is not None:
                self._ack_timer.cancel()
            await self._relayed()  # what was read is taken (or refused) before the side leaves
            await self.hub.left(self)

    async def _on_text(self, text: str) -> None:
        if not self.limit.admit(time.monotonic()):
            code = "too_fast" if self.limit.exhausted else "rate_limited"
            await self._relayed()
            await self.refuse(SignalingError(code))
            return
        limit = self.config.max_message_bytes
        if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
            await self._relayed()
            await self.refuse(
                SignalingError(
                    "too_big", f"Messages are limited to {limit} bytes; this one is more."
                )
            )
            return
        try:
            message = parse(text)
        except SignalingError as exc:
            await self._relayed()
            await self.refuse(exc)
            return
        if self.side is not None and message.type in RELAYED_TYPES:  # the hot path
            self._burst.append(message)  # type: ignore[arg-type]
            if self._relaying is None:
                self._relaying = asyncio.get_running_loop().create_task(self._relay())
            if len(self._burst) >= _MAX_BURST or message.type == "hangup":
                await self._relayed()  # nothing after a hang-up joins its burst
            return
        await self._relayed()
        await self._handle(self._dispatch(message))

    async def _relay(self) -> None:
        """Hand the queued bursts to the hub, one store step each, until none is left."""
        try:
            while self._burst:
                burst, self._burst = self._burst, []
                await self._handle(self.hub.relay(self, burst))
        finally:
            self._relaying = None

    async def _relayed(self) -> None:
        """Wait until every relayed message read so far has been handled."""
        relaying = self._relaying
        if relaying is not None:
            # asyncio.wait: cancelling the reader (the page went away) must not cancel
            # the relay of messages already read.
            await asyncio.wait((relaying,))

    async def _handle(self, step: Awaitable[None]) -> None:
        """Run ``step``; whatever goes wrong becomes an error for the page."""
        try:
            await step
        except SignalingError as exc:
            await self.refuse(exc)
        except (RedisError, OSError, TimeoutError):
            log.warning("signaling: the session store failed; closing a socket to be resumed")
            await self.refuse(SignalingError("unavailable"))
        except Exception:  # a bug, or the database behind the officer's login check
            log.exception(
                "signaling: a message could not be handled; closing a socket to be resumed"
            )
            await self.refuse(SignalingError("unavailable"))

    async def _dispatch(self, message: ClientMessage) -> None:
        if isinstance(message, Ping):
            await self.send(dump({"type": "pong", "nonce": message.nonce}))
        elif isinstance(message, Join | Resume):
            if self.side is not None:
                raise SignalingError("already_joined")
            await self.hub.take(self, message)
            if self.side is not None and self._join_timer is not None:
                self._join_timer.cancel()
        elif self.side is None:
            raise SignalingError("not_joined")
        elif isinstance(message, Ack):
            await self.hub.ack(self, message.seq)
        else:  # relayed messages come through the burst queue (see _on_text)
            await self.hub.relay(self, [message])

    def _join_late(self) -> None:
        if self.side is None and not self.ws.closed:
            self.hub.spawn(self.refuse(SignalingError("join_timeout")))

    # ---- acknowledging the page's messages ---------------------------------

    def taken(self, seq: int) -> bool:
        """Message ``seq`` from the page is safely held: acknowledge it soon (cumulatively).

        True when an ack is due now: the caller (this socket's own reader)
        sends it with :meth:`send_ack`; otherwise a timer sends it shortly.
        """
        if seq > self.last_in:
            self.last_in = seq
        if self.last_in - self.acked_in >= self.config.ack_every:
            return True
        if self._ack_timer is None:
            loop = asyncio.get_running_loop()
            self._ack_timer = loop.call_later(self.config.ack_delay_seconds, self._ack_due)
        return False

    def _ack_due(self) -> None:
        self._ack_timer = None
        self.hub.spawn(self.send_ack())

    async def send_ack(self) -> None:
        if self.last_in > self.acked_in:
            self.acked_in = self.last_in
            await self.send(dump({"type": "ack", "seq": self.last_in}))

    # ---- writing -----------------------------------------------------------

    async def send(self, text: str) -> None:
        """Send one frame; a page that does not take it in time is disconnected (it resumes).

        Frames sent in one turn of the event loop (a burst of relayed
        candidates) leave together at the end of the turn, in one TCP segment
        where they fit, instead of one segment each.
        """
        ws, transport = self.ws, self.transport
        if ws.closed:
            return
        if not self._corked and self._tcp is not None:
            self._hold_frames(self._tcp)
        try:
            # A send waits only when the socket's write buffer passes its high-water
            # mark (64 KiB): short of that, the timeout (a timer per frame) is left
            # out of the hot path.
            if transport is not None and (
                transport.get_write_buffer_size() + 4 * len(text) <= _HIGH_WATER
            ):
                await ws.send_str(text)
            else:
                async with asyncio.timeout(self.config.send_timeout_seconds):
                    await ws.send_str(text)
        except TimeoutError:
            log.info("signaling: a page stopped reading; disconnecting it")
            await self.abort()
        except (ConnectionError, RuntimeError):
            pass  # closing already: the reader loop ends and the side is marked away

    def _hold_frames(self, tcp: socket.socket) -> None:
        try:
            tcp.setsockopt(socket.IPPROTO_TCP, _CORK, 1)
        except OSError:  # closed, or not TCP: send frame by frame
            self._tcp = None
            return
        self._corked = True
        asyncio.get_running_loop().call_soon(self._release_frames)

    def _release_frames(self) -> None:
        self._corked = False
        if self._tcp is not None:
            with contextlib.suppress(OSError):  # closed meanwhile: nothing left to push
                self._tcp.setsockopt(socket.IPPROTO_TCP, _CORK, 0)

    async def deliver(self, entry: Entry) -> None:
        """Send a mailbox message if it is the next one for this socket (see the module doc)."""
        if entry.seq == self.sent_seq + 1 and not self._lock.locked() and not self.finished:
            # The common case, without the lock: the frame is written before
            # send() first waits, so a later one cannot overtake it.
            self.sent_seq = entry.seq
            await self.send(entry.text)
            return
        async with self._lock:
            if self.finished or entry.seq <= self.sent_seq:
                return
            if entry.seq == self.sent_seq + 1:
                self.sent_seq = entry.seq
                await self.send(entry.text)
                return
            await self._catch_up()

    async def deliver_all(self, entries: list[Entry]) -> None:
        """:meth:`deliver` each of ``entries``, in order."""
        for entry in entries:
            if entry.seq == self.sent_seq + 1 and not self._lock.locked() and not self.finished:
                self.sent_seq = entry.seq  # the common case, as in deliver()
                await self.send(entry.text)
            else:
                await self.deliver(entry)

    def deliver_later(self, entries: list[Entry]) -> None:
        """:meth:`deliver` ``entries`` in the background, after those given before."""
        self._inbox.extend(entries)
        if not self._delivering:
            self._delivering = True
            self.hub.spawn(self._deliver_inbox())

    async def _deliver_inbox(self) -> None:
        try:
            while self._inbox:
                entries, self._inbox = self._inbox, []
                await self.deliver_all(entries)
        finally:
            self._delivering = False

    async def catch_up(self) -> None:
        """Send whatever the store holds for this page beyond what this socket sent."""
        async with self._lock:
            if not self.finished:
                await self._catch_up()

    async def _catch_up(self) -> None:
        assert self.session_id is not None and self.side is not None
        for entry in await self.hub.store.pending(self.session_id, self.side, self.sent_seq):
            if entry.seq == self.sent_seq + 1:
                self.sent_seq = entry.seq
                await self.send(entry.text)

    async def start(self, joined: str | None, pending: list[Entry], delivered: int) -> None:
        """Send ``joined`` and the mailbox after ``delivered``, then anything newer in the store."""
        async with self._lock:
            self.sent_seq = delivered
            if joined is not None:
                await self.send(joined)
            for entry in pending:
                if entry.seq == self.sent_seq + 1:
                    self.sent_seq = entry.seq
                    await self.send(entry.text)
            # A message may have landed between the store's answer and this socket
            # becoming known to the hub: the store has it.
            await self._catch_up()

    async def finish(self, ended: str) -> None:
        """The session ended: send what is still waiting, then session-ended, then close."""
        async with self._lock:
            if self.finished:
                return
            if self.session_id is not None and self.side is not None:
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    await self._catch_up()
            self.finished = True
            await self.send(ended)
        self.close_soon(WSCloseCode.OK)

    async def refuse(self, error: SignalingError) -> None:
        """Send ``error``; close with its close code when it is fatal."""
        frame = {
            "type": "error",
            "code": error.code,
            "message": error.message,
            "fatal": error.fatal,
        }
        if error.ref_seq is not None:
            frame["ref_seq"] = error.ref_seq
        if error.fatal:
            self.finished = True
        await self.send(dump(frame))
        if error.close_code is not None:
            self.close_soon(error.close_code)

    def close_soon(self, code: int) -> None:
        """Start the closing handshake; the reader loop ends at once, the handshake follows.

        Never awaited in place: the page may be gone, and waiting for its reply
        must not hold up whoever is closing it.
        """
        self.hub.spawn(self._close(code))

    async def _close(self, code: int) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code)

    async def abort(self) -> None:
        self.finished = True
        if self.transport is not None:
            self.transport.abort()
