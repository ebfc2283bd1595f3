"""The tap on aiortc's receiver: real peer connections on loopback.

The tapped side offers (as the bridge does); the other side sends known mu-law
payloads as PCMU packets, or speech as Opus (aiortc's own encoder: 48 kHz
stereo, as a browser sends). PCMU must reach the sink bit-exact and in order,
Opus as 8 kHz mu-law that sounds like what was sent; aiortc's decoder thread
must get neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from av.packet import Packet

from media import mulaw
from media.ice import configuration, pinned
from media.receiver_tap import tap_receiver
from tests.twilio.audio import correlation, known_speech, resample

LOOPBACK = ("127.0.0.1",)
FRAMES = 60


class MuLawPackets(MediaStreamTrack):
    """``FRAMES`` known 160-byte mu-law payloads, one per 20 ms, then silence."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(5)
        self.payloads = [rng.integers(0, 256, 160, dtype=np.uint8).tobytes() for _ in range(FRAMES)]
        self.n = 0

    async def recv(self) -> Packet[Any]:
        await asyncio.sleep(0.02)
        payload = self.payloads[self.n] if self.n < FRAMES else bytes([0xFF]) * 160
        packet = Packet(payload)
        packet.pts, packet.time_base = self.n * 160, fractions.Fraction(1, 8000)
        self.n += 1
        return packet


def prefer(pc: RTCPeerConnection, mime: str) -> None:
    codecs = RTCRtpSender.getCapabilities("audio").codecs
    pc.getTransceivers()[0].setCodecPreferences([c for c in codecs if c.mimeType == mime])


@contextlib.asynccontextmanager
async def tapped_leg(
    track: MediaStreamTrack, mime: str
) -> AsyncIterator[tuple[list[bytes], list[Any]]]:
    """``(tapped payloads, decoded frames)`` of a leg whose far side sends ``track``."""
    tapped: list[bytes] = []
    decoded: list[Any] = []
    near, far = RTCPeerConnection(configuration()), RTCPeerConnection(configuration())
    tasks: list[asyncio.Task[None]] = []

    async def read(remote: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                decoded.append(await remote.recv())

    near.on("track", lambda remote: tasks.append(asyncio.create_task(read(remote))))
    transceiver = near.addTransceiver("audio", direction="recvonly")
    tap_receiver(transceiver.receiver, tapped.append)
    prefer(near, mime)
    with pinned(LOOPBACK):
        await near.setLocalDescription(await near.createOffer())
        await far.setRemoteDescription(near.localDescription)
        far.getTransceivers()[0].sender.replaceTrack(track)
        far.getTransceivers()[0].direction = "sendonly"
        await far.setLocalDescription(await far.createAnswer())
    await near.setRemoteDescription(
        RTCSessionDescription(sdp=far.localDescription.sdp, type="answer")
    )
    try:
        yield tapped, decoded
    finally:
        await far.close()
        await near.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_pcmu_reaches_the_sink_bit_exact_and_is_not_decoded() -> None:
    track = MuLawPackets()
    async with tapped_leg(track, "audio/PCMU") as (tapped, decoded):
        async with asyncio.timeout(20):
            while len(tapped) < FRAMES:  # noqa: ASYNC110 (real time: the far side's pace)
                await asyncio.sleep(0.05)
        assert not decoded  # the decoder thread had nothing to do
    assert tapped[:FRAMES] == track.payloads  # every byte as sent, in order


class Speech48k(MediaStreamTrack):
    """Known speech at 48 kHz, 20 ms a frame at real pace, then silence (a browser's mic)."""

    kind = "audio"

    def __init__(self, speech: np.ndarray[Any, Any]) -> None:
        super().__init__()
        self.samples = resample(speech, 8000, 48000)
        self.pts = 0

    async def recv(self) -> AudioFrame:
        await asyncio.sleep(0.02)
        chunk = self.samples[self.pts : self.pts + 960]
        chunk = np.pad(chunk, (0, 960 - chunk.size))
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48000, self.pts
        frame.time_base = fractions.Fraction(1, 48000)
        self.pts += 960
        return frame


async def test_opus_reaches_the_sink_as_8_khz_mu_law_and_is_not_decoded_by_aiortc() -> None:
    speech = known_speech(2.0)
    async with tapped_leg(Speech48k(speech), "audio/opus") as (tapped, decoded):
        async with asyncio.timeout(20):
            while sum(map(len, tapped)) < speech.size + 8000:  # noqa: ASYNC110 (real time)
                await asyncio.sleep(0.05)
        assert not decoded  # aiortc's decoder thread had nothing to do
    heard = mulaw.decode(b"".join(tapped))
    assert correlation(speech, heard) >= 0.9


async def test_a_receiver_already_receiving_is_refused() -> None:
    pc = RTCPeerConnection(configuration())
    receiver: Any = pc.addTransceiver("audio").receiver
    receiver._RTCRtpReceiver__decoder_thread = object()  # what receive() leaves there
    with pytest.raises(RuntimeError, match="before it starts"):
        tap_receiver(receiver, lambda _: None)
    await pc.close()
