"""The bridge records both sides of a phone call: decrypted, decoded with PyAV, checked.

A real bridged call (a call the Twilio emulator carries, moved to the bridge as
the IVR does when an officer accepts; the officer's aiortc page on /ws,
tests/media/officer_page.py) in which the caller says known speech while the
officer plays other known audio. The recording is read back through the
recordings service (decrypted, chunk hashes and chain checked), decoded by
FFmpeg through PyAV, and each channel is compared with what that side sent.
Each test runs on SQLite and PostgreSQL (Redis db 11).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from sqlalchemy import select, text

from cases.models import TimelineEvent
from cases.sessions import open_contact
from media.recording import HORIZON, WAVE_FORMAT_MULAW, CallRecording, wav_header
from recordings import custody
from recordings.keys import RecordingsKey
from recordings.models import Recording
from recordings.service import RECORDINGS
from safecall.db import Base, create_engine
from safecall.settings import Settings
from signaling.routes import HUB
from tests.media.conftest import bridged
from tests.media.officer_page import OfficerPage
from tests.support import copy_sqlite
from tests.twilio.audio import (
    correlation,
    known_speech,
    piecewise_correlation,
    ulaw_decode,
    ulaw_encode,
)
from tests.twilio.call import Call as TwilioCall
from tests.twilio.stream import MediaStream

SPEECH = 2.5

pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Both databases: recordings, chunks and the timeline live there."""
    if request.param == "sqlite":
        return copy_sqlite(sqlite_template, tmp_path / "safecall.db")
    url: str = request.getfixturevalue("postgres_url")

    async def empty() -> None:
        engine = create_engine(url)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    asyncio.run(empty())
    return url


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The media settings with a recordings key in the test's var/ (changes by indirect param)."""
    key = settings.var_dir / "recordings.key"
    RecordingsKey.ensure_file(key)
    changes: dict[str, Any] = {"recordings_key_file": key}
    changes.update(getattr(request, "param", {}))
    return dataclasses.replace(settings, **changes)


