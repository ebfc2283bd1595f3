"""Rate limits for public tracking: tolerate carrier-grade NAT, stop enumeration.

Many honest people in Pakistan share one public IPv4 address (carrier-grade
NAT on mobile networks), so counting every request per address would lock
out a whole town because of one busy tracking page. What an enumerator does
that an honest person almost never does is *miss*: ask for a code no case
has. So lookups are charged mostly for misses:

``requests`` — every lookup from an address (IPv4 address, or IPv6 /64, since
    one phone may rotate through a whole /64), 120 burst refilled 2 per second.
    That is generous for hits: hundreds of people behind one NAT address each
    checking a case a few times a day stay far below it; it only caps a flood.
``misses`` — lookups of a well-formed code (right check digit) that no case
    has, 10 burst refilled 1 per minute per address. Honest typos almost never
    land here: the Damm check digit catches every single wrong digit and every
    swap of neighbours, and such codes are not charged (they can never match a
    case and the check-digit rule is public, so a guesser gains nothing from
    them). While an address has no miss token left, *every* lookup from it is
    refused: refusing only the misses would let hits through, and the
    difference would itself answer the guess.
``global misses`` — one bucket over all addresses, 300 burst refilled 30 per
    minute, a circuit breaker against guessing spread over a botnet or IPv6
    rotation. When it is empty, all lookups are refused for a short while.
    Tracking is not urgent (the emergency lines do not depend on it), so a
    pause is a better failure than letting distributed guessing run. At the
    refill rate, with 10^11 possible codes and even ten million cases, a
    guesser finds about four cases a day, and sees only their coarse status.

PIN attempts are limited per case (wherever they come from) with growing
delays, never a hard lockout: three free tries, then 1, 2, 4 ... minutes up to
an hour between tries; a right PIN clears the count, and a day without an
attempt forgets it. Each attempt is charged *before* the PIN is checked, so
parallel guesses cannot all slip through one gap.

Buckets may go below zero when parallel requests pass the check together;
the debt is repaid before the address is served again.

State lives in this process (:class:`InProcessTrackingLimiter`) with bounded
memory: buckets that have refilled are dropped, and beyond ``max_keys`` the
least recently used are evicted; or, with several server processes, in Redis
(:class:`RedisTrackingLimiter`: the same buckets and one script per PIN
attempt, keys with a TTL), so that every process counts the same tries. Time is
passed in by the caller (the app's clock), so tests move it instead of sleeping.

:class:`Buckets` are the same token buckets by key for other limits (unknown
video links): :class:`InProcessBuckets`, or :class:`RedisBuckets` shared by
every process (one Lua step per look or take, the bucket expiring once full).
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True)
class Limits:
    """How much each bucket holds and how fast it refills (per second)."""

    requests_burst: float = 120
    requests_per_second: float = 2.0
    misses_burst: float = 10
    misses_per_second: float = 1 / 60
    global_misses_burst: float = 300
    global_misses_per_second: float = 30 / 60
    pin_free_attempts: int = 3
    """Wrong PINs allowed before the delays start."""
    pin_first_delay: float = 60.0
    """Seconds after the first attempt beyond the free ones; doubles each time."""
    pin_max_delay: float = 3600.0
    pin_forget_after: float = 24 * 3600.0
    """A case with no PIN attempt for this long starts again with free tries."""
    max_keys: int = 100_000
    """Most addresses (and, separately, cases) remembered at once."""


@dataclass(frozen=True)
class Refusal:
    """Not now: wait ``retry_after`` seconds. ``scope`` says whose budget ran out."""

    retry_after: float
    scope: str
    """``address``, ``everyone`` (the global breaker) or ``case`` (PIN attempts)."""

    @property
    def retry_after_header(self) -> str:
        """Whole seconds for the Retry-After header (at least 1)."""
        return str(max(1, math.ceil(self.retry_after)))


@dataclass(frozen=True)
class PinAttempt:
    """The answer to "may she try a PIN now?"."""

    refused: Refusal | None
    """Set when she must wait before trying; the PIN must not be checked."""
    wait_if_wrong: float
    """Seconds she will have to wait before the next try if this PIN is wrong."""


class TrackingLimiter(Protocol):
    """What the tracking endpoint needs; in-process now, Redis-backed for several processes."""

    async def admit(self, address: str, now: datetime) -> Refusal | None:
        """Charge one lookup to ``address``; a Refusal when it must not be served now."""
        ...

    async def record_miss(self, address: str, now: datetime) -> None:
        """Charge a lookup of a well-formed code that no case has."""
        ...

    async def pin_attempt(self, case_key: str, now: datetime) -> PinAttempt:
        """Charge a PIN attempt on a case before the PIN is checked."""
        ...

    async def pin_correct(self, case_key: str) -> None:
        """The PIN was right: forget the case's wrong attempts."""
        ...


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate`` per second; may owe (go below 0)."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.updated = now

    def level(self, now: float) -> float:
        """Tokens at ``now`` (time never runs backwards here)."""
        elapsed = max(0.0, now - self.updated)
        return min(self.capacity, self.tokens + elapsed * self.rate)

    def wait(self, now: float) -> float:
        """Seconds until one whole token is there; 0 when one is there now."""
        missing = 1.0 - self.level(now)
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, now: float, amount: float = 1.0) -> None:
        self.tokens = self.level(now) - amount
        self.updated = max(self.updated, now)

    def full(self, now: float) -> bool:
        return self.level(now) >= self.capacity


