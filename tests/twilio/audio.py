"""Audio helpers for phone tests: G.711 mu-law, resampling, correlation, the known speech.

mu-law is ITU-T G.711 (the PCMU codec, and the ``audio/x-mulaw`` 8000 Hz mono
payload of Twilio Media Streams:
https://www.twilio.com/docs/voice/media-streams/websocket-messages#media-message).
Written with numpy because ``audioop`` left the standard library in Python 3.13.

``known_speech()`` is real speech (espeak-ng + sox, see data/README.md) that the
emulator streams as the caller's voice; tests check audio both ways with
``correlation(sent, received) >= 0.9``.
"""

from __future__ import annotations

import io
import wave
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

DATA = Path(__file__).parent / "data"
KNOWN_SPEECH = DATA / "known_speech.wav"
RATE = 8000
"""Twilio Media Streams sample rate."""
FRAME_BYTES = 160
"""One 20 ms mu-law frame at 8 kHz."""

_BIAS = 0x84
_CLIP = 8159  # 14-bit magnitude limit of the reference encoder

Samples = npt.NDArray[np.int16]


def ulaw_encode(samples: npt.ArrayLike) -> bytes:
    """16-bit linear PCM -> G.711 mu-law bytes, bit-exact with the reference (Sun g711.c)."""
    x = np.asarray(samples, dtype=np.int32) >> 2  # the reference works on 14 bits
    mask = np.where(x < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.minimum(np.abs(x), _CLIP) + 0x21, 0x1FFF)
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 5
    mantissa = (magnitude >> (exponent + 1)) & 0x0F
    return (((exponent << 4) | mantissa) ^ mask).astype(np.uint8).tobytes()


def _decode_table() -> Samples:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


ULAW_TO_LINEAR: Samples = _decode_table()
"""The 256-entry decoding table (index = mu-law byte)."""


def ulaw_decode(data: bytes) -> Samples:
    """G.711 mu-law bytes -> 16-bit linear PCM."""
    return ULAW_TO_LINEAR[np.frombuffer(data, dtype=np.uint8)]


ULAW_SILENCE = b"\xff"
"""mu-law encoding of 0."""


def resample(samples: npt.ArrayLike, from_rate: int, to_rate: int) -> Samples:
    """Resample 16-bit PCM; low-pass (windowed sinc) first when going down."""
    x = np.asarray(samples, dtype=np.float64)
    if from_rate == to_rate or x.size == 0:
        return x.astype(np.int16)
    if to_rate < from_rate:
        cutoff = 0.5 * to_rate / from_rate  # cycles per input sample
        taps = np.arange(-32, 33)
        kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(taps.size)
        x = np.convolve(x, kernel / kernel.sum(), mode="same")
    n_out = round(x.size * to_rate / from_rate)
    positions = np.arange(n_out) * (from_rate / to_rate)
    y = np.interp(positions, np.arange(x.size), x)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def read_wav(path: Path) -> tuple[Samples, int]:
    """``(samples, rate)`` of a mono 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path} is not mono 16-bit PCM")
        frames = wav.readframes(wav.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.int16), wav.getframerate()


def wav_seconds(data: bytes) -> float | None:
    """Duration of WAV bytes, or None when they are not a WAV file."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    except (wave.Error, EOFError):
        return None


@cache
def _known_speech() -> bytes:
    samples, rate = read_wav(KNOWN_SPEECH)
    assert rate == RATE, f"{KNOWN_SPEECH} must be 8 kHz"
    return samples.tobytes()


def known_speech(seconds: float | None = None) -> Samples:
    """The committed speech clip (8 kHz int16), cut to ``seconds`` when given."""
    samples = np.frombuffer(_known_speech(), dtype=np.int16)
    if seconds is not None:
        samples = samples[: int(seconds * RATE)]
    return samples.copy()


def known_speech_ulaw(seconds: float | None = None) -> bytes:
    """The known speech as the mu-law bytes a Twilio caller's phone would send."""
    return ulaw_encode(known_speech(seconds))


def tone(frequency: float, seconds: float, rate: int = RATE, level: float = 0.3) -> Samples:
    """A sine tone (int16) for tests that need a simple known signal."""
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * frequency * t) * level * 32767).astype(np.int16)


def frames(data: bytes, size: int = FRAME_BYTES) -> list[bytes]:
    """Split mu-law bytes into ``size``-byte frames, the last one padded with silence."""
    out = [data[i : i + size] for i in range(0, len(data), size)]
    if out and len(out[-1]) < size:
        out[-1] = out[-1] + ULAW_SILENCE * (size - len(out[-1]))
    return out


def align(sent: npt.ArrayLike, received: npt.ArrayLike) -> tuple[float, int]:
    """``(score, lag)``: the best normalized cross-correlation of two signals and where.

    The shorter signal slides along the longer one (full overlap only); the
    score is the Pearson-style normalized dot product in [-1, 1], so a gain
    change does not matter but distortion, noise and missing audio do. ``lag``
    is the offset (in samples) of the shorter signal inside the longer one.
    Signals are compared at the same sample rate: resample first if needed.
    """
    a = np.asarray(sent, dtype=np.float64)
    b = np.asarray(received, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return 0.0, 0
    short, long_ = (a, b) if a.size <= b.size else (b, a)
    short = short - short.mean()
    m, n = short.size, long_.size
    size = 1 << int(np.ceil(np.log2(n + m)))
    dots = np.fft.irfft(np.fft.rfft(long_, size) * np.conj(np.fft.rfft(short, size)), size)
    dots = dots[: n - m + 1]
    # Window sums and energies of the long signal, for a mean-removed norm at each lag.
    c1 = np.concatenate(([0.0], np.cumsum(long_)))
    c2 = np.concatenate(([0.0], np.cumsum(long_ * long_)))
    sums = c1[m:] - c1[:-m]
    energy = (c2[m:] - c2[:-m]) - sums * sums / m
    norm = np.sqrt(np.maximum(energy, 0.0)) * np.linalg.norm(short)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(norm > 1e-9, dots / norm, 0.0)
    best = int(np.argmax(scores))
    return float(scores[best]), best


def correlation(sent: npt.ArrayLike, received: npt.ArrayLike) -> float:
    """The best normalized cross-correlation of ``sent`` and ``received`` (see :func:`align`)."""
    return align(sent, received)[0]


def piecewise_correlation(
    sent: npt.ArrayLike, received: npt.ArrayLike, seconds: float = 0.25
) -> float:
    """The median over ``sent``'s pieces (those not silent) of each one's best correlation
    anywhere in ``received``: a moment of silence a busy path inserts between pieces (which
    shifts everything after it) does not count, missing or distorted audio does."""
    a = np.asarray(sent, dtype=np.float64)
    size = int(seconds * RATE)
    pieces = [a[i : i + size] for i in range(0, a.size - size + 1, size)]
    scores = [correlation(piece, received) for piece in pieces if np.abs(piece).max() > 1000]
    return float(np.median(scores)) if scores else 0.0