class Call:
    """One bridged call of a contact on the women's line, with its two ends."""

    def __init__(self, server: Any, incoming_call: Any, cookie: str) -> None:
        self.server = server
        self.app = server.server.app
        self.incoming_call = incoming_call
        self.cookie = cookie
        self.session_id = ""
        self.phone: TwilioCall
        self.caller: MediaStream
        self.officer: OfficerPage
        self.connected_at = 0.0
        self.ended_at = 0.0

    async def connect(self, db: Any, data_key: Any, clock: Any) -> None:
        async with db() as session, session.begin():
            contact, _ = await open_contact(
                session, data_key, service_line="women", channel="phone", now=clock()
            )
            self.session_id = contact.id
        hub = self.app[HUB]
        await hub.open_session(self.session_id)
        self.phone = await self.incoming_call()
        self.officer = OfficerPage(self.server, self.cookie)
        await self.officer.join(self.session_id, hub.join_token(self.session_id, "officer"))
        self.caller = await bridged(self.app, self.phone, self.session_id, line="women")
        async with asyncio.timeout(10):
            await self.officer.connected.wait()
        self.connected_at = time.monotonic()

    async def talk(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Both speak at once; ``(what the caller sent, what the officer sent)``."""
        await asyncio.sleep(0.3)  # her page saw the leg up a moment before the bridge did
        caller_says = ulaw_decode(ulaw_encode(known_speech(SPEECH)))
        officer_says = known_speech()[::-1][: int(SPEECH * 8000)].copy()  # other speech
        self.officer.heard = []
        speaking = asyncio.create_task(self.caller.send_audio(ulaw_encode(caller_says)))
        self.officer.audio.play(officer_says)
        async with asyncio.timeout(SPEECH + 10):
            while self.officer.heard_samples().size < (SPEECH + 1) * 8000:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await speaking
        return caller_says, officer_says

    async def hang_up(self) -> None:
        self.ended_at = time.monotonic()
        await self.phone.hang_up()
        await self.officer.wait_for(lambda m: m["type"] == "session-ended")
        await self.officer.leave()

    async def recordings(self, db: Any, *, closed: bool = True) -> list[Recording]:
        for _ in range(300):
            async with db() as session:
                rows = list(
                    (
                        await session.scalars(
                            select(Recording).where(Recording.session_id == self.session_id)
                        )
                    ).all()
                )
            if not closed or (rows and all(r.state != "open" for r in rows)):
                return rows
            await asyncio.sleep(0.05)
        raise AssertionError("the recording was never closed")

    async def timeline(self, db: Any) -> list[TimelineEvent]:
        async with db() as session:
            return list(
                (
                    await session.scalars(
                        select(TimelineEvent)
                        .where(TimelineEvent.session_id == self.session_id)
                        .order_by(TimelineEvent.id)
                    )
                ).all()
            )


@pytest.fixture
async def call(server: Any, incoming_call: Any, officer_cookie: Any) -> Call:
    return Call(server, incoming_call, await officer_cookie())


async def plaintext_of(app: Any, db: Any, recording: Recording) -> bytes:
    async with db() as session:
        chunks = await custody.chunks_of(session, recording.id)
    store = app[RECORDINGS].store
    return b"".join([data async for data in custody.read_chunks(store, recording.id, chunks)])


def decode(content: bytes) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], int]:
    """PyAV (FFmpeg) decodes the recording: ``(caller, officer, sample rate)``."""
    with av.open(io.BytesIO(content), format="wav") as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "pcm_mulaw"
        assert stream.codec_context.channels == 2
        rate = stream.codec_context.sample_rate
        parts = [frame.to_ndarray().reshape(-1, 2) for frame in container.decode(stream)]
    samples = np.concatenate(parts)
    return samples[:, 0], samples[:, 1], rate


def officer_bytes(content: bytes) -> bytes:
    """The officer's channel of the recording as the mu-law bytes stored."""
    return content[len(wav_header()) :][1::2]


def found_in_order(sent: bytes, channel: bytes) -> float:
    """The share of ``sent``'s 20 ms frames found in ``channel``, whole and in order."""
    frames = [sent[i : i + 160] for i in range(0, len(sent) - 159, 160)]
    at, found = 0, 0
    for frame in frames:
        where = channel.find(frame, at)
        if where >= 0:
            at, found = where + 160, found + 1
    return found / max(1, len(frames))


# ---- the header ---------------------------------------------------------------------------


def test_the_header_is_a_two_channel_mu_law_wav_of_unknown_length() -> None:
    header = wav_header()
    assert header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt "
    assert int.from_bytes(header[20:22], "little") == WAVE_FORMAT_MULAW == 7
    assert int.from_bytes(header[22:24], "little") == 2
    assert int.from_bytes(header[24:28], "little") == 8000
    assert header[-8:] == b"data\xff\xff\xff\xff"
    # FFmpeg reads such a stream to its end: two channels, interleaved.
    frames = np.array([0x00, 0x80] * 800, dtype=np.uint8).tobytes()
    caller, officer, rate = decode(header + frames)
    assert rate == 8000 and caller.size == officer.size == 800
    assert (caller < -8000).all() and (officer > 8000).all()


# ---- whole calls ----------------------------------------------------------------------------


async def test_both_sides_are_recorded_in_their_own_channels(
    call: Call, db: Any, data_key: Any, clock: Any
) -> None:
    await call.connect(db, data_key, clock)
    caller_says, officer_says = await call.talk()
    await asyncio.sleep(0.5)
    await call.hang_up()

    (recording,) = await call.recordings(db)
    assert recording.state == "complete" and recording.kind == "phone"
    assert recording.media_type == "audio/wav" and recording.tracks == ["caller", "officer"]
    content = await plaintext_of(call.server.server.app, db, recording)
    assert content[:44] == wav_header()[:44]
    caller, officer, rate = decode(content)
    assert rate == 8000

    connected = call.ended_at - call.connected_at
    seconds = caller.size / rate
    print(f"recorded {seconds:.2f} s of a call connected {connected:.2f} s")
    # All she said is in it, and nothing the call did not carry (how much of the call's
    # time is covered depends on the machine's load, so it is not asserted).
    assert SPEECH <= seconds <= connected + 0.5
    assert recording.duration_seconds is not None
    assert abs(recording.duration_seconds - seconds) < 0.01

    caller_score = correlation(caller_says, caller)
    # Her audio reaches the bridge with the leg's jitter: where it came late, Twilio (and the
    # recording) had a moment of silence, so her speech is compared a quarter second at a time.
    officer_score = piecewise_correlation(officer_says, officer)
    print(f"caller channel {caller_score:.3f}, officer channel {officer_score:.3f}")
    assert caller_score >= 0.9
    # Her channel holds, byte for byte and in order, the frames Twilio got (a loaded
    # machine's pacer may drop some of her audio: then the caller did not hear it either).
    assert found_in_order(bytes(call.caller.received), officer_bytes(content)) >= 0.95
    assert officer_score >= 0.9
    assert correlation(caller_says, officer) < 0.5  # not mixed: each side on its own channel
    assert correlation(officer_says, caller) < 0.5

    kinds = [e.kind for e in await call.timeline(db)]
    assert "recording.started" in kinds and "recording.complete" in kinds
    assert await custody.check(db, call.server.server.app[RECORDINGS].store, recording.id) is None


async def test_an_officer_page_reload_leaves_one_recording_of_the_whole_call(
    call: Call, db: Any, data_key: Any, clock: Any
) -> None:
    await call.connect(db, data_key, clock)
    await call.officer.leave()  # her page reloads: the caller stays, the recording goes on
    await asyncio.sleep(1.0)
    hub = call.app[HUB]
    call.officer = OfficerPage(call.server, call.cookie)
    fresh = await hub.officer_token(call.session_id, None)  # her reloaded console's /answer
    assert fresh is not None
    await call.officer.join(call.session_id, fresh)
    async with asyncio.timeout(10):
        await call.officer.connected.wait()
    caller_says, officer_says = await call.talk()
    await call.hang_up()

    (recording,) = await call.recordings(db)
    assert recording.state == "complete"
    content = await plaintext_of(call.app, db, recording)
    caller, officer, rate = decode(content)
    assert SPEECH <= caller.size / rate <= call.ended_at - call.connected_at + 0.5
    assert correlation(caller_says, caller) >= 0.9
    assert piecewise_correlation(officer_says, officer) >= 0.9
    assert found_in_order(bytes(call.caller.received), officer_bytes(content)) >= 0.95


async def test_no_plaintext_of_the_recording_is_anywhere(
    call: Call, db: Any, data_key: Any, clock: Any, settings: Settings, tmp_path: Path
) -> None:
    started = time.time()
    await call.connect(db, data_key, clock)
    await call.talk()
    await call.hang_up()
    (recording,) = await call.recordings(db)
    content = await plaintext_of(call.server.server.app, db, recording)
    windows = sample_windows(content[len(wav_header()) :], count=24, size=32)
    assert len(windows) == 24

    places = {tmp_path, Path(tempfile.gettempdir()), settings.var_dir, Path("var")}
    searched = 0
    for path in files_written_since(places, started):
        searched += 1
        data = path.read_bytes()
        assert not any(w in data for w in windows), f"plaintext audio in {path}"
    assert searched > 0  # the chunk files at least

    for table in Base.metadata.sorted_tables:
        async with db() as session:
            rows = (await session.execute(select(table))).all()
        for row in rows:
            for value in row:
                blob = value if isinstance(value, bytes) else repr(value).encode()
                for w in windows:
                    assert w not in blob and w.hex().encode() not in blob, table.name


def sample_windows(audio: bytes, *, count: int, size: int) -> list[bytes]:
    """Random windows of the audio that are not silence (many distinct byte values)."""
    rng = random.Random(7)
    found: list[bytes] = []
    for _ in range(10_000):
        at = rng.randrange(0, len(audio) - size)
        window = audio[at : at + size]
        if len(set(window)) >= size // 2:
            found.append(window)
        if len(found) == count:
            break
    return found


def files_written_since(places: set[Path], since: float) -> Iterator[Path]:
    seen: set[Path] = set()
    for place in places:
        if not place.is_dir():
            continue
        for root, dirs, names in os.walk(place):
            dirs[:] = [d for d in dirs if not d.startswith("bash_jobs")]  # the harness's, not ours
            for name in names:
                path = Path(root, name)
                try:
                    stat = path.lstat()
                except OSError:
                    continue
                real = path.resolve()
                if (
                    real in seen
                    or not path.is_file()
                    or stat.st_mtime < since
                    or stat.st_size > 64 * 1024 * 1024
                ):
                    continue
                seen.add(real)
                yield path


# SQLite only: the rule is not in the database.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("settings", [{"recording_off_lines": ("women",)}], indirect=True)
async def test_a_line_with_recording_off_is_not_recorded(
    call: Call, db: Any, data_key: Any, clock: Any
) -> None:
    await call.connect(db, data_key, clock)
    await call.talk()
    await call.hang_up()
    await asyncio.sleep(0.5)
    assert await call.recordings(db, closed=False) == []
    assert not [e for e in await call.timeline(db) if e.kind.startswith("recording.")]


@pytest.mark.parametrize(
    "settings", [{"recordings_key_file": Path("/nonexistent/recordings.key")}], indirect=True
)
# SQLite only: a missing key is not the database's.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_without_a_key_the_call_goes_on_and_the_failure_is_on_the_timeline(
    call: Call, db: Any, data_key: Any, clock: Any
) -> None:
    await call.connect(db, data_key, clock)
    caller_says, _ = await call.talk()
    assert correlation(caller_says, call.officer.heard_samples()) >= 0.9  # she was heard
    await call.hang_up()
    assert await call.recordings(db, closed=False) == []
    (failed,) = [e for e in await call.timeline(db) if e.kind.startswith("recording.")]
    assert failed.kind == "recording.failed"
    assert "recordings key file" in failed.data["reason"]
    assert failed.data["kind"] == "phone"


