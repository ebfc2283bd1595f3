"""Every bad message gets its error code, and the connection (and the call) carries on."""

from __future__ import annotations

import dataclasses
import json

import pytest
from aiohttp import WSServerHandshakeError

from safecall.state import SETTINGS
from signaling.routes import HUB
from tests.signaling.conftest import open_call


async def joined_citizen(server, connect, session="s-err"):
    citizen_token, _ = await server.server.app[HUB].open_session(session)
    page = await connect(server)
    await page.join(session, citizen_token)
    return page


async def still_open(page):
    await page.send("ping", nonce=42)
    assert (await page.expect("pong"))["nonce"] == 42


@pytest.mark.parametrize(
    ("frame", "code", "says"),
    [
        ("not json at all", "invalid_json", "JSON"),
        ('{"v": 1, "type": "chat"', "invalid_json", "JSON"),
        ("[" * 5000 + "]" * 5000, "invalid_json", "JSON"),  # too deep for any parser
        ("[1, 2, 3]", "invalid_message", "object"),
        ('"chat"', "invalid_message", "object"),
        ('{"type": "chat", "seq": 1, "text": "hi"}', "unsupported_version", '"v": 1'),
        ('{"v": 2, "type": "chat", "seq": 1, "text": "hi"}', "unsupported_version", '"v": 1'),
        ('{"v": "1", "type": "chat", "seq": 1, "text": "hi"}', "unsupported_version", '"v": 1'),
        ('{"v": true, "type": "chat", "seq": 1, "text": "hi"}', "unsupported_version", '"v": 1'),
        ('{"v": 1, "type": "dance"}', "unknown_type", "'dance'"),
        ('{"v": 1, "type": "joined"}', "unknown_type", "'joined'"),
        ('{"v": 1}', "unknown_type", "not a message"),
        ('{"v": 1, "type": "chat", "seq": 1, "text": ""}', "invalid_message", "'text'"),
        ('{"v": 1, "type": "chat", "seq": 1, "text": "   "}', "invalid_message", "'text'"),
        ('{"v": 1, "type": "chat", "seq": 0, "text": "hi"}', "invalid_message", "'seq'"),
        ('{"v": 1, "type": "chat", "seq": "1", "text": "hi"}', "invalid_message", "'seq'"),
        ('{"v": 1, "type": "chat", "text": "hi"}', "invalid_message", "'seq'"),
        ('{"v": 1, "type": "chat", "seq": 1, "text": "hi", "x": 1}', "invalid_message", "'x'"),
        ('{"v": 1, "type": "offer", "seq": 1, "sdp": "hello"}', "invalid_message", "'sdp'"),
        (
            '{"v": 1, "type": "candidate", "seq": 1, "candidate": {"candidate": "candidate:1"}}',
            "invalid_message",
            "sdpMid",
        ),
        ('{"v": 1, "type": "ack", "seq": -1}', "invalid_message", "'seq'"),
        ('{"v": 1, "type": "ping", "nonce": 1.5}', "invalid_message", "'nonce'"),
    ],
)
async def test_a_bad_frame_gets_its_error_code_and_the_connection_stays_open(
    server, connect, frame, code, says
):
    page = await joined_citizen(server, connect)

    await page.send_raw(frame)

    error = await page.expect("error")
    assert error["code"] == code and error["fatal"] is False
    assert says in error["message"]
    await still_open(page)


async def test_errors_name_the_seq_of_the_refused_message(server, connect):
    page = await joined_citizen(server, connect)
    await page.send_raw(json.dumps({"v": 1, "type": "chat", "seq": 9, "text": "x" * 2001}))
    error = await page.expect("error")
    assert error["code"] == "invalid_message" and error["ref_seq"] == 9
    assert "2000" in error["message"]


async def test_a_chat_of_exactly_2000_characters_passes(server, connect, officer_cookie):
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)
    await call.citizen.send("chat", text="ب" * 2000)
    assert len((await call.officer.expect("chat"))["text"]) == 2000


