async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status == 200
    assert (await r.json())["status"] == "ok"


async def test_login_as_gives_a_logged_in_browser(login_as, client):
    browser, officer = await login_as("supervisor")
    assert officer.id
    assert browser.session is not client.session
    me = await browser.get("/api/me")
    assert me.status == 200
    assert (await me.json())["badge"] == officer.badge
    assert (await client.get("/api/me")).status == 401
