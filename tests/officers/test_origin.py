"""A write sent from another site's page is refused before it does anything."""

from __future__ import annotations

from officers.models import Officer
from tests.officers.conftest import PASSWORD


async def test_login_from_another_site_is_refused(client, add_officer, openapi):
    await add_officer("B-101")

    for origin in ("https://evil.example", "null", "http://127.0.0.1.evil.example"):
        response = await client.post(
            "/api/login",
            json={"badge": "B-101", "password": PASSWORD},
            headers={"Origin": origin},
        )
        assert response.status == 403, origin
        body = await response.json()
        assert body["error"]["code"] == "bad_origin"
        openapi.check("POST", "/api/login", 403, body)
        assert "Set-Cookie" not in response.headers


async def test_login_from_a_configured_origin_is_allowed(client, add_officer, settings):
    await add_officer("B-101")

    for origin in (settings.public_url, *settings.allowed_origins):
        response = await client.post(
            "/api/login",
            json={"badge": "B-101", "password": PASSWORD},
            headers={"Origin": origin},
        )
        assert response.status == 200, origin


async def test_the_host_header_is_not_trusted_for_the_origin(client, add_officer, openapi):
    """Issue 13 item 13, DNS rebinding: a page on the attacker's name, pointed at this
    server, sends a Host and an Origin that agree; neither is a configured origin."""
    await add_officer("B-101")
    for host in ("rebound.example", f"rebound.example:{client.port}"):
        response = await client.post(
            "/api/login",
            json={"badge": "B-101", "password": PASSWORD},
            headers={"Origin": f"http://{host}", "Host": host},
        )
        assert response.status == 403, host
        body = await response.json()
        assert body["error"]["code"] == "bad_origin"
        openapi.check("POST", "/api/login", 403, body)
        assert "Set-Cookie" not in response.headers


async def test_an_officer_endpoint_refuses_another_site_even_when_logged_in(login_as, db):
    admin, _ = await login_as("admin")
    _, target = await login_as("officer")

    response = await admin.post(
        f"/api/officers/{target.id}/disable", headers={"Origin": "https://evil.example"}
    )

    assert response.status == 403
    assert (await response.json())["error"]["code"] == "bad_origin"
    async with db() as session:
        stored = await session.get(Officer, target.id)
    assert stored is not None and stored.disabled is False


async def test_reads_are_not_subject_to_the_origin_check(login_as):
    browser, _ = await login_as("officer")
    response = await browser.get("/api/me", headers={"Origin": "https://evil.example"})
    assert response.status == 200
