"""The shared pacer: one clock for every call, and no call holding up the others."""

from __future__ import annotations

import asyncio
import dataclasses

from media.config import MediaConfig
from media.outbound import FRAME_BYTES, Outbound
from media.pacer import Pacer, send_now


class Twilio:
    def __init__(self) -> None:
        self.media: list[bytes] = []
        self.marks: list[str] = []

    async def send_media(self, payload: bytes) -> None:
        self.media.append(payload)

    async def send_mark(self, name: str) -> None:
        self.marks.append(name)

    async def send_clear(self) -> None:
        pass


class StuckTwilio(Twilio):
    """A socket whose buffer is full: every send waits until ``drained`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.drained = asyncio.Event()

    async def send_media(self, payload: bytes) -> None:
        self.media.append(payload)
        await self.drained.wait()


CONFIG = dataclasses.replace(MediaConfig(), frame_seconds=0.002, officer_backlog_frames=1000)


async def test_calls_share_one_clock_and_leave_it() -> None:
    calls = [(Outbound(CONFIG), Twilio()) for _ in range(3)]
    for n, (outbound, _) in enumerate(calls):
        outbound.add(bytes([n]) * FRAME_BYTES * 20)
    tasks = [asyncio.create_task(o.run(t)) for o, t in calls]
    await asyncio.sleep(0)
    pacer = Pacer.shared(CONFIG.frame_seconds, CONFIG.resync_seconds)
    assert len(pacer.members) == 3
    async with asyncio.timeout(10):
        while any(len(t.media) < 20 for _, t in calls):  # noqa: ASYNC110 (the pacer's pace)
            await asyncio.sleep(0.005)
    for n, (_, twilio) in enumerate(calls):
        assert b"".join(twilio.media) == bytes([n]) * FRAME_BYTES * 20
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert not pacer.members and pacer._task is None
    assert Pacer.shared(CONFIG.frame_seconds, CONFIG.resync_seconds) is not pacer


async def test_a_stuck_socket_does_not_hold_up_the_other_calls() -> None:
    stuck, fine = (Outbound(CONFIG), StuckTwilio()), (Outbound(CONFIG), Twilio())
    for outbound, _ in (stuck, fine):
        outbound.add(bytes(FRAME_BYTES * 30))
    tasks = [asyncio.create_task(o.run(t)) for o, t in (stuck, fine)]
    async with asyncio.timeout(10):
        while len(fine[1].media) < 30:  # noqa: ASYNC110 (the pacer's pace)
            await asyncio.sleep(0.005)
    assert len(stuck[1].media) == 1  # its first send still waits; nothing piled up behind it
    assert stuck[0].stats.dropped > 0
    stuck[1].drained.set()  # the socket drains: the waiting send finishes, later frames go
    stuck[0].add(bytes(FRAME_BYTES * 3))
    async with asyncio.timeout(10):
        while len(stuck[1].media) < 2:  # noqa: ASYNC110 (the pacer's pace)
            await asyncio.sleep(0.005)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_send_now_finishes_at_once_or_in_the_background() -> None:
    twilio = StuckTwilio()
    assert send_now(Twilio().send_media(b"x")) is None  # written there and then
    pending = send_now(twilio.send_media(b"x"))
    assert pending is not None and not pending.done()
    twilio.drained.set()
    async with asyncio.timeout(5):
        await pending
