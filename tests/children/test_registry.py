"""The registry each process keeps of the open reports follows the database: a found report
filed on one process is matched by a missing report filed on another, in that order too; a
report closed elsewhere leaves it; the same photo on two reports is recognised."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from children.routes import MATCHES
from safecall.app import create_app
from safecall.settings import Settings
from tests.children.conftest import Db, Login, found_body, missing_body, picture
from tests.support import FakeClock

Client = TestClient[Any, Any]


async def test_reports_from_another_process_are_matched(
    centre: tuple[Client, Any],
    gulberg: tuple[Client, Any],
    settings: Settings,
    clock: FakeClock,
    aiohttp_client: Any,
    login_as: Login,
    client: Client,
    db: Db,
) -> None:
    officer, _ = centre
    station, _ = gulberg
    # The found report is filed on another process (its registry, not this one's, ranks it).
    assert await client.server.app[MATCHES].propose("no-such-report") == []
    other_app: web.Application = create_app(settings, clock=clock)
    other = await aiohttp_client(other_app)
    other.session.cookie_jar.update_cookies(
        station.session.cookie_jar.filter_cookies(station.make_url("/"))
    )
    found = await other.post("/api/children/found", json=found_body(clock()))
    assert found.status == 201, await found.text()
    found_report = await found.json()
    assert found_report["candidates"] == 0  # no missing report yet

    made = await officer.post("/api/children/missing", json=missing_body(clock()))
    missing = await made.json()
    assert missing["candidates"] == 1
    [candidate] = (
        await (await officer.get(f"/api/children/reports/{missing['id']}/candidates")).json()
    )["candidates"]
    assert candidate["found_id"] == found_report["id"]

    # The same photo on both reports is recognised, and counts as a reason.
    photo = picture(40)
    for who, report in ((officer, missing), (station, found_report)):
        added = await who.post(
            f"/api/children/reports/{report['id']}/photos",
            data=photo,
            headers={"Content-Type": "image/png"},
        )
        assert added.status == 201, await added.text()
    assert (await added.json())["duplicates"] == [missing["id"]]
    [candidate] = (
        await (await officer.get(f"/api/children/reports/{missing['id']}/candidates")).json()
    )["candidates"]
    assert any(r.startswith("photo:") for r in candidate["reasons"]), candidate["reasons"]

    # Closed on the other process (confirmed there), it leaves this process's registry.
    other_officer: Client = TestClient(other.server)
    await other_officer.start_server()
    other_officer.session.cookie_jar.update_cookies(
        officer.session.cookie_jar.filter_cookies(officer.make_url("/"))
    )
    assert (await other_officer.post(f"/api/children/matches/{candidate['id']}/confirm")).ok
    await other_officer.session.close()
    again = await station.post("/api/children/found", json=found_body(clock()))
    assert (await again.json())["candidates"] == 0  # the missing report is matched already
