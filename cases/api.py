"""The officer REST API for cases (to be written)."""

from aiohttp import web


def setup(app: web.Application) -> None:
    pass
