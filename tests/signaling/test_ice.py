"""ICE servers for a page: STUN, and TURN with coturn REST credentials that expire."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time

import pytest

from officers.auth import COOKIE
from safecall.settings import Settings, SettingsError
from safecall.state import SETTINGS
from signaling.routes import HUB

SECRET = "coturn-static-auth-secret-for-tests"
TURN = (
    "turn:turn.example.org:3478?transport=udp",
    "turn:turn.example.org:3478?transport=tcp",
    "turns:turn.example.org:443?transport=tcp",
)
STUN = ("stun:turn.example.org:3478",)


@pytest.fixture
async def ice_server(make_app, aiohttp_client):
    app = make_app()
    app[SETTINGS] = dataclasses.replace(
        app[SETTINGS], turn_urls=TURN, turn_secret=SECRET, stun_urls=STUN
    )
    return await aiohttp_client(app)


async def test_a_page_with_its_session_token_gets_stun_and_turn_with_coturn_credentials(
    ice_server, openapi
):
    citizen_token, _ = await ice_server.server.app[HUB].open_session("s-ice")
    before = int(time.time())

    response = await ice_server.get(
        "/api/ice-servers?session=s-ice", headers={"Authorization": f"Bearer {citizen_token}"}
    )

    assert response.status == 200
    body = await response.json()
    openapi.check("GET", "/api/ice-servers", 200, body)
    assert response.headers["Cache-Control"] == "no-store"
    stun, turn = body["iceServers"]
    assert stun == {"urls": list(STUN)}
    assert turn["urls"] == list(TURN)
    expiry, _, user_id = turn["username"].partition(":")
    ttl = body["ttl"]
    assert ttl == 24 * 3600
    assert before + ttl <= int(expiry) <= int(time.time()) + ttl
    assert user_id and citizen_token not in turn["username"]
    # coturn's REST scheme: password = base64(HMAC-SHA1(secret, username))
    digest = hmac.new(SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(digest).decode()
    again = await (
        await ice_server.get(
            "/api/ice-servers?session=s-ice", headers={"Authorization": f"Bearer {citizen_token}"}
        )
    ).json()
    assert again["iceServers"][1]["username"] != turn["username"]  # a fresh id each time


async def test_the_resume_token_and_the_officer_login_also_work(
    ice_server, connect, officer_cookie
):
    citizen_token, _ = await ice_server.server.app[HUB].open_session("s-ice2")
    page = await connect(ice_server)
    await page.join("s-ice2", citizen_token)
    response = await ice_server.get(
        "/api/ice-servers?session=s-ice2", headers={"Authorization": f"Bearer {page.resume_token}"}
    )
    assert response.status == 200
    cookie, _ = await officer_cookie()
    response = await ice_server.get("/api/ice-servers", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert response.status == 200
    assert len((await response.json())["iceServers"]) == 2


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {}),
        ("?session=s-ice3", {}),
        ("?session=s-ice3", {"Authorization": "Bearer wrong-token-wrong-token"}),
        ("?session=other", {"Authorization": "Bearer {token}"}),
        ("", {"Authorization": "Bearer {token}"}),
        ("", {"Cookie": f"{COOKIE}=not-a-login"}),
    ],
)
async def test_without_a_valid_token_or_login_there_are_no_credentials(
    ice_server, openapi, query, headers
):
    citizen_token, _ = await ice_server.server.app[HUB].open_session("s-ice3")
    headers = {k: v.format(token=citizen_token) for k, v in headers.items()}
    response = await ice_server.get(f"/api/ice-servers{query}", headers=headers)
    assert response.status == 401
    body = await response.json()
    openapi.check("GET", "/api/ice-servers", 401, body)
    assert body["error"]["code"] == "invalid_session_token"


async def test_without_turn_configured_only_what_exists_is_given(server):
    citizen_token, _ = await server.server.app[HUB].open_session("s-ice4")
    response = await server.get(
        "/api/ice-servers?session=s-ice4", headers={"Authorization": f"Bearer {citizen_token}"}
    )
    assert (await response.json())["iceServers"] == []  # host candidates only (embedded default)


def test_settings_read_the_signaling_variables():
    settings = Settings.from_env(
        {
            "SAFECALL_ALLOWED_ORIGINS": "https://App.Example.org/, http://127.0.0.1:9000",
            "SAFECALL_STUN_URLS": STUN[0],
            "SAFECALL_TURN_URLS": ",".join(TURN),
            "SAFECALL_TURN_SECRET": SECRET,
        }
    )
    assert settings.allowed_origins == ("https://app.example.org", "http://127.0.0.1:9000")
    assert settings.stun_urls == STUN and settings.turn_urls == TURN
    assert settings.turn_secret == SECRET
    assert Settings.from_env({}).turn_urls == () and Settings.from_env({}).turn_secret is None


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SAFECALL_TURN_URLS": TURN[0]}, "SAFECALL_TURN_SECRET"),
        (
            {"SAFECALL_TURN_URLS": "http://turn.example.org", "SAFECALL_TURN_SECRET": SECRET},
            "SAFECALL_TURN_URLS",
        ),
        ({"SAFECALL_STUN_URLS": "turn:turn.example.org"}, "SAFECALL_STUN_URLS"),
        ({"SAFECALL_ALLOWED_ORIGINS": "https://a.example.org/path"}, "SAFECALL_ALLOWED_ORIGINS"),
        ({"SAFECALL_ALLOWED_ORIGINS": "a.example.org"}, "SAFECALL_ALLOWED_ORIGINS"),
        ({"SAFECALL_TURN_SECRET": "short-secret"}, "SAFECALL_TURN_SECRET"),
    ],
)
def test_bad_signaling_settings_stop_the_server_with_a_clear_sentence(env, names):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert names in str(refused.value)
    assert "short-secret" not in str(refused.value)  # a secret is never repeated
