"""A short database outage does not log an officer out (issue 14, D5): a login seen a moment
ago is taken while the database cannot be reached; anything else is a 503 with Retry-After,
never a 500."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import make_url

from officers.auth import COOKIE, start_login
from officers.models import Officer
from safecall.app import create_app
from tests.support import Cuttable


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_officer_on_duty_is_not_logged_out_by_a_database_outage(
    aiohttp_client: Any, settings: Any, clock: Any, db: Any
) -> None:
    url = make_url(settings.database_url)
    path = Cuttable(url.host or "127.0.0.1", url.port or 5432)
    port = await path.start()
    through = dataclasses.replace(
        settings, database_url=url.set(port=port).render_as_string(hide_password=False)
    )
    client: TestClient[Any, Any] = await aiohttp_client(create_app(through, clock))
    async with db() as session:
        officer = Officer(
            badge="O-1",
            name="On duty",
            role="officer",
            gender="female",
            languages=["ur"],
            skills={},
            lines=["women"],
            password_hash="not-a-hash",
        )
        session.add(officer)
        await session.flush()
        token = await start_login(session, officer, "127.0.0.1", clock(), 12)
        stranger = await start_login(session, officer, "127.0.0.1", clock(), 12)
        await session.commit()
    headers = {"Cookie": f"{COOKIE}={token}"}
    assert (await client.get("/api/queues/me", headers=headers)).status == 200
    await path.cut()
    try:
        during = await client.get("/api/queues/me", headers=headers)
        assert during.status == 200  # the queues are not in the database
        unseen = await client.get("/api/queues/me", headers={"Cookie": f"{COOKIE}={stranger}"})
        assert unseen.status == 503 and unseen.headers["Retry-After"]
        assert (await unseen.json())["error"]["code"] == "unavailable"
    finally:
        await path.restore()
    assert (await client.get("/api/queues/me", headers=headers)).status == 200
    await path.cut()
