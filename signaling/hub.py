"""The hub: sessions with two sides, the relay between them, reconnection and endings.

A session has a citizen side and an officer side. :meth:`Hub.open_session`
mints one join token per side; each page joins with its token and is given a
resume token (kept in the page's memory only). What one side sends is put in
the other side's mailbox (:mod:`signaling.store`) and delivered to the socket
holding that side, on this process or another (:mod:`signaling.bus`).

A side whose socket closes is *away*; it may resume (on any process) within
the grace period and gets every message it missed, once each, in order. A
side still away when the grace period ends ends the session as ``dropped``;
a citizen page that never joins within its join window ends it as
``never_joined``;
the listeners hear :class:`~signaling.events.SessionEnded` once, from one
process. A hang-up ends the session for both sides.

Redis may lose every session (restarted without persistence, or flushed) while
calls go on: a live socket is proof enough of its call, so the process holding
it makes its session again (:meth:`Hub.restore`, run when the queues notice the
loss, and whenever a step finds a live socket's session gone). Its page goes on
without noticing; a side that was away at that moment cannot resume (an officer
answers again for a fresh token).

A warm transfer adds a second officer seat: a session of its own,
``<session>-colleague``, whose officer side is bound to the colleague asked to join
(:meth:`Hub.colleague_token`; its citizen side never opens). Chat from her page and
the officer's reaches the colleague's seat, and the colleague's reaches both, each
with its author (``from``); media stays between her page and the officer's. The
seat ends with its session; the colleague leaving it ends nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from redis.exceptions import RedisError

from signaling.bus import DELIVER, ENDED, REPLACED, Bus, BusMessage
from signaling.config import SignalingConfig
from signaling.connection import Connection
from signaling.errors import SignalingError
from signaling.events import ChatPosted, HubEvent, Listener, SessionEnded, SideJoined, SideLeft
from signaling.messages import (
    PEER,
    SIDES,
    Chat,
    Join,
    Relayed,
    Resume,
    Side,
    dump,
    notice_body,
    peer_of,
    relay_body,
)
from signaling.store import Ending, Entry, Outcome, Presence, SessionStore, TakeOutcome

log = logging.getLogger(__name__)


def _lost(presence: Presence | None) -> bool:
    """A side held by a socket here that the store does not know held: it lost it."""
    return presence is None or (presence.ending is None and not presence.conn)


class HubClosing(RuntimeError):
    """This process is shutting down and takes no new sessions."""


class SessionExists(ValueError):
    """A session with this id was opened before."""


COLLEAGUE_SUFFIX = "-colleague"


def colleague_seat(session_id: str) -> str:
    """The id of the session holding a warm transfer's colleague seat."""
    return session_id + COLLEAGUE_SUFFIX


def seat_of(session_id: str) -> str | None:
    """The session whose colleague seat ``session_id`` is (None for a session of its own)."""
    if session_id.endswith(COLLEAGUE_SUFFIX):
        return session_id[: -len(COLLEAGUE_SUFFIX)]
    return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ended_message(ending: Ending) -> str:
    return dump({"type": "session-ended", "reason": ending.reason, "side": ending.side})


