"""Media stream tokens: signed, expiring, single-use (in process, and across processes in Redis)."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media import stream_token
from media.stream_token import TTL_SECONDS, StreamClaim
from safecall.app import create_app
from safecall.settings import Settings
from tests.support import FakeClock

CALL = "CA" + "a" * 32


async def test_a_token_is_redeemed_once(server: Any) -> None:
    app = server.server.app
    token = stream_token.issue(app, session_id="s-1", call_sid=CALL)
    assert await stream_token.redeem(app, token) == StreamClaim("s-1", CALL)
    assert await stream_token.redeem(app, token) is None


async def test_a_token_expires(server: Any, clock: FakeClock) -> None:
    app = server.server.app
    fresh = stream_token.issue(app, session_id="s-1", call_sid=CALL)
    stale = stream_token.issue(app, session_id="s-2", call_sid=CALL)
    clock.advance(TTL_SECONDS - 1)
    assert await stream_token.redeem(app, fresh) is not None
    clock.advance(2)
    assert await stream_token.redeem(app, stale) is None


async def test_forged_tokens_are_refused(server: Any, settings: Settings, tmp_path: Any) -> None:
    app = server.server.app
    token = stream_token.issue(app, session_id="s-1", call_sid=CALL)
    body, mac = token.split(".")
    fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    fields["s"] = "someone-elses-session"
    other_body = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")
    # a server with another data key signs differently
    (tmp_path / "other").mkdir()
    from sealing.data_key import DataKey

    DataKey.ensure_file(tmp_path / "other" / "data.key")
    other_app = create_app(
        Settings(**{**settings.__dict__, "data_key_file": tmp_path / "other" / "data.key"})
    )
    foreign = stream_token.issue(other_app, session_id="s-1", call_sid=CALL)
    other_end = "B" if mac.endswith("A") else "A"  # one character off, never the same
    for forged in (
        f"{other_body}.{mac}",
        f"{body}.{mac[:-1]}{other_end}",
        foreign,
        "",
        token + ".x",
    ):
        assert await stream_token.redeem(app, forged) is None
    assert await stream_token.redeem(app, token) is not None  # the genuine one was not used up


@given(garbage=st.text(max_size=600))
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_garbage_is_refused_quietly(server: Any, garbage: str) -> None:
    assert await stream_token.redeem(server.server.app, garbage) is None


async def test_with_redis_a_token_is_single_use_across_processes(
    aiohttp_client: Any, with_redis: Settings, clock: FakeClock
) -> None:
    first: web.Application = create_app(with_redis, clock=clock)
    second: web.Application = create_app(with_redis, clock=clock)
    await aiohttp_client(first)
    await aiohttp_client(second)
    token = stream_token.issue(first, session_id="s-1", call_sid=CALL)
    assert await stream_token.redeem(second, token) == StreamClaim("s-1", CALL)
    assert await stream_token.redeem(first, token) is None
