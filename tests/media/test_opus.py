"""Opus at the phone's rate: the caller's 8 kHz in, mu-law out, still the same speech."""

from __future__ import annotations

import av
import pytest

from media import mulaw, opus
from tests.twilio.audio import correlation, known_speech


def test_8_khz_speech_through_opus_and_back_to_mu_law_sounds_the_same() -> None:
    speech = known_speech(2.0)
    encoder, decoder = opus.Encoder(), opus.Decoder()
    packets = [encoder.encode(speech[i : i + 160]) for i in range(0, speech.size, 160)]
    assert all(len(p) == 1 for p in packets)  # one packet a 20 ms frame: RTP as the caller speaks
    heard = mulaw.decode(b"".join(decoder.decode(p[0]) for p in packets))
    assert abs(heard.size - speech.size) < 160
    assert correlation(speech[:15000], heard) >= 0.9


def test_a_packet_libopus_cannot_read_raises() -> None:
    with pytest.raises(av.FFmpegError):
        opus.Decoder().decode(b"\xff" * 3)
