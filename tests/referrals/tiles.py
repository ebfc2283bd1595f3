"""A local stand-in for a map tile server (the z/x/y PNG scheme every OSM-style server uses).

Each tile is a 256 x 256 PNG drawn here: a light fill that alternates like a chessboard,
a darker border and a cross at its centre, so a screenshot shows the tile grid and a test
can tell which tiles the page asked for (``asked``).
"""

from __future__ import annotations

import socket
import struct
import zlib

from aiohttp import web

SIZE = 256


def png(x: int, y: int) -> bytes:
    base = (226, 236, 222) if (x + y) % 2 == 0 else (236, 232, 222)
    rows = bytearray()
    for row in range(SIZE):
        rows.append(0)
        for col in range(SIZE):
            edge = row in (0, SIZE - 1) or col in (0, SIZE - 1)
            cross = abs(row - SIZE // 2) < 2 or abs(col - SIZE // 2) < 2
            rows += bytes((150, 160, 170) if edge else (205, 210, 215) if cross else base)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + chunk(b"IEND", b"")
    )


class TileServer:
    """Serves ``/{z}/{x}/{y}.png`` on 127.0.0.1; ``template`` is the URL for the settings."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.template = f"http://127.0.0.1:{self.sock.getsockname()[1]}/{{z}}/{{x}}/{{y}}.png"
        self.asked: list[tuple[int, int, int]] = []
        self._cache: dict[tuple[int, int], bytes] = {}
        self._runner: web.AppRunner | None = None

    async def _tile(self, request: web.Request) -> web.Response:
        z, x, y = (int(request.match_info[k]) for k in ("z", "x", "y"))
        self.asked.append((z, x, y))
        if (x, y) not in self._cache:
            self._cache[(x, y)] = png(x, y)
        return web.Response(body=self._cache[(x, y)], content_type="image/png")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(r"/{z:\d+}/{x:\d+}/{y:\d+}.png", self._tile)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
