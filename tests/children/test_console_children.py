"""The console's Children view in real headless Chromium: during a child-line chat the
officer files a missing report on the contact; a station acknowledges the alert and files a
found report for its place on the field page;
the possible match appears on her console with its reasons; she confirms it, and the
handover checklist closes both reports and the case."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser
from sqlalchemy import select

from cases.models import Case
from children.models import ChildReport
from officers.models import Officer
from officers.passwords import hash_password
from tests.browser import browser
from tests.calls.test_call import DESKTOP, PASSWORD, PHONE, log_in, shoot
from tests.calls.test_wallboard import make_officer
from tests.children.conftest import GULBERG, Db, picture
from tests.support import FakeClock, copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def test_missing_found_matched_and_handed_over_on_the_console(
    client: Any, db: Db, browser: Browser, clock: FakeClock
) -> None:
    await make_officer(db, "LHR-C1", lines=["child"])
    her_context = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    her = await her_context.new_page()
    await her.goto(str(client.make_url("/")))
    console_context = await browser.new_context(
        viewport=DESKTOP,  # type: ignore[arg-type]
        timezone_id="UTC",
    )
    console = await console_context.new_page()
    problems: list[str] = []
    console.on("pageerror", lambda e: problems.append(str(e)))
    await console.goto(str(client.make_url("/console")))
    await log_in(console, "LHR-C1")
    await console.get_by_test_id("status-available").click()

    await her.get_by_test_id("service-child").click()
    await her.get_by_test_id("start-chat").click()
    await her.get_by_test_id("tracking-code").wait_for(state="visible")
    await console.get_by_test_id("offer").wait_for(state="visible")
    await console.get_by_test_id("accept").click()
    await console.get_by_test_id("call-view").wait_for(state="visible")

    # She files the missing report on the chat in hand.
    await console.get_by_test_id("children-missing-open").click()
    fill = {
        "children-missing-name-ur": "محمد علی",
        "children-missing-name-latin": "Muhammad Ali",
        "children-missing-parents": "Aslam",
        "children-missing-age": "7",
        "children-missing-height": "120",
        "children-missing-clothing": "blue shalwar kameez",
        "children-missing-marks": "scar above left eyebrow",
        "children-missing-languages": "Urdu, Punjabi",
        "children-missing-area": "Liberty market",
        "children-missing-guardian-name": "Nasreen Bibi",
        "children-missing-guardian-phone": "+923001234567",
    }
    for testid, value in fill.items():
        await console.get_by_test_id(testid).fill(value)
    seen = clock() - timedelta(hours=1)  # the server's clock is the test's
    await console.get_by_test_id("children-missing-seen-at").fill(seen.strftime("%Y-%m-%dT%H:%M"))
    await console.get_by_test_id("children-missing-gender").select_option("boy")
    await console.get_by_test_id("children-missing-district").select_option("lahore")
    await console.get_by_test_id("children-missing-photo").set_input_files(
        {"name": "ali.png", "mimeType": "image/png", "buffer": picture(40)}
    )
    await console.get_by_test_id("children-missing-submit").click()
    said = console.get_by_test_id("children-missing-said")
    await said.wait_for()
    assert "Tell the national agency by" in await said.inner_text(), await said.inner_text()
    assert "FIR" in await said.inner_text() and "The photo is kept." in await said.inner_text()

    async with db() as session:
        [missing] = list(await session.scalars(select(ChildReport)))
        assert missing.session_id is not None and missing.case_id is not None
        case_id = missing.case_id

    # A station finds the child and reports it for its place, on the field page.
    async with db() as session:
        session.add(
            Officer(
                badge="LHR-S1",
                name="Gulberg duty officer",
                role="station",
                place=GULBERG,
                gender="male",
                languages=["ur"],
                skills={},
                lines=[],
                password_hash=hash_password(PASSWORD),
            )
        )
        await session.commit()
    field_context = await browser.new_context(
        viewport=PHONE,  # type: ignore[arg-type]
        timezone_id="UTC",
    )
    field = await field_context.new_page()
    field.on("pageerror", lambda e: problems.append(str(e)))
    await field.goto(str(client.make_url("/field")))
    await field.get_by_test_id("field-badge").fill("LHR-S1")
    await field.get_by_test_id("field-password").fill(PASSWORD)
    await field.get_by_test_id("field-submit").click()
    await field.get_by_test_id("field-app").wait_for(state="visible")
    # The young child's alert reached the station: it acknowledges.
    await field.get_by_test_id("field-child-alert").filter(has_text="Muhammad Ali").wait_for()
    photo = field.get_by_test_id("field-child-alert-photo")
    await photo.wait_for()
    await field.wait_for_function(
        "() => document.querySelector('[data-testid=field-child-alert-photo]').naturalWidth > 0"
    )
    await field.get_by_test_id("field-child-alert-ack").click()
    await field.get_by_test_id("field-child-alert").wait_for(state="detached")
    await field.get_by_test_id("field-found-open").click()
    found_fields = {
        "field-found-names": "Mohammad Ali",
        "field-found-parents": "Muhammad Aslam",
        "field-found-age-min": "6",
        "field-found-age-max": "8",
        "field-found-height": "120",
        "field-found-clothing": "blue kameez",
        "field-found-marks": "scar on left eyebrow",
        "field-found-languages": "Urdu",
        "field-found-at": clock().strftime("%Y-%m-%dT%H:%M"),
        "field-found-area": "Gulberg main boulevard",
        "field-found-says": "My name is Ali, my father is Aslam.",
        "field-found-contact": "Duty officer, +924299990101",
    }
    for testid, value in found_fields.items():
        await field.get_by_test_id(testid).fill(value)
    await field.get_by_test_id("field-found-gender").select_option("boy")
    await field.get_by_test_id("field-found-submit").click()
    await field.get_by_test_id("field-found-said").filter(has_text="Filed.").wait_for()
    await shoot(field, "field-children-found")

    item = console.get_by_test_id("children-candidate-item")
    await item.wait_for(timeout=20_000)
    reasons = await console.get_by_test_id("children-candidate-reasons").inner_text()
    assert "name:" in reasons
    await console.get_by_test_id("children-panel").scroll_into_view_if_needed()
    await shoot(console, "console-children-candidate")
    await console.get_by_test_id("children-candidate-confirm").click()
    await console.get_by_test_id("children-handover").wait_for(state="visible")

    # An incomplete checklist is refused with the reason; then done properly.
    await console.get_by_test_id("children-handover-place").fill("Gulberg police station")
    await console.get_by_test_id("children-handover-officers").fill("SI Rabia, ASI Kamran")
    await console.get_by_test_id("children-handover-guardian").fill("Nasreen Bibi")
    await console.get_by_test_id("children-check-safe").check()
    await console.get_by_test_id("children-handover-submit").click()
    await (
        console.get_by_test_id("children-handover-said")
        .filter(has_text="guardian id seen")
        .wait_for()
    )
    for testid in (
        "children-check-guardian-id",
        "children-check-relation",
        "children-check-recognises",
    ):
        await console.get_by_test_id(testid).check()
    await console.get_by_test_id("children-handover-submit").click()
    await (
        console.get_by_test_id("children-candidates-said")
        .filter(has_text="Both reports and the case are closed")
        .wait_for()
    )

    async with db() as session:
        statuses = {
            r.kind: (r.status, r.outcome) for r in await session.scalars(select(ChildReport))
        }
        case = await session.get(Case, case_id)
    assert statuses == {"missing": ("closed", "reunited"), "found": ("closed", "reunited")}
    assert case is not None and case.status == "closed"
    assert problems == []
    await her_context.close()
    await console_context.close()
    await field_context.close()
