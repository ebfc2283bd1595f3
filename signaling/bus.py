"""The cross-process bus: tells the process holding a page's socket that something changed.

A :class:`BusMessage` names a session and a side and what happened: a new
mailbox message to deliver, the session ended, or the side was taken by a
connection elsewhere. The sender's process applies it to its own sockets
first, then publishes; every process skips its own messages (``origin``).

The bus may lose messages (Redis pub/sub is at most once, and nothing
arrives while a listener reconnects). That never loses a page's message: the
message is in the store before it is published, a process that sees a gap in
the seqs reads the store, and after every reconnection the listener calls
``on_reconnect`` so the hub re-reads the store for each of its sockets.

:class:`LocalBus` joins hubs in one process (the embedded default has just
one); :class:`RedisBus` joins server processes through Redis: one channel
all of them hear, and one per process for the relayed messages meant for the
sockets it holds (a connection id starts with its process's node id, so the
store knows where to send them: :func:`node_of`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import NamedTuple, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

DELIVER = "deliver"
ENDED = "ended"
REPLACED = "replaced"

CHANNEL = "safecall:signaling"


@dataclass(frozen=True)
class BusMessage:
    kind: str
    """``deliver``, ``ended`` or ``replaced``."""
    session: str
    side: str = ""
    """The side concerned ("" for the whole session)."""
    seq: int = 0
    """deliver: the mailbox seq of ``text``."""
    text: str = ""
    """deliver: the message for the page; ended: the session-ended message."""
    more: list[str] = field(default_factory=list)
    """deliver: the messages after ``text``, with the seqs after ``seq`` (a burst)."""
    conn: str = ""
    """replaced: the connection that holds the side now."""
    origin: str = ""
    """The node that published it."""


class DeliverNotice(NamedTuple):
    """How a store may publish ``deliver`` itself, in the atomic step that fills the mailbox.

    Saves a round trip per burst of relayed messages. The store publishes
    only when the connection holding the receiving side belongs to another
    node (its id starts with ``<node>/``), on ``channel`` followed by that
    node's id: ``head``, the first mailbox seq, ``,"text":``, the first text as
    a JSON string, for a burst ``,"more":`` and the others as a JSON array,
    and ``}``: what :func:`decode` reads (``signaling/lua/accept.lua`` writes
    it).
    """

    channel: str
    """The prefix of every node's own channel."""
    head: str
    node: str
    """This node: the store publishes nothing for a connection held here."""


OnMessage = Callable[[BusMessage], Awaitable[None]]
OnReconnect = Callable[[], Awaitable[None]]


def new_node_id() -> str:
    """This process: host, pid and a random part (pids repeat across restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}".replace("/", "-")


def new_conn_id(node_id: str) -> str:
    """A connection id: its node's id, ``/``, a random part."""
    return f"{node_id}/{secrets.token_hex(8)}"


def node_of(conn_id: str) -> str:
    """The node holding connection ``conn_id`` ("" when it does not say)."""
    return conn_id.rpartition("/")[0]


class Bus(Protocol):
    node_id: str

    @property
    def shared(self) -> bool:
        """False when no other node can be listening (publishing would be wasted)."""
        ...

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        """Begin delivering other nodes' messages to ``on_message``."""
        ...

    async def publish(self, message: BusMessage) -> None:
        """Send ``message`` to the other nodes (never raises: a lost message is healed)."""
        ...

    def deliver_notice(self, session: str, side: str) -> DeliverNotice | None:
        """How a store may publish ``deliver`` for ``side`` itself; None: use :meth:`publish`."""
        ...

    async def close(self) -> None: ...


class LocalBus:
    """Hubs in this process. Each hub gets its own :meth:`attach`-ed bus on one LocalBus."""

    def __init__(self) -> None:
        self._nodes: dict[str, OnMessage] = {}

    def attach(self, node_id: str | None = None) -> LocalNode:
        return LocalNode(self, node_id or new_node_id())

    async def _publish(self, message: BusMessage) -> None:
        for node_id, handler in list(self._nodes.items()):
            if node_id != message.origin:
                await handler(message)


class LocalNode:
    """One hub's view of a :class:`LocalBus`."""

    def __init__(self, bus: LocalBus, node_id: str) -> None:
        self.bus = bus
        self.node_id = node_id

    @property
    def shared(self) -> bool:
        return len(self.bus._nodes) > 1

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self.bus._nodes[self.node_id] = on_message

    async def publish(self, message: BusMessage) -> None:
        if self.shared:  # alone (the embedded default): nobody to tell
            await self.bus._publish(_stamped(message, self.node_id))

    def deliver_notice(self, session: str, side: str) -> DeliverNotice | None:
        return None  # no store publishes on a LocalBus

    async def close(self) -> None:
        self.bus._nodes.pop(self.node_id, None)


