"""G.711 mu-law, the telephone network's 8-bit audio, with numpy lookup tables.

Twilio Media Streams carry 8 kHz mono mu-law. Both directions are one table
look-up per sample: 65,536 bytes to encode (indexed by the 16-bit sample's
bit pattern) and 256 int16 values to decode. ``audioop`` did this before
Python 3.13 removed it.

The encoder is bit-exact with Sun's ``g711.c`` (the reference the G.711
tables are usually checked against: 14-bit, bias 33, clip at 8,159);
decoding 0x7F and 0xFF both gives 0 (the code has a signed zero).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BIAS = 0x84
"""Added before the segment search, so that every segment starts on a power of two."""
CLIP = 8159
"""Largest 14-bit magnitude encoded; louder samples clip."""
_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)

SILENCE = 0xFF
"""The mu-law code of 0."""


def _encode_one(sample: int) -> int:
    # Sun's g711.c linear2ulaw, the reference: on 14 bits (arithmetic shift)
    value = sample >> 2
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, CLIP) + (BIAS >> 2)
    segment = next((i for i, end in enumerate(_SEGMENT_ENDS) if value <= end), 8)
    if segment == 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def _decode_one(code: int) -> int:
    code = ~code & 0xFF
    exponent = (code >> 4) & 0x07
    magnitude = (((code & 0x0F) << 3) + BIAS) << exponent
    magnitude -= BIAS
    return -magnitude if code & 0x80 else magnitude


_ENCODE: npt.NDArray[np.uint8] = np.array(
    [_encode_one(int(s)) for s in np.arange(65536, dtype=np.uint16).view(np.int16)],
    dtype=np.uint8,
)
"""Indexed by a sample's 16 bits read as unsigned."""
_DECODE: npt.NDArray[np.int16] = np.array([_decode_one(c) for c in range(256)], dtype=np.int16)


def encode(samples: npt.NDArray[np.int16]) -> bytes:
    """Signed 16-bit linear samples to mu-law bytes, one per sample."""
    return _ENCODE[np.ascontiguousarray(samples, dtype=np.int16).view(np.uint16)].tobytes()


def decode(payload: bytes) -> npt.NDArray[np.int16]:
    """Mu-law bytes to signed 16-bit linear samples."""
    return _DECODE[np.frombuffer(payload, dtype=np.uint8)]
