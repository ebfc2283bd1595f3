"""The phone recording's storing: what a crash can cost, and calls storing together.

No bridged call here: :class:`media.recording.CallRecording` on the real
app (SQLite, the recordings key, the chunk store) with the caller's frames
fed by hand on a clock the test moves, as Twilio would send them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from cases.sessions import open_contact
from media.recording import (
    CHUNK_BYTES,
    HORIZON,
    MAX_LOST_SECONDS,
    RATE,
    TRACKS,
    CallRecording,
    _storing,
    wav_header,
)
from recordings import custody
from recordings.keys import RecordingsKey
from recordings.models import Recording
from recordings.service import RECORDINGS
from safecall.settings import Settings

FRAME = 160
BYTES_A_SECOND = RATE * len(TRACKS)


class HandClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(settings: Settings) -> Settings:
    key = settings.var_dir / "recordings.key"
    RecordingsKey.ensure_file(key)
    return dataclasses.replace(settings, recordings_key_file=key)


@pytest.fixture
async def started(server: Any) -> web.Application:
    app: web.Application = server.server.app
    return app


async def session_of_a_call(db: Any, data_key: Any, clock: Any) -> str:
    async with db() as session, session.begin():
        contact, _ = await open_contact(
            session, data_key, service_line="women", channel="phone", now=clock()
        )
        return str(contact.id)


async def talk(recording: CallRecording, clock: HandClock, seconds: float) -> None:
    """``seconds`` of the caller's frames (Twilio's timestamps) as the clock moves on."""
    start = clock.now
    for k in range(int(seconds * RATE / FRAME)):
        clock.now = start + (k + 1) * FRAME / RATE
        recording.caller(b"\x12" * FRAME, int((start + k * FRAME / RATE) * 1000))


async def handed_over(recording: CallRecording, clock: HandClock) -> None:
    """Until the writer has taken (and stored) what is older than the horizon."""
    upto = int((clock.now - HORIZON) * RATE)
    async with asyncio.timeout(30):
        while recording._flushed < upto:  # noqa: ASYNC110 (the recording's own flush loop)
            await asyncio.sleep(0.05)
        async with _storing():  # a chunk it filled is stored by now
            pass


async def stored(db: Any, recording_id: str) -> Recording:
    async with db() as session:
        found: Recording | None = await session.scalar(
            select(Recording).where(Recording.id == recording_id)
        )
        assert found is not None
        return found


@pytest.mark.parametrize("seconds", [3.0, 12.0, 25.0])
async def test_a_crash_loses_at_most_the_last_seconds_it_says(
    started: web.Application, db: Any, data_key: Any, clock: Any, seconds: float
) -> None:
    hand = HandClock()
    recording = CallRecording(started, await session_of_a_call(db, data_key, clock), clock=hand)
    recording.start()
    async with asyncio.timeout(30):
        while recording.state == "starting":  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert recording.state == "recording" and recording.recording_id is not None
    await talk(recording, hand, seconds)
    await handed_over(recording, hand)
    # The process dies here: its task ends without closing anything.
    task = recording._task
    assert task is not None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    kept = await stored(db, recording.recording_id)
    assert kept.state == "open"  # until the sweep closes it incomplete
    audio = (kept.size - len(wav_header())) / BYTES_A_SECOND if kept.size else 0.0
    assert audio >= seconds - MAX_LOST_SECONDS
    async with db() as session:
        chunks = await custody.chunks_of(session, recording.recording_id)
    assert all(chunk.size == CHUNK_BYTES for chunk in chunks)  # whole chunks, as they fill
    store = started[RECORDINGS].store
    plain = b"".join([data async for data in custody.read_chunks(store, kept.id, chunks)])
    assert plain[: len(wav_header())] == wav_header() or not chunks


async def test_calls_begun_together_are_each_stored_whole(
    started: web.Application, db: Any, data_key: Any, clock: Any
) -> None:
    hand = HandClock()
    recordings = [
        CallRecording(started, await session_of_a_call(db, data_key, clock), clock=hand)
        for _ in range(6)
    ]
    for recording in recordings:
        recording.start()
    start = 0.0
    for k in range(int(20 * RATE / FRAME)):  # 20 s of every caller, frame by frame
        hand.now = start + (k + 1) * FRAME / RATE
        for recording in recordings:
            recording.caller(bytes([k % 256]) * FRAME, int(k * FRAME * 1000 / RATE))
        if k % 50 == 0:
            await asyncio.sleep(0)
    for recording in recordings:
        recording.end()
    await asyncio.gather(*(recording.close() for recording in recordings))

    store = started[RECORDINGS].store
    for recording in recordings:
        assert recording.state == "closed" and recording.recording_id is not None
        kept = await stored(db, recording.recording_id)
        assert kept.state == "complete"
        async with db() as session:
            chunks = await custody.chunks_of(session, kept.id)
        plain = b"".join([data async for data in custody.read_chunks(store, kept.id, chunks)])
        caller = plain[len(wav_header()) :][0::2]
        expected = b"".join(bytes([k % 256]) * FRAME for k in range(int(20 * RATE / FRAME)))
        assert caller == expected
