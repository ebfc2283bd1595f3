"""Login, logout and officer management endpoints (to be written)."""

from aiohttp import web


def setup(app: web.Application) -> None:
    pass
