"""How many browser contacts may start: per address and over everyone, so a flood of fake
contacts cannot push real women down the line.

Many honest people share one public IPv4 address (carrier-grade NAT), and a
woman may try again and again when her call drops, so the per-address budget
is generous: 20 contacts at once, then one more every 20 seconds (180 an
hour from one address). Over everyone, 300 at once, then 5 a second: ten
times the busiest hour the Punjab centres have seen. Contacts whose page
never joins end by themselves after the join window (:mod:`contacts.desk`),
so what a flood within these limits can hold in line is small.

A refused intake is told, in words, to call 15; each refusal is counted on
``/metrics`` (``safecall_intake_refused_total``) and raises a wallboard
alarm for five minutes (shared by every process through Redis when there
is one).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from prometheus_client import Counter
from redis.asyncio import Redis

from safecall.ratelimit import Buckets, InProcessBuckets, Rate, RedisBuckets, address_key
from safecall.refusals import TooMany

PER_ADDRESS = Rate(burst=20, per_second=1 / 20)
EVERYONE = Rate(burst=300, per_second=5)
ALARM_SECONDS = 300.0

REFUSED = Counter(
    "safecall_intake_refused",
    "Browser contacts refused by the intake limits, by whose budget ran out.",
    ["scope"],  # address | everyone
)

CALL_15 = (
    "Too many contacts are being started {who} just now, so we could not start yours. "
    "Please call 15: the helpline is free and answers day and night."
)


class IntakeRefused(TooMany):
    def __init__(self, scope: str, wait: float) -> None:
        who = "from your network" if scope == "address" else "at once"
        super().__init__("intake_busy", CALL_15.format(who=who), retry_after=wait)
        self.scope = scope


@dataclass(frozen=True)
class Tripped:
    refused: int
    """Intakes refused in the last :data:`ALARM_SECONDS`."""


class IntakeLimits:
    def __init__(self, buckets: Buckets | None = None, redis: Redis | None = None) -> None:
        self.buckets = buckets or InProcessBuckets()
        self._redis = redis
        self._recent: deque[float] = deque(maxlen=10_000)

    @classmethod
    def shared(cls, redis: Redis) -> IntakeLimits:
        return cls(RedisBuckets(redis, "intake:"), redis)

    async def admit(self, address: str, now: float) -> None:
        """Charge one intake to ``address`` and to everyone; :class:`IntakeRefused` when
        either budget is spent (nothing is charged then)."""
        key = f"address:{address_key(address)}"
        for scope, bucket, rate in (("address", key, PER_ADDRESS), ("everyone", "all", EVERYONE)):
            wait = await self.buckets.wait(bucket, rate, now)
            if wait > 0:
                REFUSED.labels(scope).inc()
                await self._trip()
                raise IntakeRefused(scope, wait)
        await self.buckets.take(key, PER_ADDRESS, now)
        await self.buckets.take("all", EVERYONE, now)

    async def _trip(self) -> None:
        if self._redis is None:
            self._recent.append(time.monotonic())
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr("intake:refused")
            pipe.expire("intake:refused", int(ALARM_SECONDS), nx=True)
            await pipe.execute()

    async def tripped(self) -> Tripped | None:
        """Refusals in the last five minutes, for the wallboard's alarm (None: none)."""
        if self._redis is None:
            since = time.monotonic() - ALARM_SECONDS
            while self._recent and self._recent[0] < since:
                self._recent.popleft()
            count = len(self._recent)
        else:
            count = int(await self._redis.get("intake:refused") or 0)
        return Tripped(count) if count else None
