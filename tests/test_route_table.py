"""The whole route table, walked: nothing is public by accident, every role check holds.

This picks up every route any package adds. A new public route must be added
to PUBLIC below, on purpose; a new staff route needs nothing here to be checked.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from aiohttp import hdrs, web

from safecall.endpoint import OFFICER, endpoint_of

PUBLIC = {
    ("GET", "/"),
    ("GET", "/console"),
    ("GET", "/console/wallboard"),  # the page only; its feed needs a supervisor's login
    ("GET", "/console/reports"),  # the page only; the figures need a supervisor's login
    ("GET", "/track"),
    ("GET", "/static/{name}"),
    ("GET", "/manifest.webmanifest"),  # the installable app: its name and icon (no one's data)
    ("GET", "/sw.js"),  # its service worker (keeps the shell only)
    ("GET", "/offline"),  # its offline page: call 15, or text the centre
    ("GET", "/api/probe"),  # bytes her page times to judge her network (no one's data)
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/login"),
    ("POST", "/api/logout"),
    ("POST", "/api/track"),  # tracking by code (the citizen's own way back to her case)
    ("GET", "/ws"),  # signaling: sides prove themselves in the join message
    ("GET", "/api/ice-servers"),  # signaling: STUN/TURN for the citizen page
    ("POST", "/api/contacts"),  # the citizen page starts a contact (no login: she is anonymous)
    ("GET", "/api/contacts/{session_id}"),  # her place in line, with her contact's token
    ("GET", "/api/districts"),  # the districts her intake and the forms choose from
    ("POST", "/api/contacts/{session_id}/pin"),  # her PIN, at the end of her contact (token)
    ("POST", "/api/contacts/{session_id}/location"),  # her live location, shared (token)
    ("POST", "/api/track/pin"),  # her PIN changed, with the one she has
    ("POST", "/twilio/voice"),  # Twilio's webhooks: each checks X-Twilio-Signature instead
    ("POST", "/twilio/status"),
    ("POST", "/twilio/ivr/wait"),
    ("POST", "/twilio/ivr/hold-key"),
    ("POST", "/twilio/ivr/enqueue"),  # put her in line again after a moment's hold
    ("POST", "/twilio/ivr/pin/offer"),  # her PIN on the keypad, after the conversation
    ("POST", "/twilio/ivr/pin/first"),
    ("POST", "/twilio/ivr/pin/again"),
    ("POST", "/twilio/ivr/track/code"),
    ("POST", "/twilio/ivr/track/pin"),
    ("POST", "/twilio/ivr/callback-answer"),
    ("POST", "/twilio/ivr/{step}"),
    ("GET", "/twilio/prompts/{lang}/{name}"),  # recorded prompts Twilio fetches (no one's data)
    ("GET", "/twilio/media"),  # Twilio Media Streams: signed upgrade + single-use stream token
    ("POST", "/api/video-links"),  # her one-time SMS video link (the token is the proof)
    ("GET", "/field"),  # the field page only; its API needs a station's or institution's login
    ("PUT", "/api/contacts/{session_id}/updates"),  # how she may be told of progress (token)
    ("POST", "/api/track/updates/stop"),  # she stops her updates (her code and PIN)
    ("POST", "/twilio/messaging"),  # texts to the centre (signed by Twilio)
    ("POST", "/twilio/messaging/status"),  # delivery receipts (signed by Twilio)
    ("POST", "/twilio/handoff/conference"),  # a handoff room's events (signed by Twilio)
    ("POST", "/twilio/handoff/call"),  # a handoff's receiving call ended (signed by Twilio)
}
"""Every route reachable without a login. Adding one is a decision: write it here."""

ROLE_REFUSAL = "Your role does not allow this."

# Values tried for path parameters, in order, until the route's own pattern matches.
DUMMIES = ("1", "123456789012", "00000000-0000-4000-8000-000000000001", "x", "x.js")


def path_of(route: web.AbstractRoute) -> str:
    info = route.resource.get_info() if route.resource is not None else {}
    return str(info.get("path") or info.get("formatter"))


def url_for(route: web.AbstractRoute) -> str:
    """A concrete URL that this route (and its own pattern) matches."""
    info = route.resource.get_info() if route.resource is not None else {}
    if "path" in info:
        return str(info["path"])
    formatter, pattern = info["formatter"], info["pattern"]
    names = re.findall(r"{(\w+)}", formatter)
    for values in itertools.product(DUMMIES, repeat=len(names)):
        url = formatter.format(**dict(zip(names, values, strict=True)))
        if pattern.fullmatch(url):
            return str(url)
    raise AssertionError(f"no dummy value fits {formatter}; add one to DUMMIES")


def routes(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path, endpoint) for every route, HEAD left out (it mirrors GET)."""
    found = []
    for route in app.router.routes():
        if route.method == hdrs.METH_HEAD:
            continue
        found.append((route.method, path_of(route), route))
    assert found, "the app has no routes"
    return found


