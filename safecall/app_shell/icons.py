"""The installed app's icons, drawn at start as PNG (no image files to keep in step).

Each icon is drawn on a 48-unit grid, its shape inside the middle 80 % (a
"maskable" icon: the phone may cut it to a circle or a rounded square). The
neutral ``help`` icon is a speech bubble; ``calculator`` and ``notes`` are
disguises a deployment may choose (:attr:`safecall.settings.Settings.app_icon`).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

SIZES = (192, 512)
Image = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]


def icon_png(kind: str, size: int) -> bytes:
    """The icon ``kind`` (``help``, ``calculator``, ``notes``) as a ``size``-pixel PNG."""
    return png(_DRAW[kind](size))


class _Canvas:
    def __init__(self, size: int, background: Colour) -> None:
        self.size = size
        self.image: Image = np.empty((size, size, 3), dtype=np.uint8)
        self.image[:, :] = background
        centres = (np.arange(size) + 0.5) * 48 / size
        self.x, self.y = np.meshgrid(centres, centres)

    def fill(self, mask: npt.NDArray[np.bool_], colour: Colour) -> None:
        self.image[mask] = colour

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
        self.fill((self.x >= x0) & (self.x < x1) & (self.y >= y0) & (self.y < y1), colour)


def _help(size: int) -> Image:
    canvas = _Canvas(size, (0x5B, 0x2A, 0x86))
    white = (255, 255, 255)
    canvas.rect(11, 13, 37, 31, white)
    x, y = canvas.x, canvas.y
    canvas.fill((y >= 30) & (y < 38) & (x >= 15) & (x < 15 + (38 - y)), white)  # the tail
    for dot in (17, 24, 31):
        canvas.fill((x - dot) ** 2 + (y - 22) ** 2 < 4, (0x5B, 0x2A, 0x86))
    return canvas.image


def _calculator(size: int) -> Image:
    canvas = _Canvas(size, (0x37, 0x47, 0x4F))
    canvas.rect(12, 9, 36, 17, (0xCF, 0xD8, 0xDC))
    for row in range(4):
        for col in range(4):
            colour = (0xFF, 0x98, 0x00) if col == 3 else (0x90, 0xA4, 0xAE)
            x0, y0 = 12 + col * 6.3, 20 + row * 5
            canvas.rect(x0, y0, x0 + 4.5, y0 + 3.8, colour)
    return canvas.image


def _notes(size: int) -> Image:
    canvas = _Canvas(size, (0xFB, 0xC0, 0x2D))
    canvas.rect(11, 9, 37, 39, (0xFF, 0xF8, 0xE1))
    for line in (15, 21, 27, 33):
        canvas.rect(14, line, 34, line + 1.5, (0x8D, 0x6E, 0x63))
    return canvas.image


_DRAW = {"help": _help, "calculator": _calculator, "notes": _notes}


def png(image: Image) -> bytes:
    """An RGB image as PNG bytes."""
    height, width, _ = image.shape
    rows = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # filter byte 0 per row
    rows[:, 1:] = image.reshape(height, width * 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )
