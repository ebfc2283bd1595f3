"""Requests built to crash the server get a 400 with a stable code, never a 500 (issue 13, item 11).

Each attack is sent as a stranger (or an ordinary officer) would send it: through the
public HTTP interface or the signaling WebSocket, on real SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import WSMsgType

DEEP = "[" * 50_000 + "]" * 50_000
"""50,000 nested arrays: CPython's json module gives up with RecursionError, not ValueError."""

PUBLIC_JSON_POSTS = ["/api/login", "/api/contacts", "/api/track", "/api/video-links"]


@pytest.mark.parametrize("path", PUBLIC_JSON_POSTS)
async def test_deeply_nested_json_to_a_public_endpoint_is_refused(client: Any, path: str) -> None:
    response = await client.post(path, data=DEEP, headers={"Content-Type": "application/json"})
    assert response.status == 400, await response.text()
    body = await response.json()
    assert body["error"]["code"] == "invalid_json"
    assert "nested" in body["error"]["message"]


async def test_json_nested_below_the_recursion_limit_is_refused_too(client: Any) -> None:
    """Deep enough to pass json.loads but to trip whatever walks it next (validation, storage)."""
    shallow_enough = "[" * 900 + "]" * 900
    response = await client.post(
        "/api/login",
        data='{"badge": "B-1", "password": ' + shallow_enough + "}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"


async def test_ordinary_nesting_still_reads(client: Any) -> None:
    response = await client.post("/api/login", json={"badge": "B-1", "password": [[["x"]]]})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_body"  # read, then refused


async def test_deeply_nested_json_on_the_signaling_socket_is_an_error_message(
    client: Any,
) -> None:
    ws = await client.ws_connect("/ws")
    await ws.send_str("[" * 30_000 + "]" * 30_000)  # under the socket's 64 KiB per message
    message = await ws.receive(timeout=10)
    assert message.type == WSMsgType.TEXT, message
    assert '"invalid_json"' in message.data
    await ws.close()


async def test_a_non_ascii_digit_in_an_officer_id_is_refused(login_as: Any) -> None:
    admin, _ = await login_as("admin")
    # Superscript two and Urdu (extended Arabic-Indic) digits: str.isdigit() says yes to both.
    for target in ("%C2%B2", "%DB%B1%DB%B2"):
        response = await admin.post(f"/api/officers/{target}/disable")
        assert response.status == 400, await response.text()
        body = await response.json()
        assert body["error"]["code"] == "invalid_officer_id"
        assert "0-9" in body["error"]["message"]