# SQLite only: the disk fails, not the database.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_recording_that_cannot_be_stored_fails_and_the_call_goes_on(
    call: Call, db: Any, data_key: Any, clock: Any, settings: Settings
) -> None:
    await call.connect(db, data_key, clock)
    for _ in range(100):
        started = await call.recordings(db, closed=False)
        if started:
            break
        await asyncio.sleep(0.05)
    (recording,) = started
    # Its folder becomes a file: the first chunk (CHUNK_BYTES, about 8 s) cannot be written.
    (settings.var_dir / "recordings").mkdir(exist_ok=True)
    (settings.var_dir / "recordings" / recording.id).write_bytes(b"in the way")
    (failed,) = await call.recordings(db)  # waits until it is no longer open
    assert failed.state == "failed"
    assert failed.reason is not None
    assert failed.reason.startswith("the phone recording could not be stored")
    events = [e for e in await call.timeline(db) if e.kind == "recording.failed"]
    assert [e.data["reason"] for e in events] == [failed.reason]

    caller_says, _ = await call.talk()  # the call goes on
    assert correlation(caller_says, call.officer.heard_samples()) >= 0.9
    assert not call.caller.closed.is_set()
    await call.hang_up()


# ---- the notice she hears first -------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"recording_off_lines": ("child",)}], indirect=True)
def test_she_is_told_before_recording_starts_unless_her_line_is_not_recorded(
    app: Any,
) -> None:
    from ivr.twilio_api import bridge_twiml
    from tests.twilio.twiml import parse

    told = parse(bridge_twiml(app, "CA" + "1" * 32, "s1", lang="pa", line="women"))
    assert [v.name for v in told] == ["Play", "Connect"]
    assert told[0].text == "https://helpline.example.org/twilio/prompts/pa/recording_notice.wav"
    default = parse(bridge_twiml(app, "CA" + "2" * 32, "s2"))
    assert default[0].text.endswith("/ur/recording_notice.wav")  # the menu's default language
    not_recorded = parse(bridge_twiml(app, "CA" + "3" * 32, "s3", lang="pa", line="child"))
    assert [v.name for v in not_recorded] == ["Connect"]


