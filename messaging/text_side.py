"""Her side of a text contact, held in this process: what she texts goes to the officer's chat.

A text contact has no page: this process takes the citizen side of its
signaling session with an in-process page (:class:`signaling.local.LocalPeer`),
as the phone bridge does for a call, and relays each text she sends as a
``chat`` message (the hub and the desk record it as for any chat). What the
officer writes comes back through the hub's ``ChatPosted`` event, in whichever
process took it from her console (:mod:`messaging.inbound`), and goes out by
SMS or WhatsApp. The side is held until the contact ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from signaling.hub import Hub
from signaling.local import LocalPeer, SessionOver

log = logging.getLogger(__name__)


class TextSides:
    """The text contacts whose citizen side this process holds."""

    def __init__(self, hub: Hub, on_end: Callable[[str], Awaitable[None]]) -> None:
        self.hub = hub
        self.on_end = on_end
        self.peers: dict[str, LocalPeer] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def holds(self, session_id: str) -> bool:
        return session_id in self.peers

    async def take(self, session_id: str, citizen_token: str) -> None:
        """Take her side of a contact just opened (with the citizen token the desk gave)."""
        peer = LocalPeer(self.hub)
        await peer.join(session_id, citizen_token)
        self.peers[session_id] = peer
        self._tasks[session_id] = asyncio.create_task(self._follow(session_id, peer))

    async def say(self, session_id: str, text: str) -> None:
        """Relay what she texted to the officer (the hub keeps it until acknowledged)."""
        await self.peers[session_id].send("chat", text=text)

    async def _follow(self, session_id: str, peer: LocalPeer) -> None:
        try:
            while True:
                await peer.receive()  # acked by the peer itself; the officer's chat goes out
                # through ChatPosted, the offers a console may send are ignored: text only.
        except SessionOver:
            pass
        except Exception:
            log.exception("messaging: a text contact's side failed")
        finally:
            self.peers.pop(session_id, None)
            self._tasks.pop(session_id, None)
            try:
                await self.on_end(session_id)
            except Exception:
                log.exception("messaging: could not close a text contact")

    async def close(self) -> None:
        """Let go of every side (the server stops; each contact's grace period runs)."""
        for peer in list(self.peers.values()):
            await peer.close()
        for task in list(self._tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
