"""How signaling behaves: the grace period, limits and timers, in one value.

``signaling.routes.setup`` puts the defaults in ``app[CONFIG]``; the hub and
the WebSocket handler read it when the app starts, so a test or a benchmark
may replace it (``app[CONFIG] = replace(app[CONFIG], grace_seconds=0.2)``)
before starting the app.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignalingConfig:
    grace_seconds: float = 30.0
    """How long a side may be away (socket lost) before the session ends as dropped."""
    node_ttl_seconds: float = 10.0
    """A process whose heartbeat is this old is dead: the sides its sockets held are marked
    away (and end as dropped after the grace period) by the processes still alive."""
    sweep_seconds: float = 0.5
    """How often the hub looks for sides away past their grace period."""
    heartbeat_seconds: float = 20.0
    """WebSocket ping interval; a socket with no pong within half of it is closed."""
    join_timeout_seconds: float = 10.0
    """A new socket must join (or resume) within this time."""
    citizen_join_seconds: float = 30.0
    """Her page must join its call within this time after her intake, or the contact ends
    (abandoned, out of line, no callback): a flood of fake contacts never waits in line."""
    max_message_bytes: int = 64 * 1024
    """Larger text frames get ``too_big`` (the connection stays open)."""
    hard_message_bytes: int = 1024 * 1024
    """Larger frames close the connection (1009) before they are read into memory."""
    messages_burst: float = 60
    """Messages a connection may send at once (a browser trickles a burst of candidates)."""
    messages_per_second: float = 20
    """Sustained messages per second per connection."""
    refusals_before_close: int = 100
    """``rate_limited`` answers in a row before the connection is closed (``too_fast``)."""
    connections_burst: float = 300
    """New connections at once from one address (IPv4, or IPv6 /64): generous for
    carrier-grade NAT, where a whole town may share one address."""
    connections_per_second: float = 20
    """Sustained new connections per second from one address."""
    max_pending: int = 1000
    """Messages a mailbox may hold for a page that has not acknowledged them."""
    ack_delay_seconds: float = 0.02
    """Acks are sent at most this long after a message (they are cumulative)."""
    ack_every: int = 32
    """... or after this many messages, whichever comes first."""
    send_timeout_seconds: float = 10.0
    """A page that does not take a message within this time is disconnected (it resumes)."""
    drain_seconds: float = 20.0
    """On shutdown with sessions in this process only: how long to wait for calls to end."""
    turn_ttl_seconds: int = 24 * 3600
    """How long TURN credentials stay valid."""
    idle_ttl_seconds: float = 24 * 3600
    """A session with no activity for this long is forgotten."""
    ended_ttl_seconds: float = 3600
    """An ended session is remembered this long (a late resume learns how it ended)."""
