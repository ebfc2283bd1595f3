"""The console records a real video call (headless Chromium on both ends) and uploads it,
resuming through a broken network.

Both browsers' cameras and microphones play known files: a video whose frames each
have their own brightness, and a 440 Hz tone. After the call the recording is read
back from the encrypted store, decoded with PyAV, and checked: its duration against
what the page measured, its frames against the known brightness sequence, its sound
against the tone.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import struct
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from playwright.async_api import Route, async_playwright
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import TimelineEvent
from recordings.custody import chunks_of, read_chunks
from recordings.models import Recording
from recordings.service import RECORDINGS
from tests.browser import ARGS, CHROMIUM, only_loopback
from tests.calls.test_call import log_in, make_officer, media_flows, open_page
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser

Db = async_sessionmaker[AsyncSession]
FPS = 10
LEVELS = [40 + 8 * i for i in range(20)]
"""The luma of each frame of the known video (it loops every two seconds)."""
TONE = 440.0


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the namespace has no PostgreSQL, and browsers are slow."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


def known_video(path: Path) -> None:
    width, height = 320, 240
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for level in LEVELS:
            f.write(b"FRAME\n")
            f.write(bytes([level]) * (width * height))
            f.write(bytes([128]) * (width * height // 2))


def known_audio(path: Path) -> None:
    rate = 48_000
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        samples = (int(12_000 * math.sin(2 * math.pi * TONE * n / rate)) for n in range(rate * 2))
        w.writeframes(b"".join(struct.pack("<h", s) for s in samples))


async def wait_for(db: Db, condition: str, session_id: str) -> Recording:
    for _ in range(600):
        async with db() as session:
            row = await session.scalar(select(Recording).where(Recording.session_id == session_id))
        if row is not None and (
            (condition == "chunks" and row.chunk_count >= 3)
            or (condition == "closed" and row.state != "open")
        ):
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"the recording never reached {condition}")


def decode(content: bytes) -> tuple[float, list[float], float]:
    """(duration from the last frame's time, mean luma of each frame, dominant frequency)."""
    lumas: list[float] = []
    last = 0.0
    with av.open(io.BytesIO(content)) as container:
        for frame in container.decode(video=0):
            plane = frame.to_ndarray(format="yuv420p")[: frame.height]  # the Y plane as coded
            lumas.append(float(plane.mean()))
            if frame.time is not None:
                last = max(last, float(frame.time))
    with av.open(io.BytesIO(content)) as container:
        pcm = np.concatenate(
            [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
        ).astype(np.float64)
        rate = container.streams.audio[0].rate
    # Opus decodes to planar float; one channel is enough.
    window = pcm[: rate * 2] if len(pcm) > rate * 2 else pcm
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window))))
    peak = float(np.fft.rfftfreq(len(window), 1 / rate)[int(np.argmax(spectrum[1:])) + 1])
    return last + 1 / FPS, lumas, peak


async def test_a_video_call_is_recorded_by_the_console(client: Any, db: Db, tmp_path: Path) -> None:
    if not only_loopback():
        pytest.fail("browser tests run only in a loopback-only namespace: scripts/in-netns.sh")
    video, audio = tmp_path / "known.y4m", tmp_path / "known.wav"
    known_video(video)
    known_audio(audio)
    args = [
        *ARGS,
        f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={audio}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    await make_officer(db, "REC-1")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=args)
        citizen_ctx, citizen, _ = await open_page(
            browser, str(client.make_url("/")), {"width": 390, "height": 844}
        )
        console_ctx, console, problems = await open_page(
            browser, str(client.make_url("/console")), {"width": 1280, "height": 860}
        )
        await citizen.get_by_test_id("start-video").click()
        await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
        # The network breaks twice while chunk 1 goes up: the recorder must resume.
        broken: list[str] = []

        async def flaky(route: Route) -> None:
            if route.request.url.endswith("/chunks/1") and len(broken) < 2:
                broken.append(route.request.url)
                await route.abort("connectionreset")
            else:
                await route.continue_()

        await console_ctx.route("**/api/recordings/*/chunks/*", flaky)
        await log_in(console, "REC-1")
        await console.get_by_test_id("status-available").click()
        await console.get_by_test_id("offer").wait_for(state="visible")
        await console.get_by_test_id("accept").click()
        await media_flows(console)
        session_id = await citizen.evaluate("() => window.safecallCall.id")
        await wait_for(db, "chunks", session_id)
        await console.get_by_test_id("hangup").click()
        await console.get_by_test_id("wrapup").wait_for(state="visible")
        recording = await wait_for(db, "closed", session_id)
        await citizen_ctx.close()
        await console_ctx.close()
        await browser.close()

    assert recording.state == "complete", recording.reason
    assert len(broken) == 2
    assert recording.media_type.startswith("video/webm")
    store = client.app[RECORDINGS].store
    async with db() as session:
        chunks = await chunks_of(session, recording.id)
        kinds = (
            await session.scalars(
                select(TimelineEvent.kind).where(TimelineEvent.session_id == session_id)
            )
        ).all()
    assert "recording.started" in kinds and "recording.complete" in kinds
    content = b"".join([data async for data in read_chunks(store, recording.id, chunks)])
    duration, lumas, peak = await asyncio.to_thread(decode, content)
    measured = recording.duration_seconds
    assert measured is not None
    print(f"recorded {duration:.2f} s in {len(chunks)} chunks; the page measured {measured:.2f} s")
    print("frame luma:", [round(y) for y in lumas])
    assert abs(duration - measured) <= 0.2
    # Every decoded frame is one of the known frames, and they come in the known order.
    nearest = [min(range(len(LEVELS)), key=lambda i: abs(LEVELS[i] - y)) for y in lumas[5:]]
    assert all(abs(LEVELS[i] - y) <= 3 for i, y in zip(nearest, lumas[5:], strict=True))
    steps = [(b - a) % len(LEVELS) for a, b in itertools.pairwise(nearest)]
    assert sum(1 for s in steps if s in (0, 1, 2)) >= 0.8 * len(steps)
    assert abs(peak - TONE) < 10
    assert problems == []
