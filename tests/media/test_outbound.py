"""The officer's audio to Twilio: whole frames, in order, marked, bounded."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from media.config import MediaConfig
from media.outbound import FRAME_BYTES, Outbound


class Twilio:
    """What the pacer sends to the stream, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | str]] = []

    async def send_media(self, payload: bytes) -> None:
        self.sent.append(("media", payload))

    async def send_mark(self, name: str) -> None:
        self.sent.append(("mark", name))

    async def send_clear(self) -> None:
        self.sent.append(("clear", ""))


def fast(**changes: Any) -> MediaConfig:
    return dataclasses.replace(MediaConfig(), frame_seconds=0.001, **changes)


async def run_until(outbound: Outbound, twilio: Twilio, frames: int) -> None:
    task = asyncio.create_task(outbound.run(twilio))
    async with asyncio.timeout(10):
        while outbound.stats.frames < frames:  # noqa: ASYNC110 (the pacer's own pace)
            await asyncio.sleep(0.005)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_frames_go_out_whole_in_order_with_marks() -> None:
    outbound = Outbound(fast(mark_every_frames=3, officer_backlog_frames=100))
    audio = bytes(range(256)) * 10  # 2,560 bytes: 16 frames
    outbound.add(audio)
    twilio = Twilio()
    await run_until(outbound, twilio, 16)
    media = [p for kind, p in twilio.sent if kind == "media"]
    assert all(len(p) == FRAME_BYTES for p in media)
    assert b"".join(media) == audio  # type: ignore[arg-type]
    kinds = [kind for kind, _ in twilio.sent]
    assert kinds[:8] == ["media"] * 3 + ["mark"] + ["media"] * 3 + ["mark"]


async def test_marks_twilio_does_not_echo_lead_to_a_clear() -> None:
    outbound = Outbound(fast(mark_every_frames=1, clear_after_seconds=0.0))
    outbound.add(bytes(FRAME_BYTES * 3))
    twilio = Twilio()
    await run_until(outbound, twilio, 3)
    assert ("clear", "") in twilio.sent and outbound.stats.clears >= 1


async def test_echoed_marks_do_not_clear() -> None:
    outbound = Outbound(fast(mark_every_frames=1, clear_after_seconds=0.05))
    twilio = Twilio()
    task = asyncio.create_task(outbound.run(twilio))
    for n in range(1, 4):
        outbound.add(bytes(FRAME_BYTES))
        async with asyncio.timeout(5):
            while len(marks(twilio)) < n:  # noqa: ASYNC110 (the pacer's own pace)
                await asyncio.sleep(0.002)
        outbound.played(marks(twilio)[-1])  # Twilio played the audio before it
        await asyncio.sleep(0.06)  # longer than clear_after_seconds
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert ("clear", "") not in twilio.sent


def marks(twilio: Twilio) -> list[str]:
    return [str(name) for kind, name in twilio.sent if kind == "mark"]


def test_a_backlog_keeps_the_newest_whole_frames() -> None:
    outbound = Outbound(fast(officer_backlog_frames=2))
    for n in range(5):
        outbound.add(bytes([n]) * FRAME_BYTES)
    assert outbound.stats.dropped == 3
    assert bytes(outbound._buffer) == bytes([3]) * FRAME_BYTES + bytes([4]) * FRAME_BYTES
