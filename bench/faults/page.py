"""One side of a session over ``/ws``, as ``safecall/web/signal.js`` speaks it
(docs/signaling.md, "Page algorithm"): join, number what it sends and keep it until the
server acknowledges it, resend after a resume, skip repeats, reconnect with growing
delays to whichever node the balancer gives, and stop on ``session-ended``.

What the server acknowledged is written in the ledger as it happens: a chat message is
promised to the timeline from the moment its seq is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from bench.faults.ledger import Contact, Ledger

NO_RECONNECT = {4401, 4403, 4409}
DELAYS = (0.5, 1.0, 2.0, 4.0, 5.0)


class Page:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        pick: Callable[[], str],
        ledger: Ledger,
        contact: Contact,
        side: str,
        token: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.http, self.pick, self.ledger, self.contact = http, pick, ledger, contact
        self.side, self.token, self.headers = side, token, headers or {}
        self.resume_token: str | None = None
        self.seq = 0
        self.unacked: list[dict[str, Any]] = []
        self.last_in = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.joined = asyncio.Event()
        self.peer_here = asyncio.Event()
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        self.chats_in: asyncio.Queue[str] = asyncio.Queue()
        self.resumes = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"page-{self.side}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def send(self, message: dict[str, Any]) -> int:
        """Number it, keep it until acknowledged, send it now if the socket is joined."""
        self.seq += 1
        framed = {"v": 1, **message, "seq": self.seq}
        self.unacked.append(framed)
        if message["type"] == "chat":
            self.contact.chats[self.side].add(self.seq)
        if self.ws is not None and self.joined.is_set() and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.send_str(json.dumps(framed))
        return self.seq

    async def _run(self) -> None:
        attempt = 0
        while not self.ended.is_set():
            try:
                stop = await self._connect_once()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                status = getattr(exc, "status", 0)
                if status:
                    self.ledger.answer(f"ws.{self.side}", status)
                stop = False
            if stop or self.ended.is_set():
                return
            self.joined.clear()
            await asyncio.sleep(DELAYS[min(attempt, len(DELAYS) - 1)])
            attempt += 1

    async def _connect_once(self) -> bool:
        """One socket's life; True when the page must not reconnect."""
        base = self.pick()
        async with self.http.ws_connect(
            base.replace("http://", "ws://") + "/ws",
            headers=self.headers,
            heartbeat=None,
            timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
        ) as ws:
            self.ws = ws
            if self.resume_token is None:
                first = {"v": 1, "type": "join", "session": self.contact.session_id}
                await ws.send_str(json.dumps({**first, "token": self.token}))
            else:
                self.resumes += 1
                await ws.send_str(
                    json.dumps(
                        {
                            "v": 1,
                            "type": "resume",
                            "session": self.contact.session_id,
                            "resume_token": self.resume_token,
                            "last_seq": self.last_in,
                        }
                    )
                )
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                if await self._handle(ws, json.loads(frame.data)):
                    return True
            code = ws.close_code or 1006
            if code in NO_RECONNECT:
                self.ledger.notes[f"ws.{self.side}.closed_{code}"] += 1
                return True
            return False

    async def _handle(self, ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> bool:
        kind = message.get("type")
        if kind == "joined":
            self.resume_token = message["resume_token"]
            held = int(message["last_seq"])
            self._acked(held)
            self.seq = max(self.seq, held)
            self.joined.set()
            if message.get("peer") == "connected":
                self.peer_here.set()
            for framed in list(self.unacked):
                await ws.send_str(json.dumps(framed))
            return False
        if kind == "ack":
            self._acked(int(message["seq"]))
            return False
        if kind == "session-ended":
            self.end_reason = str(message.get("reason"))
            self.ended.set()
            return True
        if kind == "error":
            said = f"{message.get('code')}: {str(message.get('message'))[:60]}"
            self.ledger.notes[f"ws.{self.side}.error {said}"] += 1
            if message.get("code") in ("rate_limited", "bad_seq"):
                await asyncio.sleep(1.0)
                for framed in list(self.unacked):
                    await ws.send_str(json.dumps(framed))
            return False
        seq = message.get("seq")
        if seq is None:
            return False  # pong, queue
        if seq <= self.last_in:
            await ws.send_str(json.dumps({"v": 1, "type": "ack", "seq": self.last_in}))
            return False
        self.last_in = seq
        if kind == "peer-joined":
            self.peer_here.set()
        elif kind == "chat":
            self.chats_in.put_nowait(str(message.get("text")))
        await ws.send_str(json.dumps({"v": 1, "type": "ack", "seq": seq}))
        return False

    def _acked(self, seq: int) -> None:
        if seq > self.contact.acked.get(self.side, 0):
            self.contact.acked[self.side] = seq
        self.unacked = [m for m in self.unacked if m["seq"] > seq]
