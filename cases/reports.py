"""Reports over a period (being written)."""

from aiohttp import web


def setup(app: web.Application) -> None:
    pass