async def test_a_too_big_message_is_refused_and_a_huge_one_closes_the_socket(
    make_app, aiohttp_client, connect
):
    server = await aiohttp_client(make_app(max_message_bytes=4096, hard_message_bytes=16384))
    page = await joined_citizen(server, connect)

    await page.send("chat", text="x" * 5000)
    error = await page.expect("error")
    assert error["code"] == "too_big" and "4096" in error["message"]
    # multi-byte text is measured in bytes, not characters
    await page.send("chat", text="ب" * 1999)
    assert (await page.expect("error"))["code"] == "too_big"
    await still_open(page)

    await page.send_raw("x" * 20000)
    assert await page.closed() == 1009  # message too big: never read into memory


async def test_a_binary_frame_is_refused(server, connect):
    page = await joined_citizen(server, connect)
    await page.ws.send_bytes(b'{"v": 1, "type": "ping"}')
    assert (await page.expect("error"))["code"] == "not_text"
    await still_open(page)


async def test_too_fast_is_refused_then_closed_when_it_goes_on(make_app, aiohttp_client, connect):
    server = await aiohttp_client(
        make_app(messages_burst=5, messages_per_second=0.001, refusals_before_close=10)
    )
    page = await connect(server)
    for nonce in range(5):
        await page.send("ping", nonce=nonce)
    for nonce in range(5):
        assert (await page.expect("pong"))["nonce"] == nonce

    await page.send("ping", nonce=99)
    error = await page.expect("error")
    assert error["code"] == "rate_limited" and error["fatal"] is False
    for _ in range(9):
        await page.send("ping")
    codes = [(await page.expect("error"))["code"] for _ in range(9)]
    assert codes == ["rate_limited"] * 8 + ["too_fast"]
    assert await page.closed() == 1008


async def test_messages_before_join_and_a_second_join_are_refused(server, connect):
    citizen_token, _ = await server.server.app[HUB].open_session("s-order")
    page = await connect(server)

    await page.send("chat", text="hello?")
    assert (await page.expect("error"))["code"] == "not_joined"
    await page.send("ack", seq=0)
    assert (await page.expect("error"))["code"] == "not_joined"
    await page.join("s-order", citizen_token)
    await page.send("join", session="s-order", token=citizen_token)
    assert (await page.expect("error"))["code"] == "already_joined"
    await still_open(page)


