"""Her place in line, pushed over her signaling socket as it changes.

Every process hears every routing event (:meth:`queues.router.Router.listen`;
with Redis each process follows the whole event stream), and each pushes
``queue`` notices (:class:`signaling.messages.QueueNotice`) to the citizen
sockets it holds itself. After a burst of events the places are worked out
once, a moment later (``settle``), and a notice goes only to a page whose
status, place or estimate changed. A page gets its first notice as soon as it
joins (or resumes). ``GET /api/contacts/{id}`` still answers a page without a
socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from queues.router import Placement, Router
from queues.service import ROUTER
from signaling.events import HubEvent, SideJoined
from signaling.hub import Hub
from signaling.messages import dump
from signaling.routes import HUB

log = logging.getLogger(__name__)

Key = tuple[str, int | None, int | None]
"""What a page is shown: status, place, estimate in whole seconds."""


def notice(placement: Placement) -> str:
    """The ``queue`` message for a placement."""
    return dump(
        {
            "type": "queue",
            "status": placement.status,
            "position": placement.position,
            "estimated_wait": placement.estimated_wait,
        }
    )


def _key(placement: Placement) -> Key:
    wait = placement.estimated_wait
    return (placement.status, placement.position, None if wait is None else round(wait))


class PlaceNotices:
    """Pushes ``queue`` notices to the citizen sockets this process holds."""

    def __init__(self, hub: Hub, router: Router, *, settle: float = 0.1) -> None:
        self.hub = hub
        self.router = router
        self.settle = settle
        """Seconds to let a burst of events pass before the places are worked out."""
        self._shown: dict[str, tuple[str, Key]] = {}
        """Session -> (the socket it was sent on, what was shown)."""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.hub.add_listener(self._on_hub)
        self._task = asyncio.create_task(self._run(), name="place-in-line")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        listener = self.router.listen()
        try:
            while True:
                await listener.next()
                await asyncio.sleep(self.settle)
                while not listener.queue.empty():  # the burst is in hand: one pass for all
                    listener.queue.get_nowait()
                try:
                    await self.push_all()
                except Exception:
                    log.exception("place in line: a push failed; the next event retries")
        finally:
            listener.close()

    async def _on_hub(self, event: HubEvent) -> None:
        if isinstance(event, SideJoined) and event.side == "citizen":
            self._shown.pop(event.session_id, None)
            await self.push(event.session_id)

    async def push_all(self) -> None:
        """Send a notice to every citizen socket here whose place changed."""
        held = [session_id for session_id, side in list(self.hub.local) if side == "citizen"]
        for gone in self._shown.keys() - set(held):
            del self._shown[gone]
        for session_id in held:
            await self.push(session_id)

    async def push(self, session_id: str) -> None:
        conn = self.hub.local.get((session_id, "citizen"))
        if conn is None or conn.finished:
            return
        placement = self.router.placement(session_id)
        if placement.status == "unknown":
            return  # not (or no longer) a task on this board
        key = _key(placement)
        if self._shown.get(session_id) == (conn.conn_id, key):
            return
        self._shown[session_id] = (conn.conn_id, key)
        await conn.send(notice(placement))


async def feed_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the router's and the hub's)."""
    notices = PlaceNotices(app[HUB], app[ROUTER])
    notices.start()
    yield
    await notices.stop()
