"""Sessions in this process's memory: the embedded default (one server process).

Same rules as the Redis store (see :mod:`signaling.store`); nothing here
awaits, so every method is atomic on the event loop. Sessions idle longer
than ``idle_ttl`` and ended sessions older than ``ended_ttl`` are forgotten
when :meth:`due` runs (the hub's sweeper calls it every fraction of a second).
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from signaling.bus import DeliverNotice
from signaling.messages import SIDES, Side, numbered, peer_of
from signaling.store import (
    Accepted,
    Ending,
    Entry,
    Outcome,
    PeerState,
    Presence,
    Seat,
    Taken,
    TakeOutcome,
)


@dataclass
class _SideState:
    token: str
    token_used: bool = False
    """The join token opened the side once: it still proves the side (her place in line,
    ICE servers) but joins no more."""
    resume: str = ""
    conn: str = ""
    state: PeerState = "not_joined"
    deadline: float = 0.0
    last_in: int = 0
    last_out: int = 0
    acked: int = 0
    mailbox: deque[str] = field(default_factory=deque)
    """Texts with seq acked+1 .. last_out."""

    def pending(self, after: int) -> list[Entry]:
        start = self.delivered(after)
        return [
            Entry(seq, self.mailbox[seq - self.acked - 1])
            for seq in range(start + 1, self.last_out + 1)
        ]

    def delivered(self, after: int) -> int:
        return max(after, self.acked)

    def trim(self, seq: int) -> None:
        upto = min(seq, self.last_out)
        while self.acked < upto:
            self.mailbox.popleft()
            self.acked += 1

    def put(self, body: str) -> Entry:
        self.last_out += 1
        text = numbered(self.last_out, body)
        self.mailbox.append(text)
        return Entry(self.last_out, text)


@dataclass
class _Session:
    sides: dict[Side, _SideState]
    officer_id: int | None
    touched: float
    ending: Ending | None = None


_ENDED = Accepted(Outcome.ENDED)
_NOT_CURRENT = Accepted(Outcome.NOT_CURRENT)
_DUPLICATE = Accepted(Outcome.DUPLICATE)
_OUT_OF_ORDER = Accepted(Outcome.OUT_OF_ORDER)
_BACKLOG_FULL = Accepted(Outcome.BACKLOG_FULL)


def _same(stored: str, given: str) -> bool:
    return bool(stored) and hmac.compare_digest(stored, given)


class MemoryStore:
    """:class:`~signaling.store.SessionStore` in this process."""

    shared = False

    def __init__(
        self, *, max_pending: int = 1000, idle_ttl: float = 24 * 3600, ended_ttl: float = 3600
    ) -> None:
        self.max_pending = max_pending
        self.idle_ttl = idle_ttl
        self.ended_ttl = ended_ttl
        self._sessions: dict[str, _Session] = {}

    async def open(
        self,
        session_id: str,
        tokens: dict[Side, str],
        officer_id: int | None,
        now: float,
        *,
        join_by: float = 0.0,
    ) -> bool:
        if session_id in self._sessions:
            return False
        sides = {side: _SideState(token=tokens[side]) for side in SIDES}
        sides["citizen"].deadline = join_by
        self._sessions[session_id] = _Session(sides, officer_id, now)
        return True

    async def arm(
        self, session_id: str, side: Side, token_hash: str, officer_id: int | None
    ) -> bool:
        session = self._sessions.get(session_id)
        if session is None or session.ending is not None:
            return False
        session.sides[side].token, session.sides[side].token_used = token_hash, False
        if officer_id is not None:
            session.officer_id = officer_id
        return True

    async def seat(self, session_id: str, token_hash: str) -> Seat | None:
        session = self._sessions.get(session_id)
        if session is None:
            return None
        for side, state in session.sides.items():
            if _same(state.token, token_hash) or _same(state.resume, token_hash):
                return Seat(side, session.officer_id)
        return None

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
        session = self._sessions.get(session_id)
        if session is None:
            return Taken(TakeOutcome.INVALID)
        mine = session.sides[side]
        if not _same(mine.resume if resume else mine.token, token_hash):
            return Taken(TakeOutcome.INVALID)
        if not resume and mine.token_used and session.ending is None:
            return Taken(TakeOutcome.INVALID)
        after = min(last_seq, mine.last_out) if resume else 0
        if session.ending is not None:
            return Taken(
                TakeOutcome.ENDED,
                last_in=mine.last_in,
                delivered=mine.delivered(after),
                pending=mine.pending(after),
                ending=session.ending,
            )
        session.touched = now
        if resume:
            mine.trim(last_seq)
        else:  # a join token opens the side once
            mine.resume, mine.token_used = new_resume_hash, True
        previous = mine.conn
        mine.conn, mine.state, mine.deadline = conn, "connected", 0.0
        peer = session.sides[peer_of(side)]
        # a side that never joined learns the peer's state from its own joined
        notice = peer.put(notice_body) if peer.state != "not_joined" else None
        return Taken(
            TakeOutcome.TAKEN,
            last_in=mine.last_in,
            peer=peer.state,
            previous_conn=previous,
            notice=notice,
            delivered=mine.delivered(after),
            pending=mine.pending(after),
        )

    async def accept(
        self,
        session_id: str,
        side: Side,
        conn: str,
        messages: Sequence[tuple[int, str]],
        now: float,
        notice: DeliverNotice | None = None,
    ) -> list[Accepted]:
        session = self._sessions.get(session_id)
        if session is None or session.ending is not None:
            return [_ENDED] * len(messages)
        mine = session.sides[side]
        if mine.conn != conn:
            return [_NOT_CURRENT] * len(messages)
        peer = session.sides[peer_of(side)]
        results = []
        for seq, body in messages:
            if seq <= mine.last_in:
                results.append(_DUPLICATE)
            elif seq != mine.last_in + 1:
                results.append(_OUT_OF_ORDER)
            elif peer.last_out - peer.acked >= self.max_pending:
                results.append(_BACKLOG_FULL)
            else:
                mine.last_in = seq
                session.touched = now
                results.append(Accepted(Outcome.ACCEPTED, peer.put(body)))
        return results

    async def ack(self, session_id: str, side: Side, seq: int) -> None:
        session = self._sessions.get(session_id)
        if session is not None:
            session.sides[side].trim(seq)

    async def post(self, session_id: str, side: Side, body: str) -> Entry | None:
        session = self._sessions.get(session_id)
        if session is None or session.ending is not None:
            return None
        return session.sides[side].put(body)

    async def pending(self, session_id: str, side: Side, after: int) -> list[Entry]:
        session = self._sessions.get(session_id)
        return [] if session is None else session.sides[side].pending(after)

    async def leave(
        self, session_id: str, side: Side, conn: str, deadline: float, notice_body: str
    ) -> Entry | None:
        session = self._sessions.get(session_id)
        if session is None or session.ending is not None:
            return None
        mine = session.sides[side]
        if mine.conn != conn:
            return None
        mine.conn, mine.state, mine.deadline = "", "away", deadline
        peer = session.sides[peer_of(side)]
        return peer.put(notice_body) if peer.state != "not_joined" else None

    async def presence(self, session_id: str, side: Side) -> Presence | None:
        session = self._sessions.get(session_id)
        if session is None:
            return None
        return Presence(session.sides[side].conn, session.ending)

    async def end(self, session_id: str, reason: str, side: Side | None, now: float) -> bool:
        session = self._sessions.get(session_id)
        if session is None or session.ending is not None:
            return False
        session.ending = Ending(reason, side)
        session.touched = now
        for state in session.sides.values():
            state.conn, state.deadline = "", 0.0
        return True

    async def due(self, now: float, limit: int) -> list[tuple[str, Side]]:
        found: list[tuple[str, Side]] = []
        forget = []
        for session_id, session in self._sessions.items():
            ttl = self.idle_ttl if session.ending is None else self.ended_ttl
            if now - session.touched > ttl:
                forget.append(session_id)
                continue
            if session.ending is not None:
                continue
            for side, state in session.sides.items():
                waiting = state.state == "away" or (
                    state.state == "not_joined" and state.deadline > 0
                )
                if waiting and state.deadline <= now and len(found) < limit:
                    found.append((session_id, side))
        for session_id in forget:
            del self._sessions[session_id]
        return found

    async def expire(self, session_id: str, side: Side, now: float) -> Ending | None:
        session = self._sessions.get(session_id)
        if session is None or session.ending is not None:
            return None
        state = session.sides[side]
        if state.state == "away":
            reason = "dropped"
        elif state.state == "not_joined" and state.deadline > 0:
            reason = "never_joined"
        else:
            return None
        if state.deadline > now:
            return None
        await self.end(session_id, reason, side, now)
        return session.ending

    async def heartbeat(self, node_id: str, ttl: float) -> None:
        """One process holds every side here: nothing to tell anyone."""

    async def orphans(self, node_id: str) -> list[tuple[str, Side, str]]:
        return []

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
        """Sessions here are never lost while their sockets live."""
        return False

    async def goodbye(self, node_id: str) -> None:
        """Nothing to tell anyone."""

    async def close(self) -> None:
        self._sessions.clear()

    def __len__(self) -> int:
        return len(self._sessions)