@pytest.mark.parametrize("settings", [{"recording_off_lines": ("women",)}], indirect=True)
async def test_the_console_is_told_not_to_record_a_line_with_recording_off(
    client: Any, login_as: Any, openapi: Any
) -> None:
    started = await client.post("/api/contacts", json={"service_line": "women", "channel": "video"})
    assert started.status == 201
    session_id = (await started.json())["session_id"]
    officer_client, _ = await login_as("officer")
    await officer_client.post("/api/queues/me/state", json={"state": "available"})
    accepted = await officer_client.post(f"/api/queues/offers/{session_id}/accept")
    assert accepted.status == 200
    response = await officer_client.post(f"/api/contacts/{session_id}/answer")
    body = await response.json()
    openapi.check("POST", "/api/contacts/{session_id}/answer", 200, body)
    assert body["recorded"] is False  # console.js does not start SafecallRecorder


# ---- the one clock (no call: frames fed by hand on a clock the test moves) -------------------


class HandClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def hand_recording() -> tuple[CallRecording, HandClock]:
    clock = HandClock()
    recording = CallRecording(web.Application(), "s", clock=clock)
    recording.state = "recording"  # as after start(): no writer is needed to place audio
    return recording, clock


def channels(content: bytes) -> tuple[bytes, bytes]:
    return content[0::2], content[1::2]


