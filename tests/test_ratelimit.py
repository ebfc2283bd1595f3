"""The tracking limiter on its own: buckets, NAT tolerance, the breaker, PIN delays, memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from safecall.ratelimit import (
    InProcessTrackingLimiter,
    Limits,
    Refusal,
    TokenBucket,
    TrackingLimiter,
    address_key,
)
from tests.support import FakeClock

NAT = "203.0.113.7"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 1, 9, 0, tzinfo=UTC))


def test_a_bucket_refills_continuously_up_to_its_capacity() -> None:
    bucket = TokenBucket(capacity=3, rate=0.5, now=100.0)
    for _ in range(3):
        assert bucket.wait(100.0) == 0
        bucket.take(100.0)
    assert bucket.wait(100.0) == pytest.approx(2.0)
    assert bucket.wait(101.0) == pytest.approx(1.0)
    assert bucket.level(200.0) == 3  # never more than it holds
    bucket.take(200.0, 5)  # parallel requests can leave a debt ...
    assert bucket.wait(200.0) == pytest.approx(6.0)  # ... repaid before the next one
    assert not bucket.full(200.0) and bucket.full(210.0)


async def test_honest_traffic_behind_one_nat_address_is_served(clock: FakeClock) -> None:
    """A thousand lookups over ten minutes, with the odd miss among them."""
    limiter: TrackingLimiter = InProcessTrackingLimiter()
    for n in range(1000):
        assert await limiter.admit(NAT, clock()) is None
        if n % 100 == 0:
            await limiter.record_miss(NAT, clock())
        clock.advance(0.6)


async def test_a_flood_of_hits_is_capped_by_the_request_bucket(clock: FakeClock) -> None:
    limiter = InProcessTrackingLimiter()
    for _ in range(120):
        assert await limiter.admit(NAT, clock()) is None
    refusal = await limiter.admit(NAT, clock())
    assert refusal == Refusal(0.5, "address")
    assert refusal.retry_after_header == "1"
    clock.advance(0.5)
    assert await limiter.admit(NAT, clock()) is None


async def test_misses_are_limited_per_address_and_refill(clock: FakeClock) -> None:
    limiter = InProcessTrackingLimiter()
    for _ in range(10):
        assert await limiter.admit(NAT, clock()) is None
        await limiter.record_miss(NAT, clock())
    refusal = await limiter.admit(NAT, clock())
    assert refusal is not None and refusal.scope == "address"
    assert refusal.retry_after == pytest.approx(60)
    assert await limiter.admit("198.51.100.1", clock()) is None  # others are not touched
    clock.advance(59)
    assert await limiter.admit(NAT, clock()) is not None
    clock.advance(1)
    assert await limiter.admit(NAT, clock()) is None


async def test_misses_passed_in_parallel_leave_a_debt(clock: FakeClock) -> None:
    limiter = InProcessTrackingLimiter()
    for _ in range(15):  # all admitted together, then all missed
        assert await limiter.admit(NAT, clock()) is None
    for _ in range(15):
        await limiter.record_miss(NAT, clock())
    refusal = await limiter.admit(NAT, clock())
    assert refusal is not None and refusal.retry_after == pytest.approx(6 * 60)


async def test_the_global_breaker_counts_misses_from_every_address(clock: FakeClock) -> None:
    limiter = InProcessTrackingLimiter(Limits(global_misses_burst=20, global_misses_per_second=1))
    for n in range(20):
        address = f"192.0.2.{n}"
        assert await limiter.admit(address, clock()) is None
        await limiter.record_miss(address, clock())
    refusal = await limiter.admit("198.51.100.1", clock())
    assert refusal == Refusal(1.0, "everyone")
    clock.advance(1)
    assert await limiter.admit("198.51.100.1", clock()) is None


def test_addresses_are_counted_by_ipv4_address_and_ipv6_64() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key("unknown") == "unknown"


async def test_pin_attempts_get_growing_delays_up_to_an_hour(clock: FakeClock) -> None:
    limiter = InProcessTrackingLimiter()
    for _ in range(3):
        attempt = await limiter.pin_attempt("case:1", clock())
        assert attempt.refused is None and attempt.wait_if_wrong == 0
    waits = []
    for _ in range(9):
        attempt = await limiter.pin_attempt("case:1", clock())
        assert attempt.refused is None
        waits.append(attempt.wait_if_wrong)
        refused = await limiter.pin_attempt("case:1", clock())
        assert refused.refused == Refusal(attempt.wait_if_wrong, "case")
        clock.advance(attempt.wait_if_wrong)
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert (await limiter.pin_attempt("case:2", clock())).wait_if_wrong == 0  # per case


async def test_a_right_pin_or_a_quiet_day_starts_the_count_again(clock: FakeClock) -> None:
    limiter = InProcessTrackingLimiter()
    for _ in range(4):
        await limiter.pin_attempt("case:1", clock())
    clock.advance(60)
    await limiter.pin_correct("case:1")
    assert (await limiter.pin_attempt("case:1", clock())).wait_if_wrong == 0
    for _ in range(3):
        await limiter.pin_attempt("case:1", clock())
    clock.advance(timedelta(days=1).total_seconds())
    assert (await limiter.pin_attempt("case:1", clock())).wait_if_wrong == 0


async def test_memory_stays_bounded(clock: FakeClock) -> None:
    limiter = InProcessTrackingLimiter(Limits(max_keys=50))
    for n in range(500):
        address = f"10.0.{n // 256}.{n % 256}"
        await limiter.admit(address, clock())
        await limiter.record_miss(address, clock())
        await limiter.pin_attempt(f"case:{n}", clock())
    addresses, cases = limiter.remembered()
    assert addresses <= 50 and cases <= 50
    # Refilled buckets and forgotten PIN counts are dropped once time has passed.
    clock.advance(timedelta(days=1).total_seconds())
    await limiter.admit("10.9.9.9", clock())
    await limiter.pin_attempt("case:new", clock())
    assert limiter.remembered() == (1, 1)


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert Refusal(0.01, "address").retry_after_header == "1"
    assert Refusal(59.2, "address").retry_after_header == "60"
    assert Refusal(120.0, "case").retry_after_header == "120"
