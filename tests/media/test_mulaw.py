"""G.711 mu-law tables against the reference and against FFmpeg's codec."""

from __future__ import annotations

import av
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from media import mulaw
from tests.twilio.audio import ulaw_decode, ulaw_encode

EVERY_SAMPLE = np.arange(-32768, 32768, dtype=np.int16)
EVERY_CODE = bytes(range(256))

# Reference values (Sun g711.c, ITU-T G.711 table 2a): code -> decoded linear value
DECODED = {0x00: -32124, 0x80: 32124, 0x7F: 0, 0xFF: 0, 0x0F: -16764, 0x8F: 16764, 0x70: -120}
ENCODED = {0: 0xFF, 32767: 0x80, -32768: 0x00, -1: 0x7E, 1: 0xFF, 8: 0xFE, -16: 0x7D}


def test_reference_values() -> None:
    assert {c: int(mulaw.decode(bytes([c]))[0]) for c in DECODED} == DECODED
    samples = np.array(list(ENCODED), dtype=np.int16)
    assert dict(zip(ENCODED, mulaw.encode(samples), strict=True)) == ENCODED


def test_decoding_matches_ffmpeg_for_every_code() -> None:
    codec = av.CodecContext.create("pcm_mulaw", "r")
    codec.format, codec.layout, codec.sample_rate = "s16", "mono", 8000
    (frame,) = codec.decode(av.Packet(EVERY_CODE))
    assert np.array_equal(frame.to_ndarray()[0], mulaw.decode(EVERY_CODE))


def test_encoding_is_bit_exact_with_an_independent_reference_encoder() -> None:
    # tests/twilio/audio.py was written separately (the emulator's caller)
    assert mulaw.encode(EVERY_SAMPLE) == ulaw_encode(EVERY_SAMPLE)
    assert np.array_equal(mulaw.decode(EVERY_CODE), ulaw_decode(EVERY_CODE))


def test_every_code_but_negative_zero_survives_a_round_trip() -> None:
    codes = np.frombuffer(mulaw.encode(mulaw.decode(EVERY_CODE)), dtype=np.uint8)
    expected = np.arange(256, dtype=np.uint8)
    expected[0x7F] = 0x7E  # -0 decodes to 0, which encodes as the smallest negative step
    assert np.array_equal(codes[codes != 0xFF], expected[codes != 0xFF])
    assert set(np.flatnonzero(codes == 0xFF)) == {0x7F, 0xFF}


@given(st.lists(st.integers(-32768, 32767), min_size=1, max_size=400))
def test_quantisation_error_is_within_one_step_of_the_segment(values: list[int]) -> None:
    samples = np.array(values, dtype=np.int16)
    codes = np.frombuffer(mulaw.encode(samples), dtype=np.uint8)
    back = mulaw.decode(codes.tobytes()).astype(np.int32)
    step = 8 << ((~codes.astype(np.int32) >> 4) & 0x07)  # 16-bit step of the code's segment
    error = np.abs(back - np.clip(samples.astype(np.int32), -32124, 32124))
    assert np.all(error <= step + 3)  # + the reference's 14-bit truncation (floor for negatives)
    assert np.all(np.sign(back) * np.sign(samples) >= 0)  # never the wrong sign


@given(st.binary(min_size=1, max_size=480))
def test_decode_then_encode_is_stable(payload: bytes) -> None:
    once = mulaw.encode(mulaw.decode(payload))
    assert mulaw.encode(mulaw.decode(once)) == once
