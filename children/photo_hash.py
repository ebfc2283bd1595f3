"""Perceptual hashes of children's photos, to find the same photo sent twice.

A mother's photo of her daughter and the photo a shelter forwards of the same
print are rarely the same bytes: resized, re-compressed by a messaging app,
cropped a little. :func:`photo_hash` is a DCT hash (pHash): the image in grey,
shrunk to 32×32, its 2-D cosine transform, and one bit for each of the 64
lowest frequencies (the top-left 8×8), set when above their median (taken
without the constant term, which only says how bright the photo is). Two
hashes of the same photo differ in a few bits (:func:`hamming`); different
photos differ in about half of them.

This finds *the same photo*, not the same face: two different photos of one
child are not a duplicate. There is no face recognition here.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

HASH_SIZE = 8
SAMPLE_SIZE = 32
DUPLICATE_DISTANCE = 10
"""Hashes at most this many bits apart (of 64) are taken as the same photo."""


@lru_cache(maxsize=1)
def _dct_matrix() -> NDArray[np.float64]:
    n = SAMPLE_SIZE
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0, :] = np.sqrt(1.0 / n)
    matrix: NDArray[np.float64] = m
    return matrix


def photo_hash(image: Image.Image) -> int:
    """The 64-bit perceptual hash of ``image`` (any mode, any size)."""
    image = ImageOps.exif_transpose(image)
    grey = image.convert("L").resize((SAMPLE_SIZE, SAMPLE_SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    m = _dct_matrix()
    low = (m @ pixels @ m.T)[:HASH_SIZE, :HASH_SIZE].flatten()
    bits = low > np.median(low[1:])
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def photo_hash_bytes(data: bytes) -> int:
    """The hash of an encoded image (JPEG, PNG, WebP...); raises ``PIL.UnidentifiedImageError``.

    A JPEG is decoded at reduced scale (the hash needs 32×32), so a 20-megapixel
    phone photo costs little; Pillow's decompression-bomb limit still applies.
    """
    with Image.open(io.BytesIO(data)) as image:
        image.draft("L", (SAMPLE_SIZE * 4, SAMPLE_SIZE * 4))
        return photo_hash(image)


def hamming(a: int, b: int) -> int:
    """How many of the 64 bits differ."""
    return (a ^ b).bit_count()


def same_photo(a: int, b: int) -> bool:
    """Whether two hashes are of the same photo (within :data:`DUPLICATE_DISTANCE`)."""
    return hamming(a, b) <= DUPLICATE_DISTANCE
