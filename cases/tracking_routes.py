"""Public tracking by code (to be written)."""

from aiohttp import web


def setup(app: web.Application) -> None:
    pass