class Hub:
    """Sessions on this process's sockets, joined to the other processes by a store and a bus."""

    def __init__(
        self,
        store: SessionStore,
        bus: Bus,
        config: SignalingConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        token_secret: bytes | None = None,
    ) -> None:
        self.store = store
        self.token_secret = token_secret or secrets.token_bytes(32)
        """Join tokens are derived from it: every process sharing it can hand them out."""
        self.bus = bus
        self.config = config or SignalingConfig()
        self.clock = clock
        """Wall-clock seconds: grace deadlines are compared across processes."""
        self.local: dict[tuple[str, Side], Connection] = {}
        """The socket holding each side, for sides held on this process."""
        self.connections: set[Connection] = set()
        """Every open socket, joined or not (closed with going-away on shutdown)."""
        self.draining = False
        self._no_calls = asyncio.Event()
        """Set when, draining, the last side held here is gone."""
        self._listeners: list[Listener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._telling: dict[str, asyncio.Task[None]] = {}
        """Per session, the task telling the listeners its latest event (they queue behind it)."""
        self._sweeper: asyncio.Task[None] | None = None
        self._running = False

    # ---- life --------------------------------------------------------------

    async def start(self) -> None:
        self._running = True
        await self.bus.start(self._on_bus, self.resync)
        self._sweeper = asyncio.create_task(self._sweep())

    async def drain(self, wait_for_calls: bool = True) -> None:
        """Stop taking sessions; close every socket with going-away (1001).

        With ``wait_for_calls`` and no other process sharing the sessions,
        first wait (up to ``drain_seconds``) for the calls in progress to end:
        nobody else could take them over. Only useful while the server still
        reads its sockets, i.e. before aiohttp's own shutdown begins.
        """
        self.draining = True
        if wait_for_calls and not self.store.shared and self.local:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.drain_seconds):
                    await self._no_calls.wait()
        await asyncio.gather(
            *(conn.refuse(SignalingError("going_away")) for conn in list(self.connections))
        )

    async def close(self) -> None:
        """Stop the sweeper and the bus; safe to call twice."""
        self._running = False  # the loop ends even if a library swallowed the cancellation
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self.store.shared:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await self.store.goodbye(self.bus.node_id)
        await self.bus.close()
        if self._telling:  # what happened is written down before the database closes
            await asyncio.wait(set(self._telling.values()), timeout=self.config.drain_seconds)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.store.close()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, keeping a reference until it is done."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- what the rest of the server calls ---------------------------------

    async def open_session(
        self,
        session_id: str,
        officer_id: int | None = None,
        *,
        join_within: float | None = None,
    ) -> tuple[str, str]:
        """Open a session; returns ``(citizen_token, officer_token)`` for the two pages.

        With ``officer_id`` only that officer's login may take the officer side. With
        ``join_within`` (seconds) her page must join by then, or the session ends
        ``never_joined``. Each join token opens its side once. Raises
        :class:`HubClosing` while shutting down, :class:`SessionExists` for an id used
        before.
        """
        if self.draining:
            raise HubClosing("this server process is stopping; open the session on another")
        tokens = {side: self.join_token(session_id, side) for side in SIDES}
        hashes = {side: token_hash(token) for side, token in tokens.items()}
        now = self.clock()
        join_by = 0.0 if join_within is None else now + join_within
        if not await self.store.open(session_id, hashes, officer_id, now, join_by=join_by):
            raise SessionExists(f"signaling session {session_id!r} exists already")
        return tokens["citizen"], tokens["officer"]

    async def officer_token(self, session_id: str, officer_id: int | None) -> str | None:
        """A fresh officer-side join token, bound to ``officer_id`` (she answers, answers
        again after a reload, or takes over a transfer); the one before opens nothing
        more. None when the session has ended or is unknown."""
        token = secrets.token_urlsafe(24)
        if not await self.store.arm(session_id, "officer", token_hash(token), officer_id):
            return None
        return token

    async def colleague_token(self, session_id: str, officer_id: int) -> str | None:
        """A fresh join token for the colleague seat of a session (a warm transfer's second
        officer, bound to ``officer_id``); the one before opens nothing more. None when
        the session (or the seat) has ended."""
        presence = await self.store.presence(session_id, "citizen")
        if presence is None or presence.ending is not None:
            return None
        token = secrets.token_urlsafe(24)
        seat, hashed = colleague_seat(session_id), token_hash(token)
        if await self.store.arm(seat, "officer", hashed, officer_id):
            return token
        # (her side never opens: no token does it)
        tokens: dict[Side, str] = {"citizen": "", "officer": hashed}
        if await self.store.open(seat, tokens, officer_id, self.clock()):
            return token
        return token if await self.store.arm(seat, "officer", hashed, officer_id) else None

    async def colleague_here(self, session_id: str) -> bool:
        """The colleague holds her seat beside the officer now (joined, not away, not ended)."""
        presence = await self.store.presence(colleague_seat(session_id), "officer")
        return presence is not None and presence.ending is None and bool(presence.conn)

    async def pass_seat(self, session_id: str) -> bool:
        """The officer left the contact to her colleague: the colleague's seat is told
        (``colleague`` ``yours``); False when it has ended."""
        return await self._post(colleague_seat(session_id), "officer", {"state": "yours"})

    async def _post(self, session_id: str, side: Side, fields: dict[str, Any]) -> bool:
        entry = await self.store.post(
            session_id, side, notice_body({"type": "colleague", **fields})
        )
        if entry is None:
            return False
        await self._deliver(session_id, side, [entry])
        return True

    def join_token(self, session_id: str, side: Side) -> str:
        """The join token of one side of a session (derived, so any process can give it)."""
        mac = hmac.new(self.token_secret, f"join:{session_id}:{side}".encode(), "sha256")
        return base64.urlsafe_b64encode(mac.digest()[:24]).decode().rstrip("=")

    async def end_session(self, session_id: str, reason: str = "closed") -> bool:
        """End a session from the server side; False when it had ended already."""
        ending = Ending(reason, None)
        if not await self.store.end(session_id, reason, None, self.clock()):
            return False
        await self._ended(session_id, ending)
        return True

    def add_listener(self, listener: Listener) -> None:
        """``listener`` hears every :data:`~signaling.events.HubEvent` that happens here.

        Listeners run in tasks the hub owns, never in a socket's handler (which
        aiohttp may cancel when the page's connection closes): one session's
        events reach them in order, different sessions' side by side.
        """
        self._listeners.append(listener)

    # ---- what a connection calls -------------------------------------------

    def register(self, conn: Connection) -> None:
        self.connections.add(conn)

    async def take(self, conn: Connection, message: Join | Resume) -> None:
        """Give a side to ``conn`` (join or resume), or raise the reason why not."""
        if self.draining:
            raise SignalingError("going_away")
        resume = isinstance(message, Resume)
        token = message.resume_token if isinstance(message, Resume) else message.token
        hashed = token_hash(token)
        seat = await self.store.seat(message.session, hashed)
        if seat is None:
            raise SignalingError("invalid_token")
        await conn.authorize(seat)  # before anything changes: a refused officer takes nothing
        side, session_id = seat.side, message.session
        resume_token = token if resume else secrets.token_urlsafe(24)
        taken = await self.store.take(
            session_id,
            side,
            conn.conn_id,
            token_hash=hashed,
            resume=resume,
            new_resume_hash=token_hash(resume_token),
            last_seq=message.last_seq if isinstance(message, Resume) else 0,
            notice_body=notice_body({"type": "peer-joined", "side": side, "resumed": resume}),
            now=self.clock(),
        )
        if taken.outcome is TakeOutcome.INVALID:
            raise SignalingError("invalid_token")
        conn.session_id, conn.side, conn.resume_token = session_id, side, resume_token
        conn.last_in = conn.acked_in = taken.last_in
        if taken.outcome is TakeOutcome.ENDED:
            assert taken.ending is not None
            await conn.start(None, taken.pending, taken.delivered)
            await conn.finish(ended_message(taken.ending))
            return
        key = (session_id, side)
        before = self.local.get(key)
        self.local[key] = conn
        joined = dump(
            {
                "type": "joined",
                "session": session_id,
                "side": side,
                "resume_token": resume_token,
                "last_seq": taken.last_in,
                "peer": taken.peer,
                "grace_seconds": self.config.grace_seconds,
            }
        )
        await conn.start(joined, taken.pending, taken.delivered)
        if before is not None and before is not conn:
            await before.refuse(SignalingError("replaced"))
        elif taken.previous_conn:
            await self.bus.publish(BusMessage(REPLACED, session_id, side, conn=conn.conn_id))
        if taken.notice is not None:
            await self._deliver(session_id, peer_of(side), [taken.notice])
        parent = seat_of(session_id)
        if parent is not None and not resume:  # the officer who asked sees her colleague come
            await self._post(parent, "officer", {"state": "joined"})
        self._emit(SideJoined(session_id, side, resume))

    async def relay(self, conn: Connection, messages: list[Relayed]) -> None:
        """Put ``messages`` (one page's, in the order sent) in the peer's mailbox and deliver them.

        One store step for all of them; then each is handled in order as if it
        had come alone: delivered, or refused with its error (the rest go on).
        The sender gets one cumulative ack when one is due.
        """
        assert conn.session_id is not None and conn.side is not None
        session_id, side = conn.session_id, conn.side
        peer = PEER[side]
        bodies = [(message.seq, relay_body(message, side)) for message in messages]
        notice = self.bus.deliver_notice(session_id, peer)  # Redis: published in the same step
        results = await self.store.accept(
            session_id, side, conn.conn_id, bodies, self.clock(), notice
        )
        if (
            results
            and results[0].outcome in (Outcome.ENDED, Outcome.NOT_CURRENT)
            and await self._revive(session_id)
        ):
            results = await self.store.accept(
                session_id, side, conn.conn_id, bodies, self.clock(), notice
            )
        ack_due = False
        taken: list[Entry] = []  # accepted, delivered together (they share ``published``)
        published = False
        chats: list[Chat] = []
        last_taken = 0
        for message, result in zip(messages, results, strict=True):
            outcome = result.outcome
            if outcome is Outcome.ACCEPTED:
                assert result.entry is not None
                ack_due = conn.taken(message.seq) or ack_due
                taken.append(result.entry)
                last_taken = result.entry.seq
                published = result.published
                kind = message.type
                if kind == "chat":
                    assert isinstance(message, Chat)
                    chats.append(message)
                    self._emit(ChatPosted(session_id, side, message.text, message.seq))
                elif kind == "hangup":  # the last of its burst (see Connection._on_text)
                    await self._deliver(session_id, peer, taken, published)
                    taken = []
                    ack_due = False
                    await conn.send_ack()  # before session-ended: her hang-up was taken
                    if await self.store.end(session_id, "hangup", side, self.clock()):
                        await self._ended(session_id, Ending("hangup", side))
            elif outcome is Outcome.DUPLICATE:
                ack_due = conn.taken(message.seq) or ack_due
            elif outcome is Outcome.ENDED:
                await self._finish_ended(conn)
            else:
                if ack_due:  # what came before was taken: say so before the refusal
                    ack_due = False
                    await conn.send_ack()
                await conn.refuse(self._refusal(conn, outcome, message.seq))
        if taken:
            await self._deliver(session_id, peer, taken, published)
        if ack_due:
            await conn.send_ack()
        parent = seat_of(session_id)
        if parent is not None and last_taken:
            # The colleague's seat has nobody on its other side: what she writes goes to
            # both sides of the contact instead, and her mailbox there is emptied.
            await self.store.ack(session_id, peer, last_taken)
            for chat in chats:
                body = relay_body(chat, "colleague")
                for target in SIDES:
                    if (entry := await self.store.post(parent, target, body)) is not None:
                        await self._deliver(parent, target, [entry])
                self._emit(ChatPosted(parent, "colleague", chat.text, chat.seq))
        elif chats:
            seat = colleague_seat(session_id)
            for chat in chats:
                entry = await self.store.post(seat, "officer", relay_body(chat, side))
                if entry is None:
                    break  # no colleague seat (or no longer)
                await self._deliver(seat, "officer", [entry])

    @staticmethod
    def _refusal(conn: Connection, outcome: Outcome, seq: int) -> SignalingError:
        if outcome is Outcome.OUT_OF_ORDER:
            return SignalingError(
                "bad_seq",
                f"Expected seq {conn.last_in + 1}; send messages in order after the last ack.",
                ref_seq=seq,
            )
        if outcome is Outcome.BACKLOG_FULL:
            return SignalingError("backlog_full", ref_seq=seq)
        return SignalingError("replaced")  # NOT_CURRENT

    async def ack(self, conn: Connection, seq: int) -> None:
        assert conn.session_id is not None and conn.side is not None
        await self.store.ack(conn.session_id, conn.side, seq)

    async def left(self, conn: Connection) -> None:
        """``conn``'s socket closed; its side is away for the grace period (if it still held it)."""
        self.connections.discard(conn)
        if conn.session_id is None or conn.side is None:
            return
        session_id, side = conn.session_id, conn.side
        if self.local.get((session_id, side)) is conn:
            self._release((session_id, side))
        grace = self.config.grace_seconds
        body = notice_body({"type": "peer-left", "side": side, "grace_seconds": grace})
        try:
            notice = await self.store.leave(
                session_id, side, conn.conn_id, self.clock() + grace, body
            )
        except (RedisError, OSError, TimeoutError):
            log.warning("signaling: could not mark a side away (store unreachable)")
            return
        if notice is not None:
            await self._deliver(session_id, peer_of(side), [notice])
            self._emit(SideLeft(session_id, side))

    # ---- delivery ----------------------------------------------------------

    def _release(self, key: tuple[str, Side]) -> Connection | None:
        """Forget the socket holding a side here."""
        conn = self.local.pop(key, None)
        if self.draining and not self.local:
            self._no_calls.set()
        return conn

    async def _deliver(
        self, session_id: str, side: Side, entries: list[Entry], published: bool = False
    ) -> None:
        """Send mailbox ``entries`` (consecutive seqs) to ``side``'s page, here or elsewhere."""
        local = self.local.get((session_id, side))
        if local is not None:
            await local.deliver_all(entries)
        # Published even after a local delivery: the socket here may be a stale one
        # that another process has replaced without this one having heard yet.
        if not published and self.bus.shared:
            first, *more = entries
            await self.bus.publish(
                BusMessage(DELIVER, session_id, side, first.seq, first.text, [e.text for e in more])
            )

    async def _ended(self, session_id: str, ending: Ending) -> None:
        text = ended_message(ending)
        for side in SIDES:
            local = self._release((session_id, side))
            if local is not None:
                await local.finish(text)
        await self.bus.publish(BusMessage(ENDED, session_id, text=text))
        self._emit(SessionEnded(session_id, ending.reason, ending.side))
        if seat_of(session_id) is None:  # her contact is over: so is the colleague's seat
            seat, now = colleague_seat(session_id), self.clock()
            if await self.store.end(seat, ending.reason, ending.side, now):
                await self._ended(seat, ending)

    async def _finish_ended(self, conn: Connection) -> None:
        assert conn.session_id is not None and conn.side is not None
        presence = await self.store.presence(conn.session_id, conn.side)
        ending = presence.ending if presence and presence.ending else Ending("closed", None)
        self._release((conn.session_id, conn.side))
        await conn.finish(ended_message(ending))

    async def _on_bus(self, message: BusMessage) -> None:
        if message.kind == DELIVER and message.side in SIDES:
            local = self.local.get((message.session, message.side))
            if local is not None:
                # In the background: a slow page must not hold up the bus for everyone.
                seq = message.seq
                local.deliver_later(
                    [Entry(seq, message.text)]
                    + [Entry(seq + i, text) for i, text in enumerate(message.more, 1)]
                )
        elif message.kind == ENDED:
            for side in SIDES:
                local = self._release((message.session, side))
                if local is not None:
                    self.spawn(local.finish(message.text))
        elif message.kind == REPLACED and message.side in SIDES:
            key = (message.session, message.side)
            local = self.local.get(key)
            if local is not None and local.conn_id != message.conn:
                self._release(key)
                self.spawn(local.refuse(SignalingError("replaced")))

    async def resync(self) -> None:
        """Bring every socket here up to date from the store (after the bus lost messages)."""
        for (session_id, side), conn in list(self.local.items()):
            try:
                presence = await self.store.presence(session_id, side)
                if _lost(presence) and await self._revive(session_id):
                    continue  # made again, and caught up
                if presence is None or presence.ending is not None:
                    self._release((session_id, side))
                    ending = presence.ending if presence else None
                    await conn.finish(ended_message(ending or Ending("closed", None)))
                elif presence.conn != conn.conn_id:
                    self._release((session_id, side))
                    await conn.refuse(SignalingError("replaced"))
                else:
                    await conn.catch_up()
            except (RedisError, OSError, TimeoutError):
                log.warning("signaling: resync stopped (store unreachable); next reconnect retries")
                return

    # ---- Redis lost the sessions -------------------------------------------

    async def restore(self) -> int:
        """Make again the sessions of the live sockets here that the store lost (Redis
        restarted empty, or was flushed); how many sides were given back."""
        given = 0
        for (session_id, _side), conn in list(self.local.items()):
            if await self._give_back(session_id, conn):
                given += 1
        if given:
            log.warning("signaling: %d live side(s) given back after Redis lost them", given)
        return given

    async def _revive(self, session_id: str) -> bool:
        """The store lost the side of a live socket here (the session is gone, or was made
        again by the peer's process without this side): give it back (False when nothing
        here was lost)."""
        if not self.store.shared:
            return False
        revived = False
        for side in SIDES:
            conn = self.local.get((session_id, side))
            if conn is None or not _lost(await self.store.presence(session_id, side)):
                continue
            if await self._give_back(session_id, conn):
                revived = True
        if revived:
            log.warning("signaling: a live call's session was lost by the store; made again")
        return revived

    async def _give_back(self, session_id: str, conn: Connection) -> bool:
        if conn.finished or conn.side is None:
            return False
        given = await self.store.restore(
            session_id,
            conn.side,
            conn.conn_id,
            resume_hash=token_hash(conn.resume_token),
            last_in=conn.last_in,
            sent=conn.sent_seq,
            # An officer's citizen had joined: away for the grace period unless her page
            # is given back (by its own process, at once); a citizen's officer may answer
            # again later.
            peer_away_until=self.clock() + self.config.grace_seconds
            if conn.side == "officer"
            else 0.0,
        )
        if given:
            await conn.catch_up()  # what the peer sent before this side was given back
        return given

    # ---- endings -----------------------------------------------------------

    async def _sweep(self) -> None:
        """End sessions whose side stayed away past the grace period (on any process); keep
        this process's heartbeat, and mark away the sides of processes that died."""
        beat = 0.0
        while self._running:
            await asyncio.sleep(self.config.sweep_seconds)
            try:
                now = self.clock()
                if self.store.shared and now - beat >= self.config.node_ttl_seconds / 4:
                    beat = now
                    await self.store.heartbeat(self.bus.node_id, self.config.node_ttl_seconds)
                    await self._orphans(now)
                for session_id, side in await self.store.due(now, 100):
                    ending = await self.store.expire(session_id, side, now)
                    if ending is not None:
                        await self._ended(session_id, ending)
            except (RedisError, OSError, TimeoutError):
                log.warning("signaling: the sweeper could not reach the store; retrying")
            except Exception:
                log.exception("signaling: the sweeper failed; retrying")

    async def _orphans(self, now: float) -> None:
        """Sides whose process died (no heartbeat) are away for the grace period, as if their
        sockets had closed: the peer is told, and a side not back in time ends the call."""
        grace = self.config.grace_seconds
        for session_id, side, conn in await self.store.orphans(self.bus.node_id):
            body = notice_body({"type": "peer-left", "side": side, "grace_seconds": grace})
            notice = await self.store.leave(session_id, side, conn, now + grace, body)
            if notice is not None:
                await self._deliver(session_id, peer_of(side), [notice])
                self._emit(SideLeft(session_id, side))

    def _emit(self, event: HubEvent) -> None:
        if not self._listeners or seat_of(event.session_id) is not None:
            return  # a colleague's seat is not a contact: what matters is told as her contact's
        session_id = event.session_id
        task = asyncio.create_task(self._tell(event, self._telling.get(session_id)))
        self._telling[session_id] = task
        task.add_done_callback(lambda done: self._told(session_id, done))

    def _told(self, session_id: str, task: asyncio.Task[None]) -> None:
        if self._telling.get(session_id) is task:
            del self._telling[session_id]

    async def _tell(self, event: HubEvent, after: asyncio.Task[None] | None) -> None:
        if after is not None:
            await asyncio.wait({after})  # the session's earlier event first
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:
                log.exception("signaling: a listener failed on %s", type(event).__name__)