async def test_a_gap_in_the_page_s_seqs_is_refused_with_the_expected_seq(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    call = await open_call(connect, server, server, cookie)

    await call.citizen.send("chat", seq=3, text="skipped two")
    error = await call.citizen.expect("error")

    assert error["code"] == "bad_seq" and error["ref_seq"] == 3
    assert "Expected seq 1" in error["message"]
    await call.citizen.send("chat", seq=1, text="in order")
    assert (await call.officer.expect("chat"))["text"] == "in order"


async def test_a_full_mailbox_refuses_more_until_the_peer_takes_them(
    make_app, aiohttp_client, connect, officer_cookie
):
    server = await aiohttp_client(make_app(max_pending=3))
    cookie, _ = await officer_cookie()
    citizen_token, officer_token = await server.server.app[HUB].open_session("s-full")
    citizen = await connect(server)
    await citizen.join("s-full", citizen_token)
    for text in ("1", "2", "3"):
        await citizen.send("chat", text=text)
    await citizen.send("chat", text="4")
    error = await citizen.expect("error")
    assert error["code"] == "backlog_full" and error["ref_seq"] == 4

    officer = await connect(server, cookie=cookie)
    await officer.join("s-full", officer_token)
    assert [(await officer.expect("chat"))["text"] for _ in range(3)] == ["1", "2", "3"]
    await officer.ack()
    await citizen.send("chat", seq=4, text="4")
    assert (await officer.expect("chat"))["text"] == "4"


@pytest.mark.parametrize(
    ("session", "token"),
    [("s-tok", "w" * 32), ("no-such-session", None), ("s-tok", "short")],
)
async def test_a_wrong_token_or_unknown_session_is_refused_and_closed(
    server, connect, session, token
):
    citizen_token, _ = await server.server.app[HUB].open_session("s-tok")
    page = await connect(server)
    await page.send("join", session=session, token=token or citizen_token)
    error = await page.expect("error")
    if token == "short":
        assert error["code"] == "invalid_message" and error["fatal"] is False
        return
    assert error["code"] == "invalid_token" and error["fatal"] is True
    assert await page.closed() == 4401


async def test_the_officer_side_needs_the_officer_s_login(server, connect, officer_cookie):
    citizen_token, officer_token = await server.server.app[HUB].open_session("s-login")
    citizen = await connect(server)
    await citizen.join("s-login", citizen_token)

    for cookie in (None, "not-a-login-token"):
        page = await connect(server, cookie=cookie)
        await page.send("join", session="s-login", token=officer_token)
        error = await page.expect("error")
        assert error["code"] == "login_required" and error["fatal"] is True
        assert await page.closed() == 4401

    # nothing changed: the officer side is still free, and she can take it
    cookie, _ = await officer_cookie()
    officer = await connect(server, cookie=cookie)
    assert (await officer.join("s-login", officer_token))["side"] == "officer"
    assert (await citizen.expect("peer-joined"))["side"] == "officer"


async def test_an_officer_cookie_cannot_take_the_citizen_side_without_her_token(
    server, connect, officer_cookie
):
    cookie, _ = await officer_cookie()
    await server.server.app[HUB].open_session("s-side")
    page = await connect(server, cookie=cookie)
    await page.send("join", session="s-side", token="a" * 32)
    assert (await page.expect("error"))["code"] == "invalid_token"


async def test_a_session_bound_to_an_officer_refuses_another_officer(
    server, connect, officer_cookie
):
    mine, my_id = await officer_cookie()
    other, _ = await officer_cookie()
    _, officer_token = await server.server.app[HUB].open_session("s-bound", officer_id=my_id)

    page = await connect(server, cookie=other)
    await page.send("join", session="s-bound", token=officer_token)
    assert (await page.expect("error"))["code"] == "wrong_officer"
    assert await page.closed() == 4403
    page = await connect(server, cookie=mine)
    assert (await page.join("s-bound", officer_token))["side"] == "officer"


async def test_a_socket_that_never_joins_is_closed(make_app, aiohttp_client, connect):
    server = await aiohttp_client(make_app(join_timeout_seconds=0.2))
    page = await connect(server)
    error = await page.expect("error")
    assert error["code"] == "join_timeout" and error["fatal"] is True
    assert await page.closed() == 1008


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://evil.example", False),
        ("null", False),
        ("http://127.0.0.1:8080", True),  # the public URL's origin
        ("https://partner.example.org", True),  # SAFECALL_ALLOWED_ORIGINS
    ],
)
async def test_origin_allowlist(make_app, aiohttp_client, connect, origin, allowed):
    app = make_app()
    app[SETTINGS] = dataclasses.replace(
        app[SETTINGS], allowed_origins=("https://partner.example.org",)
    )
    server = await aiohttp_client(app)
    if allowed:
        page = await connect(server, headers={"Origin": origin})
        await still_open(page)
        return
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(server, headers={"Origin": origin})
    assert refused.value.status == 403
    response = await server.get("/ws", headers={"Origin": origin})
    assert (await response.json())["error"]["code"] == "bad_origin"


async def test_the_host_header_is_not_an_allowed_origin(server, connect):
    """DNS rebinding: a page on the attacker's name pointed at this server sends a Host
    and an Origin that agree; only configured origins may open a socket."""
    rebound = "rebound.example"
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(server, headers={"Origin": f"http://{rebound}", "Host": rebound})
    assert refused.value.status == 403
    response = await server.get("/ws", headers={"Origin": f"http://{rebound}", "Host": rebound})
    assert (await response.json())["error"]["code"] == "bad_origin"


async def test_new_connections_per_address_are_limited(make_app, aiohttp_client, connect):
    server = await aiohttp_client(make_app(connections_burst=3, connections_per_second=0.001))
    for _ in range(3):
        await connect(server)
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect(server)
    assert refused.value.status == 429
    response = await server.get("/ws")
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "too_many_connections"
    assert int(response.headers["Retry-After"]) >= 1


async def test_a_plain_request_to_the_socket_address_is_refused(server):
    response = await server.get("/ws")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "not_websocket"
