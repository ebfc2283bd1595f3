"""Opus on the officer's leg, at the phone's rate: 8 kHz mono in, 8 kHz mono mu-law out.

aiortc's own Opus codec works at 48 kHz stereo: for each 20 ms frame of the
caller it resamples 8 -> 48 kHz and encodes two channels, in a thread of the
default executor (a thread hop per frame), and it decodes the officer's Opus
to 48 kHz stereo in a thread per receiver, handing every frame back to the
event loop as a task of its own; the bridge then resampled that back to
8 kHz mono. With both ends of the call at 8 kHz that is work for nothing,
and each hand-off is Python work on two threads under the GIL, every frame.

Here libopus (through PyAV) encodes the caller's 8 kHz mono as it is (Opus
takes 8 kHz input natively; the RTP clock stays 48 kHz: aiortc converts the
packets' timestamps), and decodes the officer's packets to mono, resampled
once to 8 kHz. Both run inline on the event loop, a frame at a time as it
comes: no thread, no hand-off, and about half the codec work of aiortc's.
"""

from __future__ import annotations

import fractions

import numpy as np
import numpy.typing as npt
from av import AudioFrame, AudioResampler, CodecContext
from av.packet import Packet

from media import mulaw

RATE = 8000
TIME_BASE = fractions.Fraction(1, RATE)
DECODE_RATE = 48000
"""FFmpeg's libopus decoder always gives 48 kHz (Opus decodes at any rate; the wrapper does not)."""
BIT_RATE = 32000
"""Bits a second for the caller's voice: ample for 8 kHz speech."""
APPLICATION = "lowdelay"
"""libopus's CELT-only mode: a waveform coder (speech comes out close to the phone's samples;
the SILK mode ``voip`` sounds right but its waveform matches far less) with 2.5 ms of
look-ahead instead of 6.5 ms."""


class Encoder:
    """The caller's 8 kHz samples to Opus packets (one per 20 ms frame)."""

    def __init__(self) -> None:
        codec = CodecContext.create("libopus", "w")
        codec.bit_rate = BIT_RATE
        codec.format = "s16"
        codec.layout = "mono"
        codec.sample_rate = RATE
        codec.time_base = TIME_BASE
        codec.options = {"application": APPLICATION}
        self.codec = codec
        self._pts = 0

    def encode(self, samples: npt.NDArray[np.int16]) -> list[bytes]:
        """Opus packets for ``samples`` (a 20 ms frame: 160); may be none while it fills."""
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += samples.size
        return [bytes(packet) for packet in self.codec.encode(frame)]


class Decoder:
    """The officer's Opus payloads to 8 kHz mono mu-law bytes."""

    def __init__(self) -> None:
        codec = CodecContext.create("libopus", "r")
        codec.format = "s16"
        codec.layout = "mono"
        codec.sample_rate = DECODE_RATE
        self.codec = codec
        self.resampler = AudioResampler(format="s16", layout="mono", rate=RATE)

    def decode(self, payload: bytes) -> bytes:
        """Mu-law for one Opus packet (about 160 bytes for 20 ms; the resampler keeps a few).

        Raises ``av.FFmpegError`` for a packet libopus cannot read.
        """
        out = b""
        for frame in self.codec.decode(Packet(payload)):
            for resampled in self.resampler.resample(frame):
                out += mulaw.encode(resampled.to_ndarray()[0])
        return out
