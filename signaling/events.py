"""What the hub reports to the rest of the server (the case timeline, logs).

Each event is reported once, by the process where it happened: a chat by the
process that took it from the page, an ending by the process that ended the
session (for a dropped side, whichever process's sweeper got there first).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from signaling.messages import Author, Side


@dataclass(frozen=True)
class SessionEnded:
    session_id: str
    reason: str
    """``hangup``, ``dropped`` (a side never came back within the grace period),
    ``never_joined`` (her page never came), ``closed`` or ``failed``."""
    side: Side | None
    """Who hung up or dropped; None when the server closed the session."""


@dataclass(frozen=True)
class ChatPosted:
    session_id: str
    side: Author
    """Who wrote it (``colleague``: the officer asked to join by a warm transfer)."""
    text: str
    """What she or the officer wrote: sensitive, to be sealed before it is stored."""
    seq: int = 0
    """The sender's sequence number: with the side, it names the message once (a message
    written twice, after a retry, is one message)."""


@dataclass(frozen=True)
class SideJoined:
    session_id: str
    side: Side
    resumed: bool


@dataclass(frozen=True)
class SideLeft:
    session_id: str
    side: Side
    """Her socket closed; she has the grace period to come back."""


HubEvent = SessionEnded | ChatPosted | SideJoined | SideLeft
Listener = Callable[[HubEvent], Awaitable[None]]
