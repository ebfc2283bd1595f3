"""The bridge end to end in Python: Twilio's stream <-> /twilio/media <-> signaling <-> aiortc.

No browser: the officer's console is an aiortc peer that joins the session's
officer side on /ws like the console does (tests/media/officer_page.py). The
caller is a call the Twilio emulator carries, moved to the bridge as the IVR
does when an officer accepts; the emulator opens its Media Stream. Audio is
real speech streamed at real pace; both directions are checked by normalized
cross-correlation against what was sent.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import numpy as np
import pytest
from aiohttp import WSServerHandshakeError
from sqlalchemy import select

from audit.models import AuditEvent
from ivr.signature import AUDITED
from media import stream_token
from media.routes import BRIDGES
from signaling.routes import HUB
from tests.media.conftest import STREAM_URL, CallsResource, bridged, streamed_with
from tests.media.officer_page import OfficerPage
from tests.twilio.audio import (
    correlation,
    known_speech,
    piecewise_correlation,
    ulaw_decode,
    ulaw_encode,
)
from tests.twilio.call import Call
from tests.twilio.signing import SIGNATURE_HEADER, signature
from tests.twilio.stream import MediaStream

SPEECH_SECONDS = 2.5

pytestmark = [
    # twilio's async HTTP client (ivr.twilio_api hangs up through it) uses aiohttp's old auth
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]


async def open_call(server: Any, incoming_call: Any) -> tuple[str, Call]:
    """A caller on the line and a signaling session for her call; ``(session_id, call)``."""
    session_id = "call-" + secrets.token_hex(4)
    await server.server.app[HUB].open_session(session_id)
    return session_id, await incoming_call()


async def officer_joins(server: Any, cookie: str, session_id: str, **kw: Any) -> OfficerPage:
    """Her console answers (a fresh officer token each time, as /answer gives) and joins."""
    page = OfficerPage(server, cookie, **kw)
    token = await server.server.app[HUB].officer_token(session_id, None)
    assert token is not None
    await page.join(session_id, token)
    return page


async def caller_heard_by_officer(caller: MediaStream, officer: OfficerPage) -> float:
    """The caller says the known speech; how well the officer's audio matches it."""
    speech = known_speech(SPEECH_SECONDS)
    officer.heard = []
    speaking = asyncio.create_task(caller.send_audio(ulaw_encode(speech)))
    # a second more than the speech: room for the path's latency, however busy the machine
    async with asyncio.timeout(SPEECH_SECONDS + 10):
        while officer.heard_samples().size < (SPEECH_SECONDS + 1) * 8000:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await speaking
    score = correlation(ulaw_decode(ulaw_encode(speech)), officer.heard_samples())
    print(f"caller -> officer ({officer.codec}): {score:.3f}")
    return score


async def officer_heard_by_caller(caller: MediaStream, officer: OfficerPage) -> float:
    speech = known_speech(SPEECH_SECONDS)
    start = len(caller.received)
    officer.audio.play(speech)
    async with asyncio.timeout(SPEECH_SECONDS + 10):
        while len(caller.received) - start < (SPEECH_SECONDS + 1) * 8000:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    # Piece by piece: the officer's aiortc sender may leave a gap when the machine is busy,
    # which shifts the rest of the speech; each piece must still come through.
    score = piecewise_correlation(speech, ulaw_decode(bytes(caller.received[start:])))
    print(f"officer -> caller ({officer.codec}): {score:.3f}")
    return score


# ---- the upgrade -------------------------------------------------------------


async def test_a_forged_or_missing_signature_is_refused_before_the_upgrade_and_audited(
    server: Any, auth_token: str, db: Any
) -> None:
    for headers in (
        {},
        {SIGNATURE_HEADER: signature("x" * 32, STREAM_URL)},  # another account's token
        {SIGNATURE_HEADER: signature(auth_token, STREAM_URL + "?x=1")},  # another URL
    ):
        with pytest.raises(WSServerHandshakeError) as refused:
            await server.ws_connect("/twilio/media", headers=headers)
        assert refused.value.status == 403
    response = await server.get("/twilio/media", headers={})
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "bad_signature"
    for _ in range(AUDITED):  # a flood: every one refused, only the allowance audited
        assert (await server.get("/twilio/media", headers={})).status == 403
    async with db() as session:
        events = (await session.scalars(select(AuditEvent))).all()
    refused_events = [e for e in events if e.action == "twilio.bad_signature"]
    assert len(refused_events) == AUDITED
    assert {e.object_type for e in refused_events} == {"media_stream"}


async def test_a_stream_without_a_valid_token_is_closed_with_nothing_joined(
    server: Any, incoming_call: Any
) -> None:
    session_id, first = await open_call(server, incoming_call)
    token = stream_token.issue(server.server.app, session_id=session_id, call_sid=first.sid)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    # a forged token, none, and the first call's genuine token on another call's stream
    for call, bad in ((first, forged), (await incoming_call(), ""), (await incoming_call(), token)):
        stream = await streamed_with(call, bad)
        assert stream.closed_by == "app" and stream.close_code == 1008
    hub = server.server.app[HUB]
    assert (session_id, "citizen") not in hub.local
    assert not server.server.app[BRIDGES]


# ---- a whole call ------------------------------------------------------------


