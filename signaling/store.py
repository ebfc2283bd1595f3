"""Where sessions live: tokens, who holds each side, sequence numbers and mailboxes.

A *mailbox* per side holds the messages for that side's page that it has
not acknowledged yet (relayed messages, peer-joined, peer-left), each with the
server's ``seq`` for that side. A message is in the mailbox before its sender
gets an ack, so a page that loses its connection, a process that stops, or a
bus message lost while Redis reconnects never loses it: the page gets it
again from the mailbox when it resumes (or when its process resyncs).

Two implementations keep the same rules: :class:`~signaling.memory_store.
MemoryStore` (this process; the embedded default) and :class:`~signaling.
redis_store.RedisStore` (shared by every server process, Lua for each step).
Every method is atomic: no interleaving of two calls can break the rules.
Tokens are stored as SHA-256 hashes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, NamedTuple, Protocol

from signaling.bus import DeliverNotice
from signaling.messages import Side

PeerState = Literal["connected", "away", "not_joined"]


class Entry(NamedTuple):
    """One message in a mailbox, as the page will receive it (a tuple: made per message)."""

    seq: int
    text: str


@dataclass(frozen=True)
class Seat:
    """Which side a token opens, and the officer it is bound to (if any)."""

    side: Side
    officer_id: int | None


@dataclass(frozen=True)
class Ending:
    reason: str
    """``hangup``, ``dropped`` or ``closed``."""
    side: Side | None
    """Who hung up or dropped; None when the session was closed by the server."""


class TakeOutcome(StrEnum):
    TAKEN = "taken"
    ENDED = "ended"
    INVALID = "invalid"


@dataclass(frozen=True)
class Taken:
    """The result of a join or resume."""

    outcome: TakeOutcome
    last_in: int = 0
    """The last seq the server holds from this side."""
    peer: PeerState = "not_joined"
    previous_conn: str = ""
    """The connection that held the side until now ("" when none): it must be closed."""
    notice: Entry | None = None
    """peer-joined, put in the peer's mailbox (None when the peer never joined)."""
    delivered: int = 0
    """The page is taken to hold every seq up to this one; ``pending`` follows it."""
    pending: list[Entry] = field(default_factory=list)
    """This side's mailbox after ``delivered``, in order."""
    ending: Ending | None = None


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    """Already held (a page resending after resume): acknowledge again, relay nothing."""
    OUT_OF_ORDER = "out_of_order"
    NOT_CURRENT = "not_current"
    """The connection no longer holds the side."""
    ENDED = "ended"
    BACKLOG_FULL = "backlog_full"


class Accepted(NamedTuple):
    outcome: Outcome
    entry: Entry | None = None
    """The message as put in the peer's mailbox (when accepted)."""
    published: bool = False
    """The store published ``deliver`` on the bus itself (see :meth:`SessionStore.accept`)."""


@dataclass(frozen=True)
class Presence:
    """Who holds a side now, and whether the session is still open."""

    conn: str
    ending: Ending | None


