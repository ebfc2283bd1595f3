async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status == 200
    assert (await r.json())["status"] == "ok"


async def test_login_as_gives_a_logged_in_browser(login_as, client):
    from aiohttp import web

    from officers.auth import current_officer
    from safecall.endpoint import endpoint

    browser, officer = await login_as("supervisor")
    assert officer.id
    assert browser.session is not client.session
