"""Limits at the door: messages per connection and new connections per address.

Both are token buckets (:class:`safecall.ratelimit.TokenBucket`). The
per-address one is generous on purpose: behind carrier-grade NAT a whole
town may share one public address, and a page reconnects only after losing
its socket. Its memory is bounded: refilled buckets are forgotten, and
beyond ``max_addresses`` the least recently used go first.
"""

from __future__ import annotations

from collections import OrderedDict

from safecall.ratelimit import TokenBucket, address_key


class MessageLimit:
    """Messages one connection may send: a burst, then a steady rate.

    A token bucket like :class:`TokenBucket`, written out flat: it runs for
    every message.
    """

    __slots__ = ("burst", "per_second", "refusals", "refusals_before_close", "tokens", "updated")

    def __init__(self, burst: float, per_second: float, refusals_before_close: int, now: float):
        self.burst = burst
        self.per_second = per_second
        self.tokens = burst
        self.updated = now
        self.refusals = 0
        self.refusals_before_close = refusals_before_close

    def admit(self, now: float) -> bool:
        """Take one message: True when it may be handled now."""
        tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if tokens < 1.0:
            self.tokens = tokens
            self.refusals += 1
            return False
        self.tokens = tokens - 1.0
        self.refusals = 0
        return True

    @property
    def exhausted(self) -> bool:
        """Refused so many times in a row that the sender is not listening."""
        return self.refusals >= self.refusals_before_close


class ConnectionLimit:
    """New connections per address (IPv4 address or IPv6 /64)."""

    def __init__(self, burst: float, per_second: float, max_addresses: int = 100_000) -> None:
        self.burst = burst
        self.per_second = per_second
        self.max_addresses = max_addresses
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def admit(self, address: str, now: float) -> float:
        """Charge one connection; 0 when admitted, else seconds to wait."""
        key = address_key(address)
        bucket = self._buckets.pop(key, None) or TokenBucket(self.burst, self.per_second, now)
        self._buckets[key] = bucket
        self._forget(now)
        wait = bucket.wait(now)
        if wait == 0:
            bucket.take(now)
        return wait

    def _forget(self, now: float) -> None:
        while len(self._buckets) > 1:
            key, oldest = next(iter(self._buckets.items()))
            if not oldest.full(now) and len(self._buckets) <= self.max_addresses:
                break
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
