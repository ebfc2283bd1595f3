"""The caller's track: Twilio's frames in, the packets aiortc's sender takes out."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.mediastreams import MediaStreamError

from media.caller_track import SAMPLES, CallerTrack


def frames(count: int) -> list[bytes]:
    return [bytes([k]) * SAMPLES for k in range(count)]


async def test_with_pcmu_two_frames_go_in_one_packet_in_order() -> None:
    track = CallerTrack(backlog=10, packet_frames=2)
    track.passthrough = True
    sent = frames(6)
    for frame in sent:
        track.push(frame)
    packets = [await track.recv() for _ in range(3)]
    assert [bytes(p) for p in packets] == [sent[0] + sent[1], sent[2] + sent[3], sent[4] + sent[5]]
    assert [p.pts for p in packets] == [0, 2 * SAMPLES, 4 * SAMPLES]
    assert track.stats.frames == 6


async def test_a_packet_waits_for_its_second_frame() -> None:
    track = CallerTrack(backlog=10, packet_frames=2)
    track.passthrough = True
    first, second = frames(2)
    track.push(first)
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.05)
    assert not pending.done()
    track.push(second)
    assert bytes(await pending) == first + second


async def test_one_frame_a_packet_when_asked() -> None:
    track = CallerTrack(backlog=10, packet_frames=1)
    track.passthrough = True
    sent = frames(3)
    for frame in sent:
        track.push(frame)
    assert [bytes(await track.recv()) for _ in range(3)] == sent


async def test_opus_packets_stay_one_a_frame() -> None:
    track = CallerTrack(backlog=10, packet_frames=2)  # not passthrough: Opus
    for frame in frames(4):
        track.push(b"\xff" * len(frame))
    packets = [await track.recv() for _ in range(3)]  # the first frame may only fill libopus
    assert all(0 < len(bytes(p)) < 2 * SAMPLES for p in packets)
    stamps = [int(p.pts or 0) for p in packets]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


async def test_a_stopped_track_ends_a_waiting_read() -> None:
    track = CallerTrack(backlog=10, packet_frames=2)
    track.passthrough = True
    track.push(frames(1)[0])
    pending = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    track.stop()
    with pytest.raises(MediaStreamError):
        await pending