@settings_(max_examples=60, deadline=None)
@given(
    delays=st.lists(st.floats(0, 1.5), min_size=5, max_size=120),
    jitters=st.lists(st.floats(0, 0.1), min_size=5, max_size=120),
    flush_every=st.integers(1, 30),
)
def test_each_side_lands_whole_and_in_time_however_late_its_frames_come(
    delays: list[float], jitters: list[float], flush_every: int
) -> None:
    recording, clock = hand_recording()
    rng = random.Random(len(delays))
    caller = [bytes(rng.randrange(0, 0xFF) for _ in range(160)) for _ in delays]
    officer = [bytes(rng.randrange(0, 0xFF) for _ in range(160)) for _ in jitters]
    # Twilio stamps frame k at k*20 ms; it arrives late by delays[k], in order (one socket).
    events: list[tuple[float, str, int]] = []
    arrival = 0.0
    for k, delay in enumerate(delays):
        arrival = max(arrival, 0.1 + (k + 1) * 0.02 + delay)
        events.append((arrival, "caller", k))
    sent = 0.0
    for k, jitter in enumerate(jitters):  # the pacer: on its ticks, a little late
        sent = max(sent, 0.3 + (k + 1) * 0.02 + jitter)
        events.append((sent, "officer", k))
    content = bytearray()
    for n, (at, side, k) in enumerate(sorted(events, key=lambda e: (e[0], e[1] != "caller"))):
        clock.now = at
        if side == "caller":
            recording.caller(caller[k], timestamp=k * 20)
        else:
            recording.officer(officer[k])
        if n % flush_every == 0:
            content += recording._take(recording._now() - int(HORIZON * 8000))
    clock.now += 0.1
    recording.end()
    content += recording._take(max(recording._now(), recording._flushed + 40_000))
    left, right = channels(bytes(content))

    first_caller = int(min(a for a, s, _ in events if s == "caller") * 8000) - 160
    assert left[first_caller : first_caller + 160 * len(caller)] == b"".join(caller)
    assert set(left[:first_caller]) <= {0xFF}
    assert set(left[first_caller + 160 * len(caller) :]) <= {0xFF}
    first_officer = int(min(a for a, s, _ in events if s == "officer") * 8000) - 160
    assert right[first_officer : first_officer + 160 * len(officer)] == b"".join(officer)
    assert set(right[:first_officer]) <= {0xFF}


def test_a_silent_officer_resumes_where_her_audio_is_sent() -> None:
    recording, clock = hand_recording()
    frame = b"\x10" * 160
    for at in (0.02, 0.04, 3.02, 3.04):  # her page reloaded for three seconds
        clock.now = at
        recording.officer(frame)
    clock.now = 3.1
    recording.end()
    _, right = channels(recording._take(recording._now()))
    assert right[0:320] == frame * 2
    assert set(right[320:24_000]) == {0xFF}
    assert right[24_000:24_320] == frame * 2


@pytest.mark.parametrize(
    ("stamp", "expected"), [("1240", 1240), (1240, 1240), (None, None), ("-20", None), ("x", None)]
)
def test_the_caller_frames_carry_twilio_s_timestamp(stamp: Any, expected: int | None) -> None:
    from media.twilio_stream import Media, read_event

    body: dict[str, Any] = {"track": "inbound", "chunk": "3", "payload": "//8="}
    if stamp is not None:
        body["timestamp"] = stamp
    event = read_event(json.dumps({"event": "media", "media": body, "streamSid": "MZ1"}))
    assert event == Media(b"\xff\xff", expected)


def test_after_a_long_stall_her_frames_keep_their_place() -> None:
    recording, clock = hand_recording()
    frames = [bytes([k % 0x7F]) * 160 for k in range(300)]  # 6 s, frame k at k*20 ms
    content = bytearray()
    for k in range(100):  # 2 s on time
        clock.now = (k + 1) * 0.02
        recording.caller(frames[k], timestamp=k * 20)
    clock.now = 5.0  # the loop stalled 3 s: the writer took silence up to 3 s
    content += recording._take(recording._now() - int(HORIZON * 8000))
    for k in range(100, 300):  # then the held-up frames all at once
        recording.caller(frames[k], timestamp=k * 20)
    recording.end()
    content += recording._take(recording._now() + 8000)
    left = bytes(content[0::2])
    start = int(0.02 * 8000) - 160
    assert left[start : start + 16_000] == b"".join(frames[:100])
    assert set(left[start + 16_000 : 3 * 8000]) == {0xFF}  # what came too late to keep
    assert left[3 * 8000 : start + 48_000] == b"".join(frames[150:300])  # in place, not moved
