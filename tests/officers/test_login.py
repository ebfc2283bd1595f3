"""Logging in and out: the cookie, one answer for every failure, expiry, disabling."""

from __future__ import annotations

import dataclasses

from argon2 import PasswordHasher
from sqlalchemy import func, select

from officers.auth import COOKIE
from officers.models import Officer, OfficerLogin
from officers.passwords import needs_rehash, verify_password
from safecall.app import create_app
from tests.officers.conftest import PASSWORD


async def login(client, badge="B-101", password=PASSWORD, **extra):
    return await client.post("/api/login", json={"badge": badge, "password": password, **extra})


async def test_login_sets_a_strict_http_only_cookie_and_returns_the_profile(
    client, add_officer, openapi
):
    officer = await add_officer("B-101", role="supervisor", district="Lahore")

    response = await login(client)

    assert response.status == 200
    body = await response.json()
    openapi.check("POST", "/api/login", 200, body)
    assert body["id"] == officer.id
    assert body["badge"] == "B-101"
    assert body["role"] == "supervisor"
    assert body["totp"] is False
    assert "password_hash" not in body and "totp_sealed" not in body
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain http in tests
    me = await client.get("/api/me")
    assert me.status == 200
    assert (await me.json())["badge"] == "B-101"
    openapi.check("GET", "/api/me", 200, await me.json())


async def test_cookie_is_secure_when_the_public_url_is_https(
    aiohttp_client, settings, clock, add_officer
):
    await add_officer("B-101")
    app = create_app(
        dataclasses.replace(settings, public_url="https://safecall.example.org"), clock
    )
    client = await aiohttp_client(app)

    response = await login(client)

    assert response.status == 200
    assert response.cookies[COOKIE]["secure"] is True
    assert "Secure" in response.headers["Set-Cookie"]


async def test_badge_is_matched_without_regard_to_case_or_spaces(client, add_officer):
    await add_officer("B-101")
    assert (await login(client, badge="  b-101 ")).status == 200


async def test_unknown_badge_wrong_password_and_disabled_officer_get_the_same_answer(
    client, add_officer, db, openapi
):
    await add_officer("B-101")
    await add_officer("B-102", disabled=True)

    answers = [
        await login(client, badge="B-999"),
        await login(client, badge="B-101", password="not the password"),
        await login(client, badge="B-102"),  # right password, disabled
    ]

    bodies = [await r.json() for r in answers]
    assert [r.status for r in answers] == [401, 401, 401]
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0] == {
        "error": {"code": "login_failed", "message": "Badge or password is wrong."}
    }
    openapi.check("POST", "/api/login", 401, bodies[0])
    assert all(COOKIE not in r.cookies for r in answers)
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(OfficerLogin)) == 0


async def test_login_body_is_validated(client):
    missing = await client.post("/api/login", json={"badge": "B-101"})
    assert missing.status == 400
    assert (await missing.json())["error"]["code"] == "invalid_body"
    assert "password" in (await missing.json())["error"]["message"]

    not_json = await client.post("/api/login", data="badge=B-101&password=x")
    assert not_json.status == 415

    extra = await client.post(
        "/api/login", json={"badge": "B-101", "password": "x", "role": "admin"}
    )
    assert extra.status == 400


async def test_logout_ends_the_login_and_clears_the_cookie(client, add_officer, db):
    await add_officer("B-101")
    await login(client)
    token = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value

    response = await client.post("/api/logout")

    assert response.status == 204
    assert response.cookies[COOKIE].value == ""
    assert (await client.get("/api/me")).status == 401
    # The old token is dead on the server too, not only forgotten by this browser.
    client.session.cookie_jar.update_cookies({COOKIE: token})
    assert (await client.get("/api/me")).status == 401
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(OfficerLogin)) == 0


async def test_logout_without_a_login_is_harmless(client):
    response = await client.post("/api/logout")
    assert response.status == 204