async def send(client, method: str, url: str):
    if method == hdrs.METH_ANY:
        method = "GET"
    if method in ("POST", "PUT", "PATCH"):
        return await client.request(method, url, json={})
    return await client.request(method, url)


def test_every_route_declares_an_endpoint(app):
    missing = [
        f"{method} {path}"
        for method, path, route in routes(app)
        if endpoint_of(route.handler) is None
    ]
    assert missing == [], "routes without @endpoint (the auth middleware refuses them)"


def test_public_routes_are_exactly_the_allowlist(app):
    public = {
        (method, path)
        for method, path, route in routes(app)
        if (meta := endpoint_of(route.handler)) is not None and meta.roles is None
    }
    assert public - PUBLIC == set(), "public routes not in the allowlist"
    assert PUBLIC - public == set(), "allowlisted routes that are gone or no longer public"


async def test_every_other_route_refuses_a_request_without_login(app, client):
    checked = 0
    for method, path, route in routes(app):
        meta = endpoint_of(route.handler)
        if meta is not None and meta.roles is None:
            continue
        response = await send(client, method, url_for(route))
        assert response.status == 401, f"{method} {path} answered {response.status}"
        body = await response.json()
        assert body["error"]["code"] == "not_logged_in", f"{method} {path}"
        checked += 1
    assert checked > 0


async def test_a_bad_or_ended_login_is_refused_everywhere(app, client, login_as, clock):
    browser, _ = await login_as("admin")
    clock.advance(10 * 24 * 3600)  # past any login's end
    client.session.cookie_jar.update_cookies({"safecall_session": "made-up-token"})
    for method, path, route in routes(app):
        meta = endpoint_of(route.handler)
        if meta is None or meta.roles is None:
            continue
        for who in (browser, client):
            response = await send(who, method, url_for(route))
            assert response.status == 401, f"{method} {path} answered {response.status}"


async def test_routes_closed_to_officers_refuse_a_logged_in_officer(app, login_as):
    browser, _ = await login_as("officer")
    checked = 0
    for method, path, route in routes(app):
        meta = endpoint_of(route.handler)
        if meta is None or meta.roles is None or OFFICER in meta.roles:
            continue
        checked += 1
        response = await send(browser, method, url_for(route))
        assert response.status == 403, f"{method} {path} answered {response.status}"
        assert (await response.json())["error"]["code"] == "forbidden", f"{method} {path}"
    assert checked > 0
    # The officer is still logged in: refusals did not end the login.
    assert (await browser.get("/api/me")).status == 200


@pytest.mark.parametrize("role", ["supervisor", "admin"])
async def test_each_role_passes_the_gate_of_routes_it_may_use(app, login_as, role):
    """The other side of the gate: an allowed role is never told 401 or 403 by it."""
    browser, _ = await login_as(role)
    for method, path, route in routes(app):
        meta = endpoint_of(route.handler)
        if meta is None or meta.roles is None or role not in meta.roles:
            continue
        response = await send(browser, method, url_for(route))
        assert response.status != 401, f"{method} {path} as {role}"
        if response.status == 403:
            # A handler may refuse for reasons of its own; the role gate may not.
            message = (await response.json())["error"]["message"]
            assert message != ROLE_REFUSAL, f"{method} {path} as {role}"
