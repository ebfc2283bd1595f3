"""Issue 13 item 4, as the attacker tried it: racing the login throttle, and holding an
officer out by typing wrong passwords for her badge. Through HTTP, on SQLite and
PostgreSQL, with two server processes (two apps on one database)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from officers import devices, throttle
from officers.models import LoginThrottle
from safecall.app import create_app
from tests.officers.conftest import PASSWORD

WRONG = "not the password"
Browser = TestClient[Any, Any]


async def login(browser: Browser, badge: str = "B-101", password: str = PASSWORD, **headers: str):
    return await browser.post(
        "/api/login", json={"badge": badge, "password": password}, headers=headers
    )


@pytest.fixture
async def new_browser(client: Browser) -> AsyncIterator[Callable[[], Awaitable[Browser]]]:
    """Another browser (its own cookies) on the same server."""
    made: list[Browser] = []

    async def make() -> Browser:
        browser: Browser = TestClient(client.server)
        await browser.start_server()
        made.append(browser)
        return browser

    yield make
    for browser in made:
        await browser.session.close()


async def failures(db: Any, key: str) -> int:
    async with db() as session:
        row = await session.get(LoginThrottle, key)
    return 0 if row is None else row.failures


async def test_parallel_guesses_are_admitted_before_argon2_not_after(
    client: Browser, add_officer: Any, aiohttp_client: Any, settings: Any, clock: Any, db: Any
) -> None:
    """24 concurrent wrong passwords, half to each of two server processes: before, all 24
    were checked (the count came after argon2); now at most the free ones and one more."""
    await add_officer("B-101")
    other = await aiohttp_client(create_app(settings, clock))

    answers = await asyncio.gather(
        *(login(client if i % 2 else other, password=WRONG) for i in range(24))
    )

    statuses = [a.status for a in answers]
    codes = [(await a.json())["error"]["code"] for a in answers]
    checked = statuses.count(401)
    assert 1 <= checked <= throttle.ACCOUNT.free + 1, statuses
    assert statuses.count(429) == 24 - checked
    assert set(codes) <= {"login_failed", "login_busy", "login_throttled"}
    assert all(a.headers["Retry-After"].isdigit() for a in answers if a.status == 429)
    assert await failures(db, throttle.account_key("B-101")) == checked
    # Nothing stays pending: the next attempt is judged on the failures alone.
    async with db() as session:
        row = await session.get(LoginThrottle, throttle.account_key("B-101"))
    assert row is not None and row.pending == 0


async def test_strangers_cannot_hold_out_an_officer_on_a_browser_she_used_before(
    client: Browser, add_officer: Any, new_browser: Any, openapi: Any, db: Any, clock: Any
) -> None:
    await add_officer("B-101")
    await add_officer("B-102")
    hers = client
    assert (await login(hers)).status == 200  # she logged in here before
    cookie = hers.session.cookie_jar.filter_cookies(hers.make_url("/api/login"))
    assert devices.COOKIE in cookie
    assert devices.COOKIE not in hers.session.cookie_jar.filter_cookies(hers.make_url("/api/me"))

    stranger = await new_browser()
    # The stranger has used the free failures of both badges (counted straight into the
    # table: argon2 is slow) and types one more wrong password for each.
    async with db.begin() as session:
        for badge in ("B-101", "B-102"):
            for _ in range(throttle.ACCOUNT.free):
                await throttle.record_failure(
                    session, throttle.account_key(badge), throttle.ACCOUNT, clock()
                )
    for badge in ("B-101", "B-102"):
        assert (await login(stranger, badge=badge, password=WRONG)).status == 401
        held = await login(stranger, badge=badge)  # even with the right password
        assert held.status == 429
        body = await held.json()
        assert body["error"]["code"] == "login_throttled"
        openapi.check("POST", "/api/login", 429, body)

    # Her browser is not held back by the stranger's failures...
    assert (await login(hers)).status == 200
    # ...for her own badge only: the cookie does not speak for a colleague's.
    assert (await login(hers, badge="B-102")).status == 429
    # A new browser of hers waits like any stranger's; a forged device cookie changes nothing.
    forged = await new_browser()
    forged.session.cookie_jar.update_cookies(
        {devices.COOKIE: "A" * 22 + ".20000." + "B" * 43}, hers.make_url("/api/login")
    )
    assert (await login(forged)).status == 429


async def test_a_known_browser_s_own_wrong_passwords_still_earn_delays(
    client: Browser, add_officer: Any, db: Any, clock: Any
) -> None:
    """A stolen device cookie buys no free guesses: its attempts have their own count."""
    await add_officer("B-101")
    assert (await login(client)).status == 200
    jar = client.session.cookie_jar.filter_cookies(client.make_url("/api/login"))
    device = throttle.device_key(jar[devices.COOKIE].value.split(".")[0])
    async with db.begin() as session:
        for _ in range(throttle.ACCOUNT.free):
            await throttle.record_failure(session, device, throttle.ACCOUNT, clock())
    assert (await login(client, password=WRONG)).status == 401
    held = await login(client)
    assert held.status == 429 and held.headers["Retry-After"] == "5"
    assert await failures(db, device) == throttle.ACCOUNT.free + 1
    assert await failures(db, throttle.account_key("B-101")) == 0  # the badge is untouched


@pytest.fixture
async def behind_proxy(
    aiohttp_client: Any, settings: Any, clock: Any
) -> Browser:  # a server that trusts X-Forwarded-For, as behind the operator's proxy
    app = create_app(dataclasses.replace(settings, trust_forwarded=True), clock)
    browser: Browser = await aiohttp_client(app)
    return browser


async def test_ipv6_addresses_are_counted_by_their_64(
    behind_proxy: Browser, add_officer: Any, db: Any, clock: Any
) -> None:
    """One phone rotates through its whole /64: each address must not get a count of its own."""
    await add_officer("B-101")
    network = "addr:2001:db8:1:2::/64"
    async with db.begin() as session:
        for _ in range(throttle.ADDRESS.free - 1):
            await throttle.record_failure(session, network, throttle.ADDRESS, clock())

    for address in ("2001:db8:1:2::aaaa", "2001:db8:1:2:ffff:ffff:ffff:1"):
        response = await login(behind_proxy, badge="B-999", password=WRONG, **xff(address))
        assert response.status == 401
    held = await login(behind_proxy, **xff("2001:db8:1:2:1234::5"))
    assert held.status == 429
    assert await failures(db, network) == throttle.ADDRESS.free + 1
    assert (await login(behind_proxy, **xff("2001:db8:1:3::1"))).status == 200  # another /64


async def test_a_forwarded_for_header_she_wrote_herself_does_not_move_her(
    behind_proxy: Browser, add_officer: Any, db: Any, clock: Any
) -> None:
    """The proxy appends the address it saw: the first entries are the client's own words."""
    await add_officer("B-101")
    async with db.begin() as session:
        for _ in range(throttle.ADDRESS.free + 1):
            await throttle.record_failure(
                session, throttle.address_key("203.0.113.9"), throttle.ADDRESS, clock()
            )
    spoofed = await login(behind_proxy, **xff("198.51.100.1, 203.0.113.9"))
    assert spoofed.status == 429


def xff(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}
