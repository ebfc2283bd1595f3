"""The console pages in real headless Chromium: pushed offers, her pushed place, the case
panel and the supervisors' wallboard.

Nothing polls: the console reads its Server-Sent Events, the citizen page her ``queue``
notices; the tests watch every request the pages make to prove it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case, CaseNote, ContactSession
from officers.models import Officer
from officers.passwords import hash_password
from tests.browser import browser
from tests.calls.test_call import DESKTOP, PASSWORD, PHONE, log_in, shoot
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]

Db = async_sessionmaker[AsyncSession]

NOTICES = """
window.__notices = [];
if (window.Notification) {
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) { super(title, options); window.__notices.push(title); }
  };
  Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
}
"""
"""Records each system notification the page shows (the real one is still shown)."""


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the pages behave the same on either database, and browsers are slow."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def make_officer(
    db: Db,
    badge: str,
    *,
    role: str = "officer",
    gender: str = "female",
    lines: list[str] | None = None,
) -> Officer:
    async with db() as session:
        officer = Officer(
            badge=badge,
            name=f"Officer {badge}",
            role=role,
            gender=gender,
            languages=["ur", "en"],
            skills={},
            lines=lines or ["women", "child"],
            password_hash=hash_password(PASSWORD),
        )
        session.add(officer)
        await session.commit()
        return officer


class Watched:
    """A page and every request it made."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.requests: list[tuple[str, str]] = []
        self.problems: list[str] = []
        page.on("request", self._request)
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on(
            "console",
            lambda m: self.problems.append(m.text) if "Content Security Policy" in m.text else None,
        )

    def _request(self, request: Request) -> None:
        self.requests.append((request.method, request.url))

    def asked(self, pattern: str, method: str = "GET") -> list[str]:
        return [url for m, url in self.requests if m == method and re.search(pattern, url)]


async def open_page(
    browser: Browser, url: str, viewport: dict[str, int], notifications: bool = False
) -> Watched:
    context = await browser.new_context(viewport=viewport, locale="en-GB")  # type: ignore[arg-type]
    if notifications:
        await context.grant_permissions(["notifications"])
        await context.add_init_script(NOTICES)
    page = await context.new_page()
    watched = Watched(context, page)
    await page.goto(url)
    return watched


async def test_an_offer_rings_by_push_in_a_background_tab_and_her_place_is_pushed(
    client: Any, db: Db, browser: Browser
) -> None:
    await make_officer(db, "LHR-401")
    console = await open_page(browser, str(client.make_url("/console")), DESKTOP, True)
    await log_in(console.page, "LHR-401")
    first = await open_page(browser, str(client.make_url("/")), PHONE)
    second = await open_page(browser, str(client.make_url("/")), PHONE)

    # Two women wait; each sees her own place, pushed on her socket.
    await first.page.get_by_test_id("start-chat").click()
    await first.page.get_by_test_id("queue-position").filter(has_text="1").wait_for()
    await second.page.get_by_test_id("start-chat").click()
    await second.page.get_by_test_id("queue-position").filter(has_text="2").wait_for()
    # The first leaves: the second moves up without asking.
    await first.page.get_by_test_id("hangup").click()
    await first.page.get_by_test_id("hangup-confirm").click()  # End asks first
    await second.page.get_by_test_id("queue-position").filter(has_text="1").wait_for()
    figures = console.page.get_by_test_id("queue-figures")
    await figures.filter(has_text="Women's line: 1 waiting").wait_for()

    # She goes available: the offer is pushed and rings. (Headless Chromium keeps every tab
    # "visible", so a background tab cannot be made here; the ring does not depend on the
    # tab: a system notification, and a tone scheduled on the audio clock, not on timers.)
    await console.page.get_by_test_id("status-available").click()
    offer = console.page.get_by_test_id("offer")
    await offer.wait_for(state="visible")
    assert "Text chat" in (await offer.text_content() or "")
    assert await console.page.evaluate("() => window.__notices") == [
        "safecall: a contact is ringing"
    ]
    # The ring: a tone scheduled on a running audio clock for the whole offer.
    assert await console.page.evaluate("() => window.safecallCall.tone.context.state") == "running"
    assert (await console.page.title()).startswith("Ringing")
    await second.page.locator("#call-state").filter(has_text="officer").wait_for()

    await console.page.get_by_test_id("accept").click()
    await console.page.get_by_test_id("call-view").wait_for(state="visible")
    assert await console.page.evaluate("() => window.safecallCall.tone") is None
    assert not (await console.page.title()).startswith("Ringing")

    # Nothing polled: no page asked where it stood.
    assert console.asked(r"/api/queues/(me|stats)$") == []
    assert console.asked(r"/api/console/events$")  # the push stream
    for citizen in (first, second):
        assert citizen.asked(r"/api/contacts/[^/]+$") == []
    for watched in (console, first, second):
        assert watched.problems == []
        await watched.context.close()


