"""``GET /api/probe``: bytes her page times to judge her network; never cached, bounded."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from tests.support import copy_sqlite


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def test_the_probe_sends_as_many_incompressible_bytes_as_asked(client: Any) -> None:
    empty = await client.get("/api/probe?bytes=0&n=0.123")
    assert empty.status == 200
    assert await empty.read() == b""
    assert empty.headers["Cache-Control"] == "no-store"
    full = await client.get("/api/probe", headers={"Accept-Encoding": "gzip"})
    body = await full.read()
    assert len(body) == 16384
    assert "Content-Encoding" not in full.headers
    assert len(gzip.compress(body)) > len(body)  # a real 16 KB on the wire
    for query in ("bytes=65537", "bytes=-1", "bytes=lots", "other=1"):
        refused = await client.get(f"/api/probe?{query}")
        assert refused.status == 400, query
        assert (await refused.json())["error"]["code"] == "invalid_query"
