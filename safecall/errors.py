"""Errors at the edge: every refused request gets a status, a stable code and a sentence.

Domain packages raise refusals (:mod:`safecall.refusals`), which say nothing
of HTTP; handlers raise :class:`ApiError` for what is HTTP's own (a body that
is not JSON). The middleware here is the one place that turns both (and
aiohttp's own 404/405/413) into ``{"error": {"code": ..., "message": ...}}``
with a status (:data:`STATUS`). Handlers validate before they write, so a
refused request leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from asyncpg.exceptions import (
    OperatorInterventionError,
    PostgresConnectionError,
    TooManyConnectionsError,
)
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from safecall.refusals import (
    Conflict,
    Gone,
    Invalid,
    NotAllowed,
    NotFound,
    Refusal,
    TooLarge,
    TooMany,
    Unavailable,
)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A refusal a person can act on."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


STATUS: dict[type[Refusal], int] = {
    Invalid: 400,
    NotAllowed: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    TooLarge: 413,
    TooMany: 429,
    Unavailable: 503,
}
"""The HTTP status of each kind of refusal (the nearest kind a refusal's class derives from)."""


def status_of(refusal: Refusal) -> int:
    for kind in type(refusal).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def refusal_headers(refusal: Refusal) -> dict[str, str]:
    """``Retry-After`` (whole seconds, at least 1) when waiting helps; extra headers a
    refusal names (``refusal.headers``, e.g. the next chunk a recording expects)."""
    headers: dict[str, str] = dict(getattr(refusal, "headers", None) or {})
    if refusal.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(refusal.retry_after)))
    return headers


def api_error(refusal: Refusal) -> ApiError:
    """The refusal as an HTTP answer (for handlers that add headers of their own)."""
    return ApiError(status_of(refusal), refusal.code, refusal.message, refusal_headers(refusal))


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """The refusal as JSON; never kept by a cache (it may say what a shared phone asked)."""
    return web.json_response(
        {"error": {"code": code, "message": message}},
        status=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


OUTAGES: tuple[type[BaseException], ...] = (
    RedisError,
    SQLAlchemyTimeout,
    OperationalError,
    InterfaceError,
    ConnectionError,
    OSError,
)
"""What a database or Redis that is down or overloaded raises: answered 503, not 500."""
OUTAGE_RETRY_SECONDS = 2
UNAVAILABLE_MESSAGE = (
    "Part of the service cannot be reached just now; try again in a moment. "
    "If you are in danger, call 15."
)


_DOWN = (
    PostgresConnectionError,  # the connection went away mid-statement
    OperatorInterventionError,  # the server is shutting down or starting up
    TooManyConnectionsError,
    OSError,
    ConnectionError,
    TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    """``exc`` says a database or Redis is down or overloaded (not that a statement was wrong):
    answered 503 with Retry-After, not 500. A domain's error raised from an outage (the
    queues' ``StoreError`` from Redis refusing the connection) is that outage."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if _is_outage(seen):
            return True
        seen = seen.__cause__
    return False


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, OUTAGES):
        return True
    if isinstance(exc, DBAPIError):
        # asyncpg's own error is one level further in: SQLAlchemy's emulated DBAPI error
        # holds it as ``orig`` (e.g. "the database system is shutting down", 57P03).
        inner = getattr(exc.orig, "orig", None)
        return (
            bool(exc.connection_invalidated)
            or isinstance(exc.orig, _DOWN)
            or isinstance(inner, _DOWN)
        )
    return isinstance(exc, _DOWN)


def _kind(exc: BaseException) -> str:
    # The type only: a database error's message can carry values (phone numbers).
    return type(exc).__name__


_HTTP_CODES = {
    400: ("bad_request", "The request could not be read."),
    401: ("not_logged_in", "Log in first."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This address does not take that method."),
    413: ("too_large", "The request body is too large."),
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    except Refusal as exc:
        return error_response(status_of(exc), exc.code, exc.message, refusal_headers(exc))
    except web.HTTPException as exc:
        if exc.status < 400 or exc.status not in _HTTP_CODES:
            raise
        code, message = _HTTP_CODES[exc.status]
        return error_response(exc.status, code, message)
    except ConnectionResetError:
        # The client went away mid-request, or sent its body too slowly and was cut off
        # (safecall.connections): nobody is left to read a 500, and nothing is wrong here.
        log.info("%s %s: the connection broke off", request.method, request.path)
        return error_response(
            400, "request_incomplete", "The request broke off before it was whole; send it again."
        )
    except Exception as exc:
        if is_outage(exc):
            # A part we depend on is down: say so, and when to try again (never a 500).
            log.warning(
                "%s %s: a dependency is unavailable (%s)", request.method, request.path, _kind(exc)
            )
            return error_response(
                503, "unavailable", UNAVAILABLE_MESSAGE, {"Retry-After": str(OUTAGE_RETRY_SECONDS)}
            )
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side; try again.")


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"Field '{where}': {first['msg']}."


def parse_model(model: type[M], data: Any, code: str = "invalid_request") -> M:
    """Validate ``data`` as ``model`` or raise a 400 naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, code, _describe(exc)) from None


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects read from a stranger; ours need a handful."""


def too_deep(data: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``data`` (parsed JSON) nests arrays and objects more than ``limit`` deep.

    Walked with a stack of its own: a recursive walk is what the attacker wants.
    """
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in value)
    return False


class TooDeep(ValueError):
    """JSON nested deeper than :data:`MAX_JSON_DEPTH`."""


def parse_json(text: str | bytes) -> Any:
    """JSON sent by a stranger; ValueError when it is not JSON, :class:`TooDeep` when it
    nests too deeply.

    ``json.loads`` raises RecursionError (not ValueError) on deep nesting, and a
    value just below that depth would trip whatever walks it next.
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise TooDeep() from None
    if too_deep(data):
        raise TooDeep()
    return data


async def read_body(request: web.Request, model: type[M]) -> M:
    """The JSON body as ``model``; a 400 with a clear sentence otherwise."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        data = parse_json(await request.text())
    except TooDeep:
        raise ApiError(
            400,
            "invalid_json",
            f"The body is nested too deeply (at most {MAX_JSON_DEPTH} levels of arrays and "
            "objects).",
        ) from None
    except ValueError:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    return parse_model(model, data, "invalid_body")


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string as ``model``; a 400 naming the bad parameter otherwise."""
    return parse_model(model, dict(request.query), "invalid_query")
