"""Sessions in Redis, shared by every server process (when ``SAFECALL_REDIS_URL`` is set).

Same rules as :class:`~signaling.memory_store.MemoryStore` (see
:mod:`signaling.store`). Each step that changes state is one Lua script in
``signaling/lua/`` whose header documents its KEYS and ARGV, so it is atomic
across processes. Keys: ``sig:{<session>}`` (hash), ``sig:{<session>}:citizen``
and ``:officer`` (mailboxes), ``sig:deadlines`` (sides away, by deadline), and
for node liveness ``sig:nodes`` (the processes), ``sig:node:<id>`` (each one's
heartbeat, expiring) and ``sig:node:<id>:sides`` (the sides it holds): when a
process dies without letting go of its sockets, the others mark its sides away.
Session keys expire after ``idle_ttl`` without a write, and ``ended_ttl``
after the session ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from signaling.bus import DeliverNotice
from signaling.messages import SIDES, Side, peer_of
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

LUA = Path(__file__).parent / "lua"
DEADLINES = "sig:deadlines"


def session_key(session_id: str) -> str:
    return f"sig:{{{session_id}}}"


NODES = "sig:nodes"
"""The server processes that hold (or held) sides, each with a heartbeat key."""


def node_key(node_id: str) -> str:
    return f"sig:node:{node_id}"


def node_sides_key(node_id: str) -> str:
    return f"sig:node:{node_id}:sides"


def node_of(conn: str) -> str:
    """The process a connection id belongs to (``<node>/<hex>``)."""
    return conn.split("/", 1)[0]


def mailbox_key(session_id: str, side: Side) -> str:
    return f"sig:{{{session_id}}}:{side}"


def _entries(first: Any, texts: list[Any]) -> list[Entry]:
    start = int(first)
    return [Entry(start + i, str(text)) for i, text in enumerate(texts)]


_SIDES: dict[str, Side] = {side: side for side in SIDES}


def _ending(reason: object, side: object) -> Ending:
    return Ending(str(reason or ""), _SIDES.get(str(side)))


class RedisStore:
    """:class:`~signaling.store.SessionStore` in Redis (a client with ``decode_responses=True``)."""

    shared = True

    def __init__(
        self,
        client: Redis,
        *,
        max_pending: int = 1000,
        idle_ttl: float = 24 * 3600,
        ended_ttl: float = 3600,
    ) -> None:
        self.client = client
        self.max_pending = max_pending
        self.idle_ttl = int(idle_ttl)
        self.ended_ttl = int(ended_ttl)
        self._scripts: dict[str, AsyncScript] = {
            path.stem: client.register_script(path.read_text()) for path in LUA.glob("*.lua")
        }

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return await self._scripts[name](keys=keys, args=args)

    async def open(
        self,
        session_id: str,
        tokens: dict[Side, str],
        officer_id: int | None,
        now: float,
        *,
        join_by: float = 0.0,
    ) -> bool:
        officer = "" if officer_id is None else str(officer_id)
        args = [tokens["citizen"], tokens["officer"], officer, self.idle_ttl]
        args += [repr(join_by), session_id]
        return bool(await self._run("open", [session_key(session_id), DEADLINES], args))

    async def arm(
        self, session_id: str, side: Side, token_hash: str, officer_id: int | None
    ) -> bool:
        officer = "" if officer_id is None else str(officer_id)
        return bool(await self._run("arm", [session_key(session_id)], [side, token_hash, officer]))

    async def seat(self, session_id: str, token_hash: str) -> Seat | None:
        fields = [f"{side}:{kind}" for side in SIDES for kind in ("token", "resume")]
        values = await self.client.hmget(session_key(session_id), [*fields, "officer_id"])
        *hashes, officer = values
        for i, stored in enumerate(hashes):
            # the stored values are hashes already: comparing them leaks nothing usable
            if stored and stored == token_hash:
                return Seat(SIDES[i // 2], int(officer) if officer else None)
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
        peer = peer_of(side)
        keys = [
            session_key(session_id),
            mailbox_key(session_id, side),
            mailbox_key(session_id, peer),
            DEADLINES,
            node_sides_key(node_of(conn)),
        ]
        args = [
            side,
            peer,
            conn,
            token_hash,
            "1" if resume else "0",
            new_resume_hash,
            last_seq,
            notice_body,
            self.idle_ttl,
            session_id,
            self.idle_ttl,
        ]
        reply = await self._run("take", keys, args)
        outcome = TakeOutcome(reply[0])
        if outcome is TakeOutcome.INVALID:
            return Taken(outcome)
        _, last_in, peer_state, previous, notice_seq, notice, reason, ended_by, first, *texts = (
            reply
        )
        pending = _entries(first, texts)
        delivered = int(first) - 1
        if outcome is TakeOutcome.ENDED:
            ending = _ending(reason, ended_by)
            return Taken(
                outcome, last_in=int(last_in), delivered=delivered, pending=pending, ending=ending
            )
        state: PeerState = peer_state
        return Taken(
            outcome,
            last_in=int(last_in),
            peer=state,
            previous_conn=previous,
            notice=Entry(int(notice_seq), notice) if int(notice_seq) else None,
            delivered=delivered,
            pending=pending,
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
        peer = peer_of(side)
        keys = [
            session_key(session_id),
            mailbox_key(session_id, side),
            mailbox_key(session_id, peer),
        ]
        channel, head, node = notice or ("", "", "")
        args: list[Any] = [side, peer, conn, self.max_pending, self.idle_ttl, channel, head, node]
        for seq, body in messages:
            args += (seq, body)
        published = bool(channel)
        results = []
        for reply in await self._run("accept", keys, args):
            outcome = Outcome(reply[0])
            if outcome is Outcome.ACCEPTED:
                results.append(Accepted(outcome, Entry(int(reply[1]), reply[2]), published))
            else:
                results.append(Accepted(outcome))
        return results

    async def ack(self, session_id: str, side: Side, seq: int) -> None:
        keys = [session_key(session_id), mailbox_key(session_id, side)]
        await self._run("ack", keys, [side, seq])

    async def post(self, session_id: str, side: Side, body: str) -> Entry | None:
        keys = [session_key(session_id), mailbox_key(session_id, side)]
        reply = await self._run("post", keys, [side, body, self.idle_ttl])
        return Entry(int(reply[0]), reply[1]) if reply else None

    async def pending(self, session_id: str, side: Side, after: int) -> list[Entry]:
        keys = [session_key(session_id), mailbox_key(session_id, side)]
        first, *texts = await self._run("pending", keys, [side, after])
        return _entries(first, texts) if int(first) else []

    async def leave(
        self, session_id: str, side: Side, conn: str, deadline: float, notice_body: str
    ) -> Entry | None:
        peer = peer_of(side)
        keys = [
            session_key(session_id),
            mailbox_key(session_id, peer),
            DEADLINES,
            node_sides_key(node_of(conn)),
        ]
        args = [side, peer, conn, repr(deadline), notice_body, session_id, self.idle_ttl]
        reply = await self._run("leave", keys, args)
        return Entry(int(reply[0]), reply[1]) if reply else None

    async def presence(self, session_id: str, side: Side) -> Presence | None:
        status, conn, reason, ended_by = await self.client.hmget(
            session_key(session_id), ["status", f"{side}:conn", "reason", "ended_by"]
        )
        if status is None:
            return None
        ending = None if status == "open" else _ending(reason, ended_by)
        return Presence(str(conn or ""), ending)

    async def _end(self, session_id: str, reason: str, side: str, now: float) -> str:
        keys = [
            session_key(session_id),
            mailbox_key(session_id, "citizen"),
            mailbox_key(session_id, "officer"),
            DEADLINES,
        ]
        args = [reason, side, session_id, self.ended_ttl, repr(now)]
        return str(await self._run("end", keys, args) or "")

    async def end(self, session_id: str, reason: str, side: Side | None, now: float) -> bool:
        return bool(await self._end(session_id, reason, side or "", now))

    async def due(self, now: float, limit: int) -> list[tuple[str, Side]]:
        members = await self.client.zrangebyscore(DEADLINES, "-inf", repr(now), start=0, num=limit)
        found: list[tuple[str, Side]] = []
        for member in members:
            session_id, _, side = str(member).rpartition("|")
            if side in _SIDES:
                found.append((session_id, _SIDES[side]))
        return found

    async def expire(self, session_id: str, side: Side, now: float) -> Ending | None:
        reason = await self._end(session_id, "expire", side, now)
        return Ending(reason, side) if reason else None

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
        keys = [
            session_key(session_id),
            mailbox_key(session_id, side),
            node_sides_key(node_of(conn)),
        ]
        args = [side, conn, resume_hash, last_in, sent, self.idle_ttl, session_id]
        return bool(await self._run("restore", keys, args))

    # ---- node liveness ---------------------------------------------------

    async def heartbeat(self, node_id: str, ttl: float) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(node_key(node_id), "1", px=int(ttl * 1000))
            pipe.sadd(NODES, node_id)
            await pipe.execute()

    async def orphans(self, node_id: str) -> list[tuple[str, Side, str]]:
        nodes = [str(n) for n in await self.client.smembers(NODES) if str(n) != node_id]
        found: list[tuple[str, Side, str]] = []
        for node in nodes:
            if await self.client.exists(node_key(node)):
                continue
            for member in await self.client.smembers(node_sides_key(node)):
                session_id, side, conn = str(member).split("|", 2)
                if side in _SIDES:
                    found.append((session_id, _SIDES[side], conn))
            # Every surviving process may do this at once: marking a side away is
            # conditional on the connection still holding it, so it happens once.
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.srem(NODES, node)
                pipe.delete(node_sides_key(node))
                await pipe.execute()
        return found

    async def goodbye(self, node_id: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(node_key(node_id))
            pipe.srem(NODES, node_id)
            await pipe.execute()

    async def close(self) -> None:
        """The client belongs to the caller, who closes it."""
