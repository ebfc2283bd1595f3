"""The /track page in headless Chromium: status, PIN timeline, Urdu, quick exit, no trail.

The quick exit's destination is answered by the browser itself (a Playwright
route), so nothing leaves loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.browser import browser
from tests.cases.test_tracking import OPENED, Client, Db, add_event, make_case
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]

EXIT = "https://www.google.com/"


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the page behaves the same on either database, and browsers are slow."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def open_track(browser: Browser, client: Client) -> tuple[Page, list[str]]:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await page.route(EXIT + "**", lambda route: route.fulfill(body="elsewhere"))
    await page.goto(str(client.make_url("/track")))
    return page, problems


async def storage_used(page: Page) -> Any:
    return await page.evaluate(
        "() => [localStorage.length, sessionStorage.length, document.cookie]"
    )


async def test_she_sees_her_status_and_timeline_in_english_and_urdu(
    client: Client, db: Db, browser: Browser
) -> None:
    case = await make_case(db, pin="2468", status="in_progress")
    await add_event(
        db, "case.opened", visible=True, at=OPENED, case=case, data={"x": "Officer Secret"}
    )
    await add_event(db, "case.note_added", visible=False, at=OPENED, case=case)
    page, problems = await open_track(browser, client)
    code = case.tracking_code

    await page.fill("[data-testid=code]", f"{code[:4]} {code[4:8]} {code[8:]}")
    await page.click("[data-testid=track]")
    await page.wait_for_selector("[data-testid=result]:not([hidden])")
    assert await page.text_content("[data-testid=status]") == "In progress"
    assert not await page.is_visible("[data-testid=timeline]")

    await page.fill("[data-testid=code]", code)
    await page.fill("[data-testid=pin]", "2468")
    await page.click("[data-testid=track]")
    await page.wait_for_selector("[data-testid=timeline] li")
    items = await page.locator("[data-testid=timeline] li span").all_text_contents()
    assert items == ["Your case was opened."]
    assert await page.input_value("[data-testid=pin]") == ""  # the PIN is not left in the form

    await page.click("[data-testid=language] [data-lang=ur]")
    assert await page.evaluate("() => [document.documentElement.lang, document.dir]") == [
        "ur",
        "rtl",
    ]
    assert await page.text_content("[data-testid=status]") == "جاری"
    assert await page.locator("[data-testid=timeline] li span").all_text_contents() == [
        "آپ کا کیس درج ہوا۔"
    ]
    # Urdu digits typed on an Urdu keyboard are the same code.
    urdu = "".join(chr(0x06F0 + int(d)) for d in "123456789012")
    await page.fill("[data-testid=code]", urdu)
    await page.click("[data-testid=track]")
    await page.wait_for_selector("[data-testid=message]:not([hidden])")
    assert "کوئی کیس نہیں ملا" in (await page.text_content("[data-testid=message]") or "")
    assert await storage_used(page) == [0, 0, ""]
    assert problems == []


async def test_quick_exit_leaves_no_way_back(client: Client, browser: Browser) -> None:
    for leave in ("button", "escape"):
        page, _ = await open_track(browser, client)
        assert await page.is_visible("[data-testid=quick-exit]")
        sent: list[str] = []
        page.on("request", lambda r, sent=sent: sent.append(r.url) if "/api/" in r.url else None)
        await page.fill("[data-testid=code]", "1234 5678")
        await page.click("[data-testid=track]")  # too short: caught before it is sent
        await page.wait_for_selector("[data-testid=message]:not([hidden])")
        assert await page.text_content("[data-testid=message]") == (
            "A case number has 12 digits. Please check it."
        )
        assert sent == []
        length = await page.evaluate("() => history.length")
        if leave == "button":
            await page.click("[data-testid=quick-exit]")
        else:
            await page.keyboard.press("Escape")
            await page.keyboard.press("Escape")
        await page.wait_for_url(EXIT)
        assert await page.evaluate("() => history.length") == length  # replaced, not added
        await page.go_back()
        assert "/track" not in page.url  # Back does not return to the tracking page
