"""A page inside the server: one side of a session held by server code, not a browser.

The phone bridge takes the citizen side of the caller's session this way. It
speaks the page protocol of docs/signaling.md exactly (``join``, numbered
relayed messages kept until acknowledged, acks of what it processed,
``resume`` after a lost socket, ``session-ended``) over a :class:`LocalSocket`:
an object with the few methods of ``aiohttp.web.WebSocketResponse`` that
:class:`~signaling.connection.Connection` uses, with two queues instead of a
network. The hub cannot tell it from a browser: relay through Redis to a page
on another process, grace periods and endings all work as for pages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType

from signaling.connection import Connection
from signaling.hub import Hub
from signaling.messages import RELAYED_TYPES, VERSION

log = logging.getLogger(__name__)

RESUMABLE = frozenset({1001, 1006, 1011, 1013})
"""Close codes after which a page resumes (docs/signaling.md, "on close")."""


@dataclass(frozen=True)
class Frame:
    """What ``async for`` over a WebSocketResponse yields, as far as Connection reads it."""

    type: WSMsgType
    data: Any = None


class LocalSocket:
    """The server end of an in-process socket: what Connection reads and writes."""

    def __init__(self) -> None:
        self.to_server: asyncio.Queue[Frame] = asyncio.Queue()
        self.to_page: asyncio.Queue[str | int] = asyncio.Queue()
        """Text frames for the page; an int is the close code, the last item."""
        self.closed = False
        self.close_code: int | None = None

    async def send_str(self, data: str) -> None:
        if self.closed:
            raise ConnectionError("the local socket is closed")
        self.to_page.put_nowait(data)

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"") -> bool:
        if self.closed:
            return False
        self.closed, self.close_code = True, code
        self.to_server.put_nowait(Frame(WSMsgType.CLOSED))
        self.to_page.put_nowait(code)
        return True

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[Frame]:
        while True:
            frame = await self.to_server.get()
            if frame.type is WSMsgType.CLOSED:
                return
            yield frame


@dataclass
class _State:
    session_id: str = ""
    resume_token: str = ""
    seq: int = 0
    """The last seq this page numbered."""
    last_processed: int = 0
    """The last server seq this page handled."""
    unacked: dict[int, str] = field(default_factory=dict)
    """Sent relayed messages (seq -> JSON text) the server has not acknowledged."""


class SessionOver(Exception):
    """The session ended, or this side was lost for good; ``ended`` says how."""

    def __init__(self, ended: dict[str, Any] | None) -> None:
        super().__init__("the signaling session is over")
        self.ended = ended


class LocalPeer:
    """One side of a session, driven by server code through :meth:`send` and :meth:`receive`.

    :meth:`receive` returns the messages a page would act on (``joined``,
    relayed ones, ``peer-joined``, ``peer-left``, ``error``), each once, in
    order; it raises :class:`SessionOver` after ``session-ended`` or when the
    side cannot be held any more (refused, or no resume within the grace period).
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.state = _State()
        self.ended: dict[str, Any] | None = None
        self.joined: dict[str, Any] | None = None
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._socket: LocalSocket | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._over = False
        self._deadline: float | None = None
        """When resuming, the end of the grace period (monotonic)."""
        self._attempts = 0

    # ---- life --------------------------------------------------------------

    async def join(self, session_id: str, token: str) -> dict[str, Any]:
        """Take the side ``token`` is for; returns ``joined`` (raises SessionOver if refused)."""
        self.state.session_id = session_id
        self._connect({"type": "join", "session": session_id, "token": token})
        first = await self.receive()
        while first["type"] != "joined":  # an error before joined: refused
            if first["type"] == "error" and first.get("fatal"):
                await self.close()
                raise SessionOver(None)
            first = await self.receive()
        return first

    async def close(self) -> None:
        """Leave without hanging up (the side goes away); safe to call twice."""
        self._over = True
        if self._socket is not None:
            await self._socket.close(code=WSCloseCode.GOING_AWAY)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._inbox.put_nowait(None)

    def _connect(self, hello: dict[str, Any]) -> None:
        socket = LocalSocket()
        self._socket = socket
        conn = Connection(socket, self.hub, self.hub.config)  # type: ignore[arg-type]
        self._spawn(conn.run())
        self._spawn(self._read(socket))
        socket.to_server.put_nowait(Frame(WSMsgType.TEXT, json.dumps({"v": VERSION, **hello})))

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- sending -----------------------------------------------------------

    async def send(self, type: str, **fields: Any) -> None:
        """Send a message; relayed ones are numbered and kept until the server acks them."""
        if self._over:
            return
        message: dict[str, Any] = {"v": VERSION, "type": type, **fields}
        if type in RELAYED_TYPES:
            self.state.seq += 1
            message["seq"] = self.state.seq
            text = json.dumps(message)
            self.state.unacked[self.state.seq] = text
        else:
            text = json.dumps(message)
        self._write(text)

    def _write(self, text: str) -> None:
        socket = self._socket
        if socket is not None and not socket.closed:
            socket.to_server.put_nowait(Frame(WSMsgType.TEXT, text))

    # ---- receiving ---------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        """The next message to act on; SessionOver when there will be no more."""
        message = await self._inbox.get()
        if message is None:
            self._inbox.put_nowait(None)  # every later call raises too
            raise SessionOver(self.ended)
        return message

    async def _read(self, socket: LocalSocket) -> None:
        while True:
            item = await socket.to_page.get()
            if isinstance(item, int):
                await self._closed(item)
                return
            self._take(json.loads(item))

    def _take(self, message: dict[str, Any]) -> None:
        kind, seq = message["type"], message.get("seq")
        if kind == "ack":
            for done in [s for s in self.state.unacked if s <= message["seq"]]:
                del self.state.unacked[done]
            return
        if kind == "pong":
            return
        if kind == "joined":
            self._joined(message)
        elif kind == "session-ended":
            self.ended = message
        elif isinstance(seq, int):
            if seq <= self.state.last_processed:
                return  # a repeat after a resume
            self.state.last_processed = seq
            self._write(json.dumps({"v": VERSION, "type": "ack", "seq": seq}))
        self._inbox.put_nowait(message)

    def _joined(self, message: dict[str, Any]) -> None:
        self.joined = message
        self._deadline, self._attempts = None, 0
        self.state.resume_token = message["resume_token"]
        held = message["last_seq"]
        for done in [s for s in self.state.unacked if s <= held]:
            del self.state.unacked[done]
        for seq in sorted(self.state.unacked):  # resend what the server never took
            self._write(self.state.unacked[seq])
        self.state.seq = max(self.state.seq, held)

    async def _closed(self, code: int) -> None:
        if self.ended is not None or self._over or code not in RESUMABLE:
            self._finish()
            return
        if self._deadline is None:
            grace = float(self.joined["grace_seconds"]) if self.joined else 0.0
            self._deadline = time.monotonic() + grace
        delay = min(5.0, 0.5 * 2**self._attempts)
        self._attempts += 1
        if time.monotonic() + delay > self._deadline:
            self._finish()
            return
        await asyncio.sleep(delay)
        if self._over:
            return
        log.info("signaling: an in-process side resumes after close code %s", code)
        self._connect(
            {
                "type": "resume",
                "session": self.state.session_id,
                "resume_token": self.state.resume_token,
                "last_seq": self.state.last_processed,
            }
        )

    def _finish(self) -> None:
        self._over = True
        self._inbox.put_nowait(None)


__all__ = ["LocalPeer", "LocalSocket", "SessionOver"]
