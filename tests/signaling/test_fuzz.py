"""Fuzzing: no frame a page can send crashes the handler or the server; each bad one gets its error.

The oracle for the error code is independent of the server's parser: plain
``json.loads`` and the protocol's top-level rules (an object, ``"v": 1``, a
known type). Deeper field errors must be ``invalid_message``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signaling.errors import CODES, SignalingError
from signaling.messages import CLIENT_TYPES, MAX_SEQ, numbered, parse, relay_body, server_adapter
from signaling.routes import HUB

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=15,
)
field_values = st.one_of(
    json_values,
    st.integers(min_value=-5, max_value=MAX_SEQ + 5),
    st.text(min_size=0, max_size=2100),
    st.sampled_from(["v=0\r\n", "v=0", "", "candidate:1 1 udp 1 1.2.3.4 9 typ host"]),
)
# Near-valid messages: the right envelope with fields drawn at random, so fuzzing
# reaches the per-field checks and not only the envelope.
near_valid = st.builds(
    lambda kind, fields, v: {"v": v, "type": kind, **fields},
    st.sampled_from(sorted(CLIENT_TYPES)),
    st.dictionaries(
        st.sampled_from(
            [
                "seq",
                "sdp",
                "candidate",
                "text",
                "session",
                "token",
                "resume_token",
                "last_seq",
                "nonce",
                "extra",
            ]
        ),
        field_values,
        max_size=4,
    ),
    st.sampled_from([1, 1, 1, 2, "1", True]),
)


def expected_code(text: str) -> str | None:
    """The error the protocol's top-level rules demand, or None when they pass."""
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        return "invalid_json"
    if not isinstance(data, dict):
        return "invalid_message"
    if type(data.get("v")) is not int or data.get("v") != 1:
        return "unsupported_version"
    if data.get("type") not in CLIENT_TYPES:
        return "unknown_type"
    return None


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(max_size=300), json_values.map(json.dumps), near_valid.map(json.dumps)))
def test_parse_accepts_or_refuses_with_a_known_code_and_nothing_else(text):
    try:
        message = parse(text)
    except SignalingError as exc:
        assert exc.code in CODES and exc.message
        expected = expected_code(text)
        assert exc.code == (expected or "invalid_message")
        return
    assert expected_code(text) is None
    assert message.v == 1 and message.type in CLIENT_TYPES


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["citizen", "officer"]),
    st.integers(min_value=1, max_value=10**9),
    st.one_of(
        st.builds(
            lambda t: {"type": "chat", "text": t},
            st.text(min_size=1, max_size=2000).filter(str.strip),
        ),
        st.builds(lambda s: {"type": "offer", "sdp": "v=0\r\n" + s}, st.text(max_size=500)),
        st.builds(
            lambda c, m, i: {
                "type": "candidate",
                "candidate": {"candidate": c, "sdpMid": m, "sdpMLineIndex": i},
            },
            st.text(max_size=200),
            st.text(max_size=10),
            st.integers(0, 1023),
        ),
        st.just({"type": "candidate", "candidate": None}),
        st.just({"type": "hangup"}),
    ),
)
def test_every_valid_relayed_message_comes_out_as_a_documented_server_message(side, seq, fields):
    message = parse(json.dumps({"v": 1, "seq": 1, **fields}))
    relayed = server_adapter.validate_json(numbered(seq, relay_body(message, side)))
    assert relayed.seq == seq and relayed.from_ == side and relayed.type == fields["type"]


async def exchange(page, text: str) -> list[dict[str, Any]]:
    """Send ``text``, then a ping; everything the server said until the pong (or its close)."""
    await page.send_raw(text)
    await page.send("ping", nonce=424242)
    said = []
    while True:
        try:
            frame = await page.recv(5)
        except Exception as exc:  # closed: fatal error before it
            said.append({"closed": getattr(exc, "code", None)})
            return said
        if frame["type"] == "pong" and frame["nonce"] == 424242:
            return said
        said.append(frame)


class Fuzzing:
    """One server for all the examples of a test; a page that is replaced when closed."""

    def __init__(self, server, connect, join: bool) -> None:
        self.server, self.connect, self.join = server, connect, join
        self.page = None
        self.sessions = 0

    async def current_page(self):
        if self.page is None:
            self.page = await self.connect(self.server)
            if self.join:
                self.sessions += 1
                session = f"fuzz-{self.sessions}"
                citizen_token, _ = await self.server.server.app[HUB].open_session(session)
                await self.page.join(session, citizen_token)
        return self.page


async def fuzzing(make_app, aiohttp_client, connect, join):
    server = await aiohttp_client(make_app(messages_burst=100_000, messages_per_second=100_000))
    return Fuzzing(server, connect, join)


async def check_frame(fuzz: Fuzzing, text: str) -> None:
    said = await exchange(await fuzz.current_page(), text)
    errors = [f for f in said if f.get("type") == "error"]
    assert all(e["code"] in CODES for e in errors)
    expected = expected_code(text)
    if expected is not None:
        assert [e["code"] for e in errors] == [expected]
        assert errors[0]["fatal"] is False
    if said and "closed" in said[-1]:
        # only a fatal error may close it (e.g. a join with a random token)
        assert errors and errors[-1]["fatal"] is True
        assert said[-1]["closed"] == CODES[errors[-1]["code"]].close
        fuzz.page = None  # the next example opens a new page: the server still takes them


@pytest.fixture
async def joined(make_app, aiohttp_client, connect):
    return await fuzzing(make_app, aiohttp_client, connect, join=True)


@pytest.fixture
async def unjoined(make_app, aiohttp_client, connect):
    return await fuzzing(make_app, aiohttp_client, connect, join=False)


@FUZZ
@given(
    text=st.one_of(st.text(max_size=400), json_values.map(json.dumps), near_valid.map(json.dumps))
)
async def test_arbitrary_frames_to_a_joined_page_never_crash_the_handler_and_each_gets_its_error(
    joined, text
):
    await check_frame(joined, text)


@FUZZ
@given(
    text=st.one_of(
        st.binary(max_size=100).map(lambda b: b.decode("latin-1")), near_valid.map(json.dumps)
    )
)
async def test_arbitrary_frames_before_joining_never_crash_the_handler(unjoined, text):
    await check_frame(unjoined, text)