async def test_a_login_expires(login_as, clock, settings):
    browser, _ = await login_as("officer")
    assert (await browser.get("/api/me")).status == 200

    clock.advance(settings.session_hours * 3600 + 1)

    response = await browser.get("/api/me")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "not_logged_in"


async def test_login_cookie_lasts_as_long_as_the_login(client, add_officer, settings):
    await add_officer("B-101")
    response = await login(client)
    assert int(response.cookies[COOKIE]["max-age"]) == int(settings.session_hours * 3600)


async def test_a_weak_old_hash_is_upgraded_at_login(client, add_officer, db):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    officer = await add_officer("B-101", password_hash=weak)

    assert (await login(client)).status == 200

    async with db() as session:
        stored = await session.get(Officer, officer.id)
    assert stored is not None and stored.password_hash != weak
    assert not needs_rehash(stored.password_hash)
    assert verify_password(stored.password_hash, PASSWORD)


async def test_supervisors_list_officers_without_secrets(login_as, add_officer, openapi):
    await add_officer("B-101", with_totp=True)
    browser, me = await login_as("supervisor")

    response = await browser.get("/api/officers")

    assert response.status == 200
    body = await response.json()
    openapi.check("GET", "/api/officers", 200, body)
    badges = [o["badge"] for o in body["officers"]]
    assert badges == sorted(badges) and "B-101" in badges and me.badge in badges
    assert next(o for o in body["officers"] if o["badge"] == "B-101")["totp"] is True
    text = await response.text()
    assert "argon2" not in text and "password" not in text


async def test_an_admin_disables_an_officer_and_their_logins_end(login_as, openapi):
    officer_browser, officer = await login_as("officer")
    admin, _ = await login_as("admin")

    response = await admin.post(f"/api/officers/{officer.id}/disable")

    assert response.status == 200
    body = await response.json()
    openapi.check("POST", "/api/officers/{officer_id}/disable", 200, body)
    assert body["disabled"] is True
    assert (await officer_browser.get("/api/me")).status == 401

    again = await admin.post(f"/api/officers/{officer.id}/enable")
    assert again.status == 200
    assert (await again.json())["disabled"] is False
    # Disabling ended the login itself; enabling does not bring it back.
    assert (await officer_browser.get("/api/me")).status == 401


async def test_disable_refuses_unknown_officers_and_oneself(login_as):
    admin, me = await login_as("admin")

    for target in ("999999", "abc", "99999999999999999999"):
        response = await admin.post(f"/api/officers/{target}/disable")
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "officer_not_found"
    own = await admin.post(f"/api/officers/{me.id}/disable")
    assert own.status == 409
    assert (await own.json())["error"]["code"] == "cannot_disable_self"
    assert (await admin.get("/api/me")).status == 200


async def test_supervisor_cannot_disable(login_as):
    officer_browser, officer = await login_as("officer")
    supervisor, _ = await login_as("supervisor")

    response = await supervisor.post(f"/api/officers/{officer.id}/disable")

    assert response.status == 403
    assert (await officer_browser.get("/api/me")).status == 200


async def test_logins_logouts_and_disabling_are_audited_without_the_password(
    client, add_officer, login_as, db
):
    from audit.models import AuditEvent

    officer = await add_officer("B-101")
    await login(client, password="a wrong guess here")
    await login(client, badge="B-999")
    await login(client)
    await client.post("/api/logout")
    admin, boss = await login_as("admin")
    await admin.post(f"/api/officers/{officer.id}/disable")

    async with db() as session:
        events = (await session.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars()
        seen = [(e.action, e.actor_kind, e.officer_id, e.detail) for e in events]
    assert seen == [
        ("login.fail", "public", None, {"badge": "B-101", "reason": "password"}),
        ("login.fail", "public", None, {"badge": "B-999", "reason": "unknown_badge"}),
        ("login.success", "officer", officer.id, {"second_factor": False}),
        ("logout", "officer", officer.id, {}),
        ("officer.disable", "officer", boss.id, {}),
    ]
    assert "a wrong guess" not in repr(seen) and PASSWORD not in repr(seen)
