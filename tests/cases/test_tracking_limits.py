"""Tracking limits across addresses: each address its own misses, one breaker for everyone.

The app here trusts X-Forwarded-For (as behind the operator's own proxy), so
one test client can speak for many addresses; the limiter is the real one
with a small global budget.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aiohttp import web

from contacts.service import TRACKING_LIMITER
from safecall.ratelimit import InProcessTrackingLimiter, Limits
from safecall.settings import Settings
from tests.cases.test_tracking import Client, Db, make_case, track, unknown_code
from tests.support import FakeClock, OpenAPIChecker


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, trust_forwarded=True)


@pytest.fixture
def app(app: web.Application) -> web.Application:
    app[TRACKING_LIMITER] = InProcessTrackingLimiter(
        Limits(misses_burst=3, global_misses_burst=8, global_misses_per_second=1 / 30)
    )
    return app


def at(address: str) -> dict[str, Any]:
    return {"X-Forwarded-For": address}


async def test_each_address_has_its_own_misses(client: Client, db: Db) -> None:
    case = await make_case(db)
    for _ in range(3):
        assert (await track(client, {"code": unknown_code(case.tracking_code)}, **at("10.0.0.1")))[
            0
        ] == 404
    assert (await track(client, {"code": case.tracking_code}, **at("10.0.0.1")))[0] == 429
    assert (await track(client, {"code": case.tracking_code}, **at("10.0.0.2")))[0] == 200
    # One IPv6 /64 is one address: a phone may rotate through all of it.
    for suffix in ("1", "2", "3"):
        status, _, _ = await track(
            client, {"code": unknown_code(case.tracking_code)}, **at(f"2001:db8:1:2::{suffix}")
        )
        assert status == 404
    assert (await track(client, {"code": case.tracking_code}, **at("2001:db8:1:2::9")))[0] == 429
    assert (await track(client, {"code": case.tracking_code}, **at("2001:db8:1:3::1")))[0] == 200


async def test_the_global_breaker_stops_guessing_spread_over_many_addresses(
    client: Client, db: Db, clock: FakeClock, openapi: OpenAPIChecker
) -> None:
    case = await make_case(db)
    for n in range(8):  # a botnet: one guess from each address
        status, _, _ = await track(
            client, {"code": unknown_code(case.tracking_code)}, **at(f"192.0.2.{n}")
        )
        assert status == 404
    # Everyone waits now, even a fresh address asking for a real case.
    status, body, headers = await track(client, {"code": case.tracking_code}, **at("198.51.100.7"))
    assert status == 429
    openapi.check("POST", "/api/track", status, body)
    assert body["error"] == {
        "code": "too_many_attempts",
        "message": "Tracking is paused for a while because of unusual traffic. "
        "Please try again in a minute.",
    }
    assert headers["Retry-After"] == "30"
    clock.advance(30)
    assert (await track(client, {"code": case.tracking_code}, **at("198.51.100.7")))[0] == 200