async def test_the_case_panel_sets_category_adds_notes_and_links_cases(
    client: Any, db: Db, browser: Browser
) -> None:
    officer = await make_officer(db, "LHR-501")
    citizen = await open_page(browser, str(client.make_url("/")), PHONE)
    console = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await log_in(console.page, "LHR-501")
    await console.page.get_by_test_id("status-available").click()
    await citizen.page.get_by_test_id("start-chat").click()
    await citizen.page.get_by_test_id("tracking-code").wait_for(state="visible")
    code = (await citizen.page.get_by_test_id("tracking-code").text_content() or "").strip()
    assert len(code.replace(" ", "")) == 12
    await console.page.get_by_test_id("accept").click()
    page = console.page
    await page.get_by_test_id("case-code").filter(has_text=code).wait_for()
    # read (answering moved it from new to in progress)
    await page.get_by_test_id("case-current").filter(has_text="in progress").wait_for()
    session_id = await citizen.page.evaluate("() => window.safecallCall.id")

    await page.get_by_test_id("case-category").select_option("domestic_violence")
    await page.get_by_test_id("case-category-save").click()
    await page.get_by_test_id("case-category-said").filter(has_text="Category set.").wait_for()
    await page.get_by_test_id("case-note-input").fill("She is safe at her sister's house tonight.")
    await page.get_by_test_id("case-note-add").click()
    await page.get_by_test_id("case-note-item").filter(has_text="sister").wait_for()
    await page.get_by_test_id("case-status").select_option("fir_registered")
    await page.get_by_test_id("fir-number").fill("88/2026")
    await page.get_by_test_id("police-station").fill("Gulberg")
    await page.get_by_test_id("case-save").click()
    await page.get_by_test_id("case-current").filter(has_text="fir registered").wait_for()
    await page.locator("#case-switch summary").click()
    await shoot(page, "console-desktop-case")
    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    await shoot(page, "console-phone-case")
    await page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]

    # A new case for this contact, then back to her first case by its tracking code.
    await page.get_by_test_id("case-new").click()
    said = page.get_by_test_id("case-switch-said")
    await said.filter(has_text="New case opened").wait_for()
    new_code = (await page.get_by_test_id("case-code").text_content() or "").strip()
    assert new_code != code and new_code in (await said.text_content() or "")
    await page.get_by_test_id("case-link-code").fill("12")
    await page.get_by_test_id("case-link").click()
    await said.filter(has_text="12 digits").wait_for()
    await page.get_by_test_id("case-link-code").fill(code)
    await page.get_by_test_id("case-link").click()
    await page.get_by_test_id("case-code").filter(has_text=code).wait_for()
    await page.get_by_test_id("case-note-item").filter(has_text="sister").wait_for()  # her notes

    async with db() as session:
        contact = await session.get(ContactSession, session_id)
        assert contact is not None
        case = await session.get(Case, contact.case_id)
        assert case is not None
        assert case.tracking_code == code.replace(" ", "")
        assert case.category == "domestic_violence"
        assert case.status == "fir_registered" and case.fir_number == "88/2026"
        notes = list(
            (await session.execute(select(CaseNote).where(CaseNote.case_id == case.id))).scalars()
        )
        assert [n.officer_id for n in notes] == [officer.id]
        opened = await session.scalar(
            select(Case).where(Case.tracking_code == new_code.replace(" ", ""))
        )
        assert opened is not None and opened.assigned_officer_id == officer.id
    for watched in (console, citizen):
        assert watched.problems == []
        await watched.context.close()