async def test_audio_both_ways_dtmf_and_the_caller_hanging_up(
    server: Any, incoming_call: Any, officer_cookie: Any, calls_resource: tuple[CallsResource, str]
) -> None:
    session_id, call = await open_call(server, incoming_call)
    officer = await officer_joins(server, await officer_cookie(), session_id)
    caller = await bridged(server.server.app, call, session_id)
    async with asyncio.timeout(10):
        await officer.connected.wait()
    assert officer.codec == "PCMU"  # offered first, taken: the caller's bytes pass untouched

    assert await caller_heard_by_officer(caller, officer) >= 0.9
    assert await officer_heard_by_caller(caller, officer) >= 0.9
    assert caller.marks  # the bridge marks its audio, and Twilio echoed them

    await call.press("1")
    await call.press("#")
    await officer.wait_for(lambda m: m["type"] == "dtmf" and m["digit"] == "#")
    digits = [m["digit"] for m in officer.messages if m["type"] == "dtmf"]
    assert digits == ["1", "#"] and all(
        m["from"] == "citizen" for m in officer.messages if m["type"] == "dtmf"
    )

    await call.hang_up()
    ended = await officer.wait_for(lambda m: m["type"] == "session-ended")
    assert ended["reason"] == "hangup" and ended["side"] == "citizen"
    await asyncio.sleep(0.2)
    assert not calls_resource[0].hung_up(call.sid)  # she hung up herself: nothing to end
    assert not server.server.app[BRIDGES]
    await officer.leave()


async def test_the_officer_hanging_up_ends_the_call(
    server: Any, incoming_call: Any, officer_cookie: Any, calls_resource: tuple[CallsResource, str]
) -> None:
    session_id, call = await open_call(server, incoming_call)
    caller = await bridged(server.server.app, call, session_id)
    await asyncio.sleep(0.3)  # the bridge is there first: it offers when she joins
    officer = await officer_joins(server, await officer_cookie(), session_id)
    async with asyncio.timeout(10):
        await officer.connected.wait()
    await officer.hang_up()
    await caller.wait_closed()
    await call.wait_ended()
    assert calls_resource[0].hung_up(call.sid)
    await officer.leave()


async def test_the_officer_page_reloading_renegotiates_while_the_caller_stays(
    server: Any, incoming_call: Any, officer_cookie: Any
) -> None:
    session_id, call = await open_call(server, incoming_call)
    cookie = await officer_cookie()
    first = await officer_joins(server, cookie, session_id)
    caller = await bridged(server.server.app, call, session_id)
    async with asyncio.timeout(10):
        await first.connected.wait()
    await first.leave()
    await asyncio.sleep(0.5)

    second = await officer_joins(server, cookie, session_id)
    async with asyncio.timeout(10):
        await second.connected.wait()
    assert second.offers == 1 and not caller.closed.is_set()
    (bridge,) = server.server.app[BRIDGES]
    assert bridge.legs == 2
    assert await caller_heard_by_officer(caller, second) >= 0.9
    assert await officer_heard_by_caller(caller, second) >= 0.9
    await call.hang_up()
    await second.wait_for(lambda m: m["type"] == "session-ended")
    await second.leave()


async def test_opus_when_the_officer_will_not_take_pcmu(
    server: Any, incoming_call: Any, officer_cookie: Any
) -> None:
    session_id, call = await open_call(server, incoming_call)
    officer = await officer_joins(
        server, await officer_cookie(), session_id, codecs=("audio/opus",)
    )
    caller = await bridged(server.server.app, call, session_id)
    async with asyncio.timeout(10):
        await officer.connected.wait()
    assert officer.codec == "opus"
    (bridge,) = server.server.app[BRIDGES]
    assert bridge.codec == "audio/opus"
    assert await caller_heard_by_officer(caller, officer) >= 0.9  # through Opus and 48 kHz
    assert await officer_heard_by_caller(caller, officer) >= 0.9
    assert bridge.to_officer.frames > 0  # encoded by the bridge at 8 kHz, not by aiortc
    await call.hang_up()
    await officer.leave()


async def test_a_broken_stream_ends_the_session_and_the_call(
    server: Any, incoming_call: Any, officer_cookie: Any, calls_resource: tuple[CallsResource, str]
) -> None:
    session_id, call = await open_call(server, incoming_call)
    officer = await officer_joins(server, await officer_cookie(), session_id)
    caller = await bridged(server.server.app, call, session_id)
    async with asyncio.timeout(10):
        await officer.connected.wait()
    await caller.drop()  # no stop: the stream broke
    ended = await officer.wait_for(lambda m: m["type"] == "session-ended")
    assert ended["side"] == "citizen"
    for _ in range(50):
        if calls_resource[0].hung_up(call.sid):
            break
        await asyncio.sleep(0.05)
    assert calls_resource[0].hung_up(call.sid)  # no silent open line for her
    await officer.leave()


async def test_a_dead_officer_leg_ends_the_call(
    server: Any, incoming_call: Any, officer_cookie: Any, calls_resource: tuple[CallsResource, str]
) -> None:
    session_id, call = await open_call(server, incoming_call)
    officer = await officer_joins(server, await officer_cookie(), session_id)
    officer._answer = _never  # type: ignore[method-assign]  # her page never answers
    caller = await bridged(server.server.app, call, session_id)
    await caller.wait_closed(limit=15)  # leg_grace_seconds is 3 s in these tests
    ended = await officer.wait_for(lambda m: m["type"] == "session-ended")
    assert ended["reason"] == "hangup" and ended["side"] == "citizen"
    await call.wait_ended()
    assert calls_resource[0].hung_up(call.sid)
    await officer.leave()


async def _never(sdp: str) -> None:
    return None


def test_speech_fixture_is_speech() -> None:
    # The correlation checks mean something only if the clip is not silence.
    assert np.abs(known_speech(SPEECH_SECONDS)).max() > 8000
