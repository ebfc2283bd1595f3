"""Which database errors are an outage (503 with Retry-After), not a bug (500): found by the
fault suite (``python -m bench faults``, stop PostgreSQL), where a PostgreSQL shutting down
answered an officer's request with a 500."""

from __future__ import annotations

from typing import Any

import asyncpg.exceptions
from aiohttp import web
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from safecall.errors import error_middleware, is_outage


def _as_sqlalchemy_raises(error: Exception) -> DBAPIError:
    """``error`` from asyncpg, wrapped as SQLAlchemy's asyncpg dialect wraps it."""
    emulated = AsyncAdapt_asyncpg_dbapi.Error(str(error), error)
    return DBAPIError("SELECT 1", None, emulated)  # type: ignore[arg-type]


def test_a_database_shutting_down_or_starting_up_is_an_outage() -> None:
    for error in (
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    ):
        assert is_outage(_as_sqlalchemy_raises(error)), type(error).__name__


def test_a_wrong_statement_is_not_an_outage() -> None:
    error = asyncpg.exceptions.UniqueViolationError("duplicate key value")
    assert not is_outage(_as_sqlalchemy_raises(error))


def test_a_domain_error_raised_from_an_outage_is_that_outage() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from queues.store import StoreError

    try:
        try:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")
        except RedisConnectionError as exc:
            raise StoreError("redis step register failed") from exc
    except StoreError as exc:
        assert is_outage(exc)
    try:
        try:
            raise KeyError("officer")
        except KeyError as exc:
            raise StoreError("redis step register answered nonsense") from exc
    except StoreError as exc:
        assert not is_outage(exc)


async def test_a_connection_reset_while_the_client_waits_is_an_outage(aiohttp_client: Any) -> None:
    """A database connection reset under a request (PostgreSQL stopping) is a 503 with
    Retry-After, not the 400 of a client that went away: found by the fault suite."""

    async def handler(request: web.Request) -> web.Response:
        raise ConnectionResetError("Connection reset by peer")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/", handler)
    client = await aiohttp_client(app)
    answer = await client.post("/", json={})
    assert answer.status == 503 and answer.headers["Retry-After"]
    assert (await answer.json())["error"]["code"] == "unavailable"