def address_key(address: str) -> str:
    """The unit an address is counted by: the IPv4 address, or the IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class _Address:
    requests: TokenBucket
    misses: TokenBucket


@dataclass
class _PinState:
    attempts: int
    last_attempt: float
    blocked_until: float


class InProcessTrackingLimiter:
    """:class:`TrackingLimiter` with its state in this process's memory."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._addresses: OrderedDict[str, _Address] = OrderedDict()
        self._pins: OrderedDict[str, _PinState] = OrderedDict()
        self._global: TokenBucket | None = None

    async def admit(self, address: str, now: datetime) -> Refusal | None:
        t = now.timestamp()
        state = self._address(address_key(address), t)
        if (wait := state.misses.wait(t)) > 0:
            return Refusal(wait, "address")
        if (wait := self._global_bucket(t).wait(t)) > 0:
            return Refusal(wait, "everyone")
        if (wait := state.requests.wait(t)) > 0:
            return Refusal(wait, "address")
        state.requests.take(t)
        return None

    async def record_miss(self, address: str, now: datetime) -> None:
        t = now.timestamp()
        self._address(address_key(address), t).misses.take(t)
        self._global_bucket(t).take(t)

    async def pin_attempt(self, case_key: str, now: datetime) -> PinAttempt:
        t = now.timestamp()
        limits = self.limits
        state = self._pins.pop(case_key, None)
        if state is None or t - state.last_attempt >= limits.pin_forget_after:
            state = _PinState(attempts=0, last_attempt=t, blocked_until=t)
        self._pins[case_key] = state
        self._evict_pins(t)
        if state.blocked_until > t:
            return PinAttempt(Refusal(state.blocked_until - t, "case"), 0.0)
        state.attempts += 1
        state.last_attempt = t
        beyond = state.attempts - limits.pin_free_attempts
        wait = 0.0
        if beyond > 0:
            wait = min(limits.pin_max_delay, limits.pin_first_delay * 2 ** min(beyond - 1, 30))
        state.blocked_until = t + wait
        return PinAttempt(None, wait)

    async def pin_correct(self, case_key: str) -> None:
        self._pins.pop(case_key, None)

    def remembered(self) -> tuple[int, int]:
        """How many addresses and cases are held now (to prove memory stays bounded)."""
        return len(self._addresses), len(self._pins)

    def _global_bucket(self, t: float) -> TokenBucket:
        if self._global is None:
            limits = self.limits
            self._global = TokenBucket(
                limits.global_misses_burst, limits.global_misses_per_second, t
            )
        return self._global

    def _address(self, key: str, t: float) -> _Address:
        state = self._addresses.pop(key, None)
        if state is None:
            limits = self.limits
            state = _Address(
                TokenBucket(limits.requests_burst, limits.requests_per_second, t),
                TokenBucket(limits.misses_burst, limits.misses_per_second, t),
            )
        self._addresses[key] = state  # most recently used last
        self._evict_addresses(t)
        return state

    def _evict_addresses(self, t: float) -> None:
        # A refilled bucket is the same as no bucket, so idle ones cost nothing to drop.
        # Beyond max_keys the least recently used go even with debt: the global
        # breaker still bounds what such a flood of addresses can guess.
        entries = self._addresses
        while len(entries) > 1:
            key, oldest = next(iter(entries.items()))
            idle = oldest.requests.full(t) and oldest.misses.full(t)
            if not idle and len(entries) <= self.limits.max_keys:
                break
            del entries[key]

    def _evict_pins(self, t: float) -> None:
        entries = self._pins
        while len(entries) > 1:
            key, oldest = next(iter(entries.items()))
            forgotten = t - oldest.last_attempt >= self.limits.pin_forget_after
            if not forgotten and len(entries) <= self.limits.max_keys:
                break
            del entries[key]


# --- buckets by key, in this process or shared by every process through Redis ---------------


