"""Failed logins earn growing delays per account and per address; success clears the account."""

from __future__ import annotations

from sqlalchemy import select

from officers import throttle
from officers.models import LoginThrottle
from safecall.app import create_app
from tests.officers.conftest import PASSWORD

WRONG = "not the password"


async def login(client, badge="B-101", password=PASSWORD):
    return await client.post("/api/login", json={"badge": badge, "password": password})


async def record_failures(db, key, policy, times, now):
    """Failures counted straight into the table (argon2 is slow; the HTTP path is
    exercised by the other tests)."""
    async with db.begin() as session:
        for _ in range(times):
            await throttle.record_failure(session, key, policy, now)


async def use_the_free_failures(db, now, badge="B-101"):
    """The account's free failures from this address, counted as a wrong login counts them
    (the HTTP path counts the next one, in the tests)."""
    await record_failures(
        db, throttle.account_key(badge), throttle.ACCOUNT, throttle.ACCOUNT.free, now
    )
    await record_failures(
        db, throttle.address_key("127.0.0.1"), throttle.ADDRESS, throttle.ACCOUNT.free, now
    )


async def test_delays_grow_refuse_without_checking_and_reset_on_success(
    client, add_officer, clock, openapi, db
):
    await add_officer("B-101")
    await use_the_free_failures(db, clock())

    sixth = await login(client, password=WRONG)
    assert sixth.status == 401  # not held back after the free ones; it earns the first delay
    refused = await login(client)  # right password, but during the delay
    assert refused.status == 429
    body = await refused.json()
    assert body["error"]["code"] == "login_throttled"
    openapi.check("POST", "/api/login", 429, body)
    assert refused.headers["Retry-After"] == "5"
    assert "5 seconds" in body["error"]["message"]

    clock.advance(4)
    assert (await login(client)).headers["Retry-After"] == "1"
    clock.advance(1)
    assert (await login(client, password=WRONG)).status == 401
    assert (await login(client)).headers["Retry-After"] == "10"  # doubled

    clock.advance(10)
    assert (await login(client)).status == 200
    # The account starts over; the address keeps its count.
    async with db() as session:
        assert await session.get(LoginThrottle, throttle.account_key("B-101")) is None
        address = await session.get(LoginThrottle, throttle.address_key("127.0.0.1"))
    assert address is not None and address.failures == throttle.ACCOUNT.free + 2
    assert (await login(client, password=WRONG)).status == 401
    assert (await login(client)).status == 200


async def test_unknown_badges_are_throttled_like_known_ones(client, db, clock):
    """Otherwise the throttle itself would tell which badges exist."""
    await record_failures(
        db, throttle.account_key("B-404"), throttle.ACCOUNT, throttle.ACCOUNT.free, clock()
    )
    assert (await login(client, badge="B-404", password=WRONG)).status == 401
    response = await login(client, badge="B-404")
    assert response.status == 429
    assert response.headers["Retry-After"] == "5"


async def test_the_delay_is_capped_and_never_a_lockout(add_officer, db, clock, client):
    await add_officer("B-101")
    now = clock()
    async with db.begin() as session:
        for _ in range(40):
            delay = await throttle.record_failure(
                session, throttle.account_key("B-101"), throttle.ACCOUNT, now
            )
    assert delay == throttle.ACCOUNT.cap == 15 * 60

    response = await login(client)
    assert response.status == 429
    assert response.headers["Retry-After"] == str(15 * 60)
    assert "15 minutes" in (await response.json())["error"]["message"]
    clock.advance(15 * 60)
    assert (await login(client)).status == 200


async def test_quiet_time_forgives_old_failures(client, add_officer, clock, db):
    await add_officer("B-101")
    account = throttle.account_key("B-101")
    await record_failures(db, account, throttle.ACCOUNT, throttle.ACCOUNT.free, clock())

    clock.advance(2 * throttle.ACCOUNT.forgive)  # two failures forgiven: three left
    await record_failures(db, account, throttle.ACCOUNT, 1, clock())
    assert (await login(client, password=WRONG)).status == 401  # the fifth: still free
    assert (await login(client)).status == 200


async def test_one_account_s_delay_does_not_hold_back_another(client, add_officer, clock, db):
    await add_officer("B-101")
    await add_officer("B-102")
    await record_failures(
        db, throttle.account_key("B-101"), throttle.ACCOUNT, throttle.ACCOUNT.free, clock()
    )
    assert (await login(client, badge="B-101", password=WRONG)).status == 401

    assert (await login(client, badge="B-101")).status == 429
    assert (await login(client, badge="B-102")).status == 200


async def test_an_address_has_a_much_higher_threshold(client, add_officer, db, clock):
    """Many officers share one address behind carrier-grade NAT: their typos add up
    far past one account's allowance before the address itself is held back."""
    await add_officer("B-101")
    address = throttle.address_key("127.0.0.1")
    free = throttle.ADDRESS.free
    assert free >= 5 * throttle.ACCOUNT.free
    # Officers behind one address have mistyped all but one of its free failures.
    await record_failures(db, address, throttle.ADDRESS, free - 1, clock())
    assert (await login(client, badge="B-200", password=WRONG)).status == 401  # the last free
    assert (await login(client)).status == 200

    # One failure more is past the address's allowance: every badge from it waits.
    assert (await login(client, badge="B-300", password=WRONG)).status == 401
    response = await login(client)
    assert response.status == 429
    assert response.headers["Retry-After"] == "5"
    # Success did not clear the address's count (only the account's).
    clock.advance(5)
    assert (await login(client)).status == 200
    async with db() as session:
        row = await session.get(LoginThrottle, address)
    assert row is not None and row.failures == free + 1


async def test_the_delay_holds_across_server_processes(
    client, add_officer, aiohttp_client, settings, clock, db
):
    await add_officer("B-101")
    await use_the_free_failures(db, clock())
    assert (await login(client, password=WRONG)).status == 401  # earns the first delay
    assert (await login(client)).status == 429
    other = await aiohttp_client(create_app(settings, clock))  # a second server on the same DB

    assert (await login(other)).status == 429


async def test_throttle_rows_never_hold_the_password(client, add_officer, db):
    await add_officer("B-101")
    await login(client, password="hunter2-secret-guess")
    async with db() as session:
        rows = (await session.execute(select(LoginThrottle))).scalars().all()
    assert {r.key for r in rows} == {"badge:B-101", "addr:127.0.0.1"}
    assert all("hunter2" not in repr(vars(r)) for r in rows)


def test_policy_delays():
    policy = throttle.Policy(free=2, first_delay=5, cap=60, forgive=60)
    assert [policy.delay(n) for n in range(1, 8)] == [0, 0, 5, 10, 20, 40, 60]
    assert policy.delay(10_000) == 60
