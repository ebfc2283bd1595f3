"""Perceptual hashes: the same photo resized, re-encoded or cropped a little matches."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError

from children.photo_hash import (
    DUPLICATE_DISTANCE,
    hamming,
    photo_hash,
    photo_hash_bytes,
    same_photo,
)


def scene(seed: int, size: tuple[int, int] = (240, 320)) -> Image.Image:
    """A photo-like image: smooth colour fields with shapes on them, different per seed."""
    rng = np.random.default_rng(seed)
    field = (rng.random((6, 8, 3)) * 255).astype("uint8")
    image = Image.fromarray(field).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    r = random.Random(seed)
    for _ in range(12):
        x, y = r.randrange(size[0]), r.randrange(size[1])
        w, h = r.randrange(15, 100), r.randrange(15, 100)
        colour = (r.randrange(256), r.randrange(256), r.randrange(256))
        shape = draw.ellipse if r.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(1))


def encoded(image: Image.Image, fmt: str = "JPEG", **options: int) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    return [scene(seed) for seed in range(12)]


def test_the_same_photo_passed_around_still_matches(photos: list[Image.Image]) -> None:
    for photo in photos[:4]:
        w, h = photo.size
        original = photo_hash_bytes(encoded(photo, "PNG"))
        copies = {
            "resized": photo.resize((w // 3, h // 3)),
            "re-encoded JPEG q30": Image.open(io.BytesIO(encoded(photo, quality=30))),
            "shrunk and re-encoded": Image.open(
                io.BytesIO(encoded(photo.resize((w // 4, h // 4)), quality=40))
            ),
            "cropped 2% a side": photo.crop(
                (int(w * 0.02), int(h * 0.02), int(w * 0.98), int(h * 0.98))
            ),
            "brighter": Image.eval(photo, lambda v: min(255, int(v * 1.15))),
            "grey": photo.convert("L"),
        }
        for how, copy in copies.items():
            assert same_photo(original, photo_hash(copy)), (
                how,
                hamming(original, photo_hash(copy)),
            )


def test_a_large_jpeg_decoded_at_reduced_scale_matches_the_original(
    photos: list[Image.Image],
) -> None:
    big = photos[0].resize((1920, 2560), Image.Resampling.BICUBIC)
    assert same_photo(photo_hash(photos[0]), photo_hash_bytes(encoded(big, quality=85)))


def test_different_photos_do_not_match(photos: list[Image.Image]) -> None:
    hashes = [photo_hash(p) for p in photos]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert hamming(a, b) > DUPLICATE_DISTANCE


def test_a_hash_is_64_bits_and_stable(photos: list[Image.Image]) -> None:
    h = photo_hash(photos[0])
    assert 0 <= h < 2**64
    assert photo_hash(photos[0].copy()) == h
    assert hamming(h, h) == 0
    assert hamming(0, 2**64 - 1) == 64


def test_bytes_that_are_not_an_image_are_refused() -> None:
    with pytest.raises(UnidentifiedImageError):
        photo_hash_bytes(b"not an image")
