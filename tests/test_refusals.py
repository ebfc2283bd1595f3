"""Refusals are mapped to HTTP in one place: each kind its status, Retry-After if waiting helps."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from safecall.errors import error_middleware
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

KINDS: list[tuple[type[Refusal], int]] = [
    (Invalid, 400),
    (NotAllowed, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Gone, 410),
    (TooLarge, 413),
    (TooMany, 429),
    (Unavailable, 503),
]


class OwnWords(Conflict):
    """A package's own refusal keeps the status of the kind it derives from."""


def _app(refusal: Refusal) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        raise refusal

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/", handler)
    return app


@pytest.mark.parametrize(("kind", "status"), [*KINDS, (OwnWords, 409)])
async def test_each_kind_answers_its_status_with_code_and_sentence(
    aiohttp_client: Any, kind: type[Refusal], status: int
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(_app(kind("some_code", "Do this instead.")))
    response = await client.get("/")
    assert response.status == status
    assert await response.json() == {"error": {"code": "some_code", "message": "Do this instead."}}
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(("wait", "header"), [(0.2, "1"), (1.0, "1"), (59.01, "60")])
async def test_a_refusal_that_waiting_helps_says_when(
    aiohttp_client: Any, wait: float, header: str
) -> None:
    refusal = TooMany("too_many_attempts", "Try again later.", retry_after=wait)
    client: TestClient[Any, Any] = await aiohttp_client(_app(refusal))
    response = await client.get("/")
    assert response.status == 429
    assert response.headers["Retry-After"] == header