class SessionStore(Protocol):
    shared: bool
    """True when other server processes see the same sessions."""

    async def open(
        self,
        session_id: str,
        tokens: dict[Side, str],
        officer_id: int | None,
        now: float,
        *,
        join_by: float = 0.0,
    ) -> bool:
        """Create a session with each side's token hash; False when the id is taken.

        With ``join_by`` (unix seconds) the citizen must join by then, or the sweeper
        ends the session ``never_joined`` (a page that never came: nobody is there).
        """
        ...

    async def arm(
        self, session_id: str, side: Side, token_hash: str, officer_id: int | None
    ) -> bool:
        """A fresh join token for ``side`` (the one before no longer opens it); with
        ``officer_id`` the officer side is bound to that officer. False when the session
        is unknown or has ended."""
        ...

    async def seat(self, session_id: str, token_hash: str) -> Seat | None:
        """The side whose join or resume token this is; None for no match."""
        ...

    async def take(
        self,
        session_id: str,
        side: Side,
        conn: str,
        *,
        token_hash: str,
        resume: bool,
        new_resume_hash: str,
        last_seq: int,
        notice_body: str,
        now: float,
    ) -> Taken:
        """Give ``side`` to connection ``conn`` (join with the join token, or resume).

        A join token opens the side once (it still proves the side to :meth:`seat`): a join
        marks it used and replaces the resume token with ``new_resume_hash``; a resume drops
        the mailbox up to ``last_seq``. The connection that held the side
        before is returned so it can be closed. On an ended session nothing
        changes and the pending messages and the ending are returned.
        """
        ...

    async def accept(
        self,
        session_id: str,
        side: Side,
        conn: str,
        messages: Sequence[tuple[int, str]],
        now: float,
        notice: DeliverNotice | None = None,
    ) -> list[Accepted]:
        """Take messages ``(seq, body)`` from ``side`` and put them in the peer's mailbox.

        One atomic step for all of them, with the outcome of each, in order:
        the same as taking them one by one (a refused one changes nothing, and
        the next is judged after it). With ``notice`` a store that can (Redis)
        also publishes ``deliver`` on the bus for each message it puts in the
        mailbox, in the same step, and says so in ``published``.
        """
        ...

    async def ack(self, session_id: str, side: Side, seq: int) -> None:
        """``side``'s page has everything up to ``seq``: drop it from the mailbox."""
        ...

    async def post(self, session_id: str, side: Side, body: str) -> Entry | None:
        """Put a message from the server (``body`` as :func:`~signaling.messages.relay_body`
        or :func:`~signaling.messages.notice_body` make it) in ``side``'s mailbox, numbered
        after the others: a warm transfer's chat and notices between a session and its
        colleague's seat. None when the session is unknown or has ended."""
        ...

    async def pending(self, session_id: str, side: Side, after: int) -> list[Entry]:
        """The mailbox messages with seq above ``after``, in order."""
        ...

    async def leave(
        self, session_id: str, side: Side, conn: str, deadline: float, notice_body: str
    ) -> Entry | None:
        """``conn`` closed: if it held the side, mark it away until ``deadline``.

        Returns peer-left as put in the peer's mailbox; None when ``conn`` no
        longer held the side, the session has ended, or the peer never joined
        (peer notices go only to pages that have joined).
        """
        ...

    async def presence(self, session_id: str, side: Side) -> Presence | None:
        """Who holds ``side`` now; None for an unknown (or forgotten) session."""
        ...

    async def end(self, session_id: str, reason: str, side: Side | None, now: float) -> bool:
        """End the session; True only for the one call that ended it."""
        ...

    async def due(self, now: float, limit: int) -> list[tuple[str, Side]]:
        """Sides away (or not joined, with a deadline) past their deadline (candidates for
        :meth:`expire`)."""
        ...

    async def expire(self, session_id: str, side: Side, now: float) -> Ending | None:
        """End the session if ``side`` is past its deadline: ``dropped`` when it was away,
        ``never_joined`` when it never joined. The ending only for the one call that
        ended it (None otherwise).
        """
        ...

    async def heartbeat(self, node_id: str, ttl: float) -> None:
        """This process is alive for ``ttl`` more seconds (node liveness)."""
        ...

    async def orphans(self, node_id: str) -> list[tuple[str, Side, str]]:
        """The sides held by processes whose heartbeat stopped (other than ``node_id``), as
        ``(session, side, conn)``; those processes are forgotten. Mark each away (:meth:`leave`
        with its conn): only a side its conn still holds is changed."""
        ...

    async def restore(
        self,
        session_id: str,
        side: Side,
        conn: str,
        *,
        resume_hash: str,
        last_in: int,
        sent: int,
    ) -> bool:
        """Make a session the store lost (Redis restarted empty, or was flushed) again, open,
        with ``side`` held by ``conn`` (a live socket here), resumable with its resume token,
        numbered on from ``last_in`` (taken from the page) and ``sent`` (sent to it). False
        when the session is there and has ended, or another connection holds the side."""
        ...

    async def goodbye(self, node_id: str) -> None:
        """This process stops (its sockets were closed, each side marked away)."""
        ...

    async def close(self) -> None: ...
