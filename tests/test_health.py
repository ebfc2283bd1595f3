"""What the health and metrics addresses tell a stranger (issue 13 item 13)."""

from __future__ import annotations

import dataclasses
from typing import Any

from safecall.app import create_app

TOKEN = "scrape-" + "x" * 20
THROUGH_THE_PROXY = {"X-Forwarded-For": "203.0.113.7"}


async def test_healthz_says_only_that_the_process_serves(client: Any) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}  # no process id


async def test_metrics_are_refused_to_a_stranger_through_the_proxy(client: Any) -> None:
    """Staffing per line is for the operator's scraper, not for whoever asks."""
    for headers in (THROUGH_THE_PROXY, {"Forwarded": "for=203.0.113.7"}):
        response = await client.get("/metrics", headers=headers)
        assert response.status == 403
        body = await response.json()
        assert body["error"]["code"] == "metrics_forbidden"
        assert "SAFECALL_METRICS_TOKEN" in body["error"]["message"]
        assert "safecall_queue" not in await response.text()


async def test_metrics_answer_the_token_from_anywhere_and_this_host_without(
    aiohttp_client: Any, settings: Any, clock: Any
) -> None:
    client = await aiohttp_client(
        create_app(dataclasses.replace(settings, metrics_token=TOKEN), clock=clock)
    )
    allowed = await client.get(
        "/metrics", headers={**THROUGH_THE_PROXY, "Authorization": f"Bearer {TOKEN}"}
    )
    assert allowed.status == 200
    assert "# TYPE" in await allowed.text()
    for wrong in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer", TOKEN):
        refused = await client.get(
            "/metrics", headers={**THROUGH_THE_PROXY, "Authorization": wrong}
        )
        assert refused.status == 403, wrong
    assert (await client.get("/metrics")).status == 200  # a scraper on this host
