"""The field page on a phone in real headless Chromium: a referral rings, is acknowledged,
a unit is sent, steps are reported with a photo, and her live location moves on a map drawn
from a local tile server (a stand-in for the configured one)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import ContactSession
from safecall.settings import Settings
from tests.browser import browser
from tests.calls.test_call import PASSWORD, PHONE, shoot
from tests.calls.test_wallboard import make_officer, open_page
from tests.referrals.conftest import GULBERG, INSIDE_GULBERG, Login
from tests.referrals.test_referrals import PNG
from tests.referrals.tiles import TileServer
from tests.support import FakeClock, copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]

Db = async_sessionmaker[AsyncSession]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


@pytest.fixture
def tile_server() -> TileServer:
    return TileServer()


@pytest.fixture
def settings(settings: Settings, tile_server: TileServer) -> Settings:
    return dataclasses.replace(settings, map_tiles=tile_server.template)


@pytest.fixture
async def tiles(tile_server: TileServer) -> AsyncIterator[TileServer]:
    await tile_server.start()
    yield tile_server
    await tile_server.close()


async def test_a_station_works_a_referral_on_a_phone(
    client: Any,
    db: Db,
    browser: Browser,
    login_as: Login,
    tiles: TileServer,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    # She writes from the citizen page, sharing where she is.
    her = await client.post(
        "/api/contacts",
        json={"service_line": "women", "channel": "chat", "location": INSIDE_GULBERG},
    )
    assert her.status == 201
    contact = await her.json()
    async with db() as session:
        found = await session.get(ContactSession, contact["session_id"])
        assert found is not None
        case_id = found.case_id
    centre, _ = await login_as("officer")
    made = await centre.post(
        "/api/referrals",
        json={
            "case_id": case_id,
            "session_id": contact["session_id"],
            "place": GULBERG,
            "urgency": "emergency",
            "reason": "She cannot speak: her husband is in the next room. Knock as a neighbour.",
            "live_location": True,
        },
    )
    assert made.status == 201, await made.text()

    await make_officer(db, "PS-GUL-1", role="station", lines=[])
    async with db() as session:
        from sqlalchemy import update

        from officers.models import Officer

        await session.execute(
            update(Officer).where(Officer.badge == "PS-GUL-1").values(place=GULBERG)
        )
        await session.commit()

    phone = await open_page(browser, str(client.make_url("/field")), PHONE)
    page = phone.page
    await page.get_by_test_id("field-badge").fill("PS-GUL-1")
    await page.get_by_test_id("field-password").fill(PASSWORD)
    await page.get_by_test_id("field-submit").click()
    await page.get_by_test_id("field-place").filter(has_text="Gulberg police station").wait_for()
    await page.get_by_test_id("field-ring").filter(has_text="Emergency referral").wait_for()
    await page.get_by_test_id("referral-card").first.wait_for()
    await shoot(page, "field-list-ringing")

    await page.get_by_test_id("referral-card").first.click()
    await page.get_by_test_id("referral-reason").filter(has_text="Knock as a neighbour").wait_for()
    await page.get_by_test_id("map-marker").wait_for()
    assert await page.get_by_test_id("map-tile").count() >= 2
    await page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=map-tile]')]"
        ".every(img => img.complete && img.naturalWidth === 256)"
    )
    assert tiles.asked and all(z == 16 for z, _, _ in tiles.asked)
    await page.get_by_test_id("ack").click()
    await page.get_by_test_id("referral-status").filter(has_text="Acknowledged").wait_for()
    await page.get_by_test_id("field-ring").wait_for(state="hidden")

    await page.get_by_test_id("dispatch-unit").fill("Dolphin 12")
    await page.get_by_test_id("dispatch").click()
    await page.get_by_test_id("referral-status").filter(has_text="Unit sent").wait_for()

    # She moves; the next look shows where she is now.
    before = await page.get_by_test_id("location-text").text_content()
    clock.advance(10)
    moved = await client.post(
        f"/api/contacts/{contact['session_id']}/location",
        json={"latitude": 31.5210, "longitude": 74.3555, "accuracy": 15},
        headers={"Authorization": f"Bearer {contact['token']}"},
    )
    assert (await moved.json())["updates"] >= 1
    await page.get_by_test_id("location-text").filter(has_text="31.52100, 74.35550").wait_for()
    assert before and "31.51500" in before
    await shoot(page, "field-referral-live-map")

    photo = tmp_path / "scene.png"
    photo.write_bytes(PNG)
    await page.get_by_test_id("photo-input").set_input_files(str(photo))
    await page.get_by_test_id("photo-said").filter(has_text="1 photo ready").wait_for()
    await page.get_by_test_id("step-note").fill("Reached the street.")
    await page.get_by_test_id("step-en_route").click()
    await page.get_by_test_id("referral-status").filter(has_text="En route").wait_for()
    await page.get_by_test_id("step-on_scene").click()
    await page.get_by_test_id("referral-status").filter(has_text="On scene").wait_for()
    await page.get_by_test_id("step-note").fill("She is safe at her sister's.")
    await page.get_by_test_id("step-resolved").click()
    await page.get_by_test_id("referral-status").filter(has_text="Resolved").wait_for()
    await page.get_by_test_id("field-map").wait_for(state="hidden")
    updates = await page.get_by_test_id("referral-updates").text_content()
    assert updates is not None and "Reached the street. (1 photo)" in updates
    await shoot(page, "field-referral-resolved")
    assert phone.problems == []
    await phone.context.close()
