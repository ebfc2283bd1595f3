"""Every answer carries nosniff; every /api answer no-store (issue 13 item 12)."""

from __future__ import annotations

from typing import Any

import pytest

API_REQUESTS = [
    ("GET", "/api/me", None, 401),
    ("POST", "/api/login", {"badge": "B-1"}, 400),
    ("POST", "/api/track", {"code": "123456789012"}, None),
    ("GET", "/api/openapi.json", None, 200),
    ("GET", "/api/no-such-thing", None, 404),
    ("GET", "/api/cases", None, 401),
]


@pytest.mark.parametrize(("method", "path", "payload", "status"), API_REQUESTS)
async def test_api_answers_are_never_cached_or_sniffed(
    client: Any, method: str, path: str, payload: Any, status: int | None
) -> None:
    response = await client.request(method, path, json=payload)
    if status is not None:
        assert response.status == status
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_an_officer_s_answers_are_never_cached(login_as: Any) -> None:
    browser, _ = await login_as("supervisor")
    for path in ("/api/me", "/api/officers", "/api/cases"):
        response = await browser.get(path)
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path


async def test_pages_keep_their_own_policy_and_other_answers_are_not_sniffed(client: Any) -> None:
    page = await client.get("/track")
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    health = await client.get("/healthz")
    assert health.headers["X-Content-Type-Options"] == "nosniff"
