"""The optional second factor: required when enrolled, checked, never accepted twice."""

from __future__ import annotations

import pyotp

from officers import throttle
from officers.models import LoginThrottle
from tests.officers.conftest import PASSWORD


async def login(client, badge="B-101", password=PASSWORD, **extra):
    return await client.post("/api/login", json={"badge": badge, "password": password, **extra})


def code_at(secret, when, steps=0):
    return pyotp.TOTP(secret).at(when, counter_offset=steps)


async def test_enrolled_officer_must_give_a_code(client, add_officer, openapi):
    await add_officer("B-101", with_totp=True)

    response = await login(client)

    assert response.status == 401
    body = await response.json()
    assert body["error"]["code"] == "totp_required"
    openapi.check("POST", "/api/login", 401, body)
    assert (await client.get("/api/me")).status == 401


async def test_a_wrong_code_is_refused_and_counted(client, add_officer, clock, db):
    officer = await add_officer("B-101", with_totp=True)
    right = code_at(officer.totp_secret, clock())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    for bad in (wrong, "12345", "abcdef", "1234567"):
        response = await login(client, totp=bad)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "totp_invalid"
    assert (await client.get("/api/me")).status == 401
    async with db() as session:
        row = await session.get(LoginThrottle, throttle.account_key("B-101"))
    assert row is not None and row.failures == 4


async def test_the_right_code_logs_in_and_cannot_be_used_again(client, add_officer, clock):
    officer = await add_officer("B-101", with_totp=True)
    code = code_at(officer.totp_secret, clock())

    first = await login(client, totp=code)
    assert first.status == 200
    assert (await first.json())["totp"] is True

    replay = await login(client, totp=code)
    assert replay.status == 401
    assert (await replay.json())["error"]["code"] == "totp_invalid"

    clock.advance(30)
    assert (await login(client, totp=code_at(officer.totp_secret, clock()))).status == 200


async def test_codes_tolerate_one_step_of_drift_but_not_more(client, add_officer, clock):
    officer = await add_officer("B-101", with_totp=True)
    secret = officer.totp_secret

    assert (await login(client, totp=code_at(secret, clock(), steps=-2))).status == 401
    assert (await login(client, totp=code_at(secret, clock(), steps=2))).status == 401
    assert (await login(client, totp=code_at(secret, clock(), steps=-1))).status == 200
    # An older step than one already used is refused too.
    assert (await login(client, totp=code_at(secret, clock(), steps=1))).status == 200
    assert (await login(client, totp=code_at(secret, clock()))).status == 401


async def test_a_code_with_spaces_is_accepted(client, add_officer, clock):
    officer = await add_officer("B-101", with_totp=True)
    code = code_at(officer.totp_secret, clock())
    assert (await login(client, totp=f"{code[:3]} {code[3:]}")).status == 200


async def test_a_code_does_not_rescue_a_wrong_password(client, add_officer, clock):
    officer = await add_officer("B-101", with_totp=True)
    code = code_at(officer.totp_secret, clock())

    response = await login(client, password="not the password", totp=code)

    assert response.status == 401
    assert (await response.json())["error"]["code"] == "login_failed"
    # The code was not spent by the failed attempt.
    assert (await login(client, totp=code)).status == 200


async def test_the_secret_is_stored_sealed(add_officer, data_key):
    officer = await add_officer("B-101", with_totp=True)
    assert officer.totp_sealed is not None
    assert officer.totp_secret.encode() not in officer.totp_sealed
    assert data_key.open(officer.totp_sealed, "officer.totp") == officer.totp_secret


async def test_a_code_in_non_ascii_digits_is_a_wrong_code_not_a_crash(client, add_officer):
    """Urdu keyboards type ۱۲۳: str.isdigit() accepts them, hmac.compare_digest does not."""
    await add_officer("B-101", with_totp=True)

    for code in ("۱۲۳۴۵۶", "١٢٣٤٥٦", "１２３４５６"):
        response = await login(client, totp=code)
        assert response.status == 401, await response.text()
        assert (await response.json())["error"]["code"] == "totp_invalid"