async def test_the_wallboard_shows_a_supervisor_lines_alarms_and_officers(
    client: Any, db: Db, browser: Browser
) -> None:
    await make_officer(db, "SUP-1", role="supervisor")
    await make_officer(db, "LHR-601", gender="male", lines=["women", "child"])
    await make_officer(db, "LHR-602", lines=["women"])
    board = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await log_in(board.page, "SUP-1")
    await board.page.get_by_test_id("wallboard-link").click()
    page = board.page
    await page.wait_for_url("**/console/wallboard")
    await page.get_by_test_id("wallboard-live").filter(has_text="Live").wait_for()
    await page.get_by_test_id("line-women").wait_for()
    assert await page.get_by_test_id("alarm").count() == 0

    # Only a man is on duty when a woman starts a contact: the alarm is raised at once.
    man = await open_page(browser, str(client.make_url("/console")), PHONE)
    await log_in(man.page, "LHR-601")
    await man.page.get_by_test_id("status-available").click()
    row = page.locator("[data-testid=officer-row]", has_text="LHR-601")
    await row.get_by_test_id("officer-state").filter(has_text="Available").wait_for()
    citizen = await open_page(browser, str(client.make_url("/")), PHONE)
    await citizen.page.get_by_test_id("start-chat").click()
    alarm = page.get_by_test_id("alarm")
    await alarm.filter(has_text="no female officer").wait_for()
    women = page.get_by_test_id("line-women")
    await women.locator("[data-field=waiting]").filter(has_text="1").wait_for()
    assert "alarm" in (await women.get_attribute("class") or "")
    await shoot(page, "wallboard-desktop-alarm")

    # A woman comes on duty: the contact rings for her, the alarm clears.
    woman = await open_page(browser, str(client.make_url("/console")), PHONE)
    await log_in(woman.page, "LHR-602")
    await woman.page.get_by_test_id("status-available").click()
    await woman.page.get_by_test_id("offer").wait_for(state="visible")
    await alarm.wait_for(state="detached")
    row = page.locator("[data-testid=officer-row]", has_text="LHR-602")
    await row.get_by_test_id("officer-state").filter(has_text="Ringing").wait_for()
    await women.locator("[data-field=waiting]").filter(has_text="0").wait_for()
    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    await shoot(page, "wallboard-phone")
    await page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    await shoot(page, "wallboard-desktop")
    assert board.asked(r"/api/(queues|wallboard)/") == [
        str(client.make_url("/api/wallboard/events"))
    ]
    for watched in (board, man, woman, citizen):
        assert watched.problems == []
        await watched.context.close()


async def test_an_officer_is_kept_off_the_wallboard(client: Any, db: Db, browser: Browser) -> None:
    await make_officer(db, "LHR-701")
    console = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await log_in(console.page, "LHR-701")
    assert await console.page.get_by_test_id("wallboard-link").is_hidden()
    response = await console.page.goto(str(client.make_url("/console/wallboard")))
    assert response is not None and response.status == 200
    # The page is only a frame: its feed refuses her, and the page says why.
    refusal = console.page.get_by_test_id("wallboard-message")
    await refusal.filter(has_text="for supervisors").wait_for()
    assert await console.page.get_by_test_id("wallboard-officers").is_hidden()
    await console.context.close()


async def test_while_the_push_is_down_the_console_asks_slowly(
    client: Any, db: Db, browser: Browser
) -> None:
    await make_officer(db, "LHR-801")
    console = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await console.page.route("**/api/console/events", lambda route: route.abort())
    await log_in(console.page, "LHR-801")
    await console.page.get_by_test_id("status-available").click()
    await console.page.get_by_test_id("status-text").filter(has_text="Available").wait_for()
    asked = len(console.asked(r"/api/queues/me$"))
    assert asked >= 1  # once as soon as the push failed

    citizen = await open_page(browser, str(client.make_url("/")), PHONE)
    await citizen.page.get_by_test_id("start-chat").click()
    # The next slow ask (every 15 s) finds the offer.
    await console.page.get_by_test_id("offer").wait_for(state="visible", timeout=25_000)
    assert len(console.asked(r"/api/queues/me$")) > asked
    for watched in (console, citizen):
        await watched.context.close()