def _stamped(message: BusMessage, node_id: str) -> BusMessage:
    if message.origin == node_id:
        return message
    return BusMessage(**{**asdict(message), "origin": node_id})


def encode(message: BusMessage) -> str:
    return json.dumps(asdict(message), separators=(",", ":"), ensure_ascii=False)


def decode(data: str) -> BusMessage | None:
    try:
        fields = json.loads(data)
        return BusMessage(**fields)
    except (ValueError, TypeError):
        return None


class RedisBus:
    """Redis pub/sub on one channel; the listener reconnects with growing, jittered delays.

    Publishing that fails keeps the message in an outbox (bounded) and retries
    in order, so a short Redis hiccup delays messages instead of dropping them.
    """

    def __init__(
        self,
        client: Redis,
        *,
        channel: str = CHANNEL,
        node_id: str | None = None,
        backoff: tuple[float, float] = (0.05, 5.0),
        outbox_limit: int = 10_000,
    ) -> None:
        self.client = client
        self.channel = channel
        self.node_id = node_id or new_node_id()
        self.backoff = backoff
        self.connected = asyncio.Event()
        """Set while the listener is subscribed (tests wait on it)."""
        self.reconnects = 0
        """How many times the listener subscribed again after losing Redis."""
        self.shared = True
        self._outbox: deque[str] = deque(maxlen=outbox_limit)
        self._reconnected = False
        self._listener: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        """Subscribe (waiting up to 5 s for the first subscription); again after :meth:`close`."""
        self._closing = False
        self._listener = asyncio.create_task(self._listen(on_message, on_reconnect))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.connected.wait()  # the first subscription; later ones heal in place

    async def publish(self, message: BusMessage) -> None:
        data = encode(_stamped(message, self.node_id))
        if self._outbox:  # keep order behind messages that failed earlier
            self._outbox.append(data)
            return
        try:
            await self.client.publish(self.channel, data)
        except (RedisError, OSError) as exc:
            log.warning("signaling bus: publish failed (%s); will retry", type(exc).__name__)
            self._outbox.append(data)
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.create_task(self._flush())

    @property
    def own_channel(self) -> str:
        """Where the other nodes send the relayed messages for this node's sockets."""
        return f"{self.channel}/{self.node_id}"

    def deliver_notice(self, session: str, side: str) -> DeliverNotice | None:
        if self._outbox:  # messages that failed earlier go first, in order, through publish()
            return None
        fields = {"kind": DELIVER, "session": session, "side": side, "origin": self.node_id}
        head = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)[:-1] + ',"seq":'
        return DeliverNotice(f"{self.channel}/", head, self.node_id)

    async def _flush(self) -> None:
        delay = self.backoff[0]
        while self._outbox and not self._closing:
            try:
                await self.client.publish(self.channel, self._outbox[0])
            except (RedisError, OSError):
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.backoff[1])
                continue
            self._outbox.popleft()
            delay = self.backoff[0]

    async def _listen(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        delay = self.backoff[0]
        subscriptions = 0
        while not self._closing:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel, self.own_channel)
                # redis-py also reconnects and resubscribes by itself, silently: hear of it.
                if pubsub.connection is not None:
                    pubsub.connection.register_connect_callback(self._on_connect)
                self._reconnected = False
                subscriptions += 1
                self.reconnects = subscriptions - 1
                self.connected.set()
                # Whatever was published while we were away is in the store: re-read it.
                await on_reconnect()
                delay = self.backoff[0]
                while not self._closing:
                    raw = await pubsub.get_message(timeout=1.0)
                    if self._reconnected:
                        self._reconnected = False
                        self.reconnects += 1
                        log.info("signaling bus: Redis reconnected; resyncing sockets")
                        await on_reconnect()
                    if raw is None:
                        continue
                    message = decode(raw["data"]) if isinstance(raw["data"], str) else None
                    if message is None or message.origin == self.node_id:
                        continue
                    try:
                        await on_message(message)
                    except Exception:
                        log.exception("signaling bus: handling %s failed", message.kind)
            except (RedisError, OSError) as exc:
                if not self._closing:
                    log.warning("signaling bus: lost Redis (%s); reconnecting", type(exc).__name__)
            finally:
                self.connected.clear()
                if pubsub.connection is not None:
                    pubsub.connection.deregister_connect_callback(self._on_connect)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            if not self._closing:
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.backoff[1])

    def _on_connect(self, connection: object) -> None:
        self._reconnected = True

    async def close(self) -> None:
        self._closing = True
        for task in (self._listener, self._flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