@dataclass(frozen=True)
class Rate:
    """A bucket of ``burst`` tokens refilled ``per_second``."""

    burst: float
    per_second: float


class Buckets(Protocol):
    """Token buckets by key (an address, say): shared by every process, or this one's own."""

    async def wait(self, key: str, rate: Rate, now: float) -> float:
        """Seconds before ``key`` has a whole token (0: now); takes nothing."""
        ...

    async def take(self, key: str, rate: Rate, now: float) -> None:
        """Take one token from ``key``'s bucket (it may owe)."""
        ...


class InProcessBuckets:
    """:class:`Buckets` in this process's memory, bounded: buckets that have refilled are
    dropped, and beyond ``max_keys`` the least recently used."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    async def wait(self, key: str, rate: Rate, now: float) -> float:
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.wait(now)

    async def take(self, key: str, rate: Rate, now: float) -> None:
        bucket = self._buckets.pop(key, None) or TokenBucket(rate.burst, rate.per_second, now)
        bucket.take(now)
        self._buckets[key] = bucket
        while self._buckets:
            oldest_key, oldest = next(iter(self._buckets.items()))
            if not oldest.full(now) and len(self._buckets) <= self.max_keys:
                break
            del self._buckets[oldest_key]

    def __len__(self) -> int:
        return len(self._buckets)


class RedisBuckets:
    """:class:`Buckets` in Redis, shared by every process: each look or take is one script
    (``safecall/lua/token_bucket.lua``), and a bucket that has refilled expires."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.prefix = prefix
        source = resources.files("safecall").joinpath("lua", "token_bucket.lua").read_text()
        self._script = redis.register_script(source)

    async def wait(self, key: str, rate: Rate, now: float) -> float:
        return await self._step(key, rate, now, 0)

    async def take(self, key: str, rate: Rate, now: float) -> None:
        await self._step(key, rate, now, 1)

    async def _step(self, key: str, rate: Rate, now: float, amount: int) -> float:
        args: list[str | int] = [
            repr(float(rate.burst)),
            repr(float(rate.per_second)),
            repr(now),
            amount,
        ]
        reply = await self._script(keys=[self.prefix + key], args=args)
        return float(reply)


class RedisTrackingLimiter:
    """:class:`TrackingLimiter` in Redis, shared by every server process: the buckets are
    :class:`RedisBuckets`; a PIN attempt is one script (``safecall/lua/pin_attempt.lua``),
    charged before the PIN is checked."""

    def __init__(
        self, redis: Redis, limits: Limits | None = None, prefix: str = "tracking:"
    ) -> None:
        self.limits = limits or Limits()
        self.prefix = prefix
        self.buckets = RedisBuckets(redis, prefix)
        self._redis = redis
        source = resources.files("safecall").joinpath("lua", "pin_attempt.lua").read_text()
        self._pin = redis.register_script(source)
        limits = self.limits
        self._requests = Rate(limits.requests_burst, limits.requests_per_second)
        self._misses = Rate(limits.misses_burst, limits.misses_per_second)
        self._global = Rate(limits.global_misses_burst, limits.global_misses_per_second)

    async def admit(self, address: str, now: datetime) -> Refusal | None:
        t, key = now.timestamp(), address_key(address)
        if (wait := await self.buckets.wait(f"misses:{key}", self._misses, t)) > 0:
            return Refusal(wait, "address")
        if (wait := await self.buckets.wait("misses:everyone", self._global, t)) > 0:
            return Refusal(wait, "everyone")
        if (wait := await self.buckets.wait(f"requests:{key}", self._requests, t)) > 0:
            return Refusal(wait, "address")
        await self.buckets.take(f"requests:{key}", self._requests, t)
        return None

    async def record_miss(self, address: str, now: datetime) -> None:
        t, key = now.timestamp(), address_key(address)
        await self.buckets.take(f"misses:{key}", self._misses, t)
        await self.buckets.take("misses:everyone", self._global, t)

    async def pin_attempt(self, case_key: str, now: datetime) -> PinAttempt:
        limits = self.limits
        refused, if_wrong = await self._pin(
            keys=[f"{self.prefix}pin:{case_key}"],
            args=[
                repr(now.timestamp()),
                limits.pin_free_attempts,
                repr(limits.pin_first_delay),
                repr(limits.pin_max_delay),
                repr(limits.pin_forget_after),
            ],
        )
        wait = float(refused)
        if wait > 0:
            return PinAttempt(Refusal(wait, "case"), 0.0)
        return PinAttempt(None, float(if_wrong))

    async def pin_correct(self, case_key: str) -> None:
        await self._redis.delete(f"{self.prefix}pin:{case_key}")
