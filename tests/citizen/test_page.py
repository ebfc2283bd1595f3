"""The citizen pages on a 390×844 phone in headless Chromium, as a frightened woman uses them.

Urdu first; one tap to the line; the questions while she waits; the officer comes; End
asks first; a PIN and what happens next. The quick exit covers the page at once, tells
the officer, and leaves no way Back, from / and from /track. An engine without
``replaceChildren`` (a WebView before Chrome 86) still works. Every state is looked at in
Urdu, Punjabi and English (``tests/citizen/look.py``: screens, axe-core, tap targets).

Run in a loopback-only namespace:
``scripts/in-netns.sh .venv/bin/pytest -m browser tests/citizen``.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case, ContactSession
from tests.browser import ARTIFACTS, browser
from tests.calls.test_call import DESKTOP, log_in, make_officer, open_page
from tests.cases.test_tracking import OPENED, add_event, make_case
from tests.citizen.look import PHONE, look
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]

Db = async_sessionmaker[AsyncSession]
EXIT = "https://www.google.com/"
BEFORE = "https://news.example.org/"
"""Where she was before she opened the helpline (a page the browser answers itself)."""
NO_STORAGE = "() => [localStorage.length, sessionStorage.length, document.cookie]"


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the pages behave the same on either database, and browsers are slow."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def her_phone(
    browser: Browser, locale: str, *, init: str | None = None
) -> tuple[BrowserContext, Page, list[str]]:
    """A phone-sized page whose browser speaks ``locale``; the page's script errors."""
    context = await browser.new_context(viewport=PHONE, locale=locale)  # type: ignore[arg-type]
    if init:
        await context.add_init_script(init)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await page.route(BEFORE, lambda route: route.fulfill(body="<p>news</p>"))
    return context, page, problems


async def test_urdu_first_one_tap_to_the_line_questions_while_waiting_and_after(
    client: Any, db: Db, browser: Browser
) -> None:
    await make_officer(db, "LHR-501")
    # A browser in a language we do not speak: Urdu (unsure means Urdu).
    context, page, problems = await her_phone(browser, "fr-FR")
    await page.goto(str(client.make_url("/")))
    assert await page.evaluate("() => [document.documentElement.lang, document.dir]") == [
        "ur",
        "rtl",
    ]
    assert await page.get_by_test_id("start-chat").inner_text() == "لکھ کر بات"
    await look(page, "start")

    # One tap: she is in line; nothing was asked before.
    await page.get_by_test_id("start-chat").click()
    await page.get_by_test_id("queue-position").filter(has_text="1").wait_for()
    await page.get_by_test_id("wait-estimate").filter(has_text="15").wait_for()  # no officer
    assert await page.get_by_test_id("keep-open").is_visible()
    await look(page, "waiting")

    # The questions, one at a time, each on her contact as she answers it.
    assert await page.get_by_test_id("category").is_visible()
    assert not await page.get_by_test_id("district").is_visible()
    await page.get_by_test_id("category").select_option("harassment")
    await page.get_by_test_id("question-next").click()
    await page.get_by_test_id("district").wait_for(state="visible")
    await page.get_by_test_id("answers-said").filter(has_text="افسر کو بتا دیا").wait_for()
    await page.get_by_test_id("question-skip").click()  # district
    await page.get_by_test_id("question-skip").click()  # language
    await page.get_by_test_id("name").fill("عائشہ")
    await page.get_by_test_id("question-next").click()
    await page.get_by_test_id("phone").wait_for(state="visible")
    await look(page, "question-phone", at="[data-testid=question-next]")
    await page.get_by_test_id("question-skip").click()
    await page.get_by_test_id("questions").wait_for(state="hidden")
    session_id = await page.evaluate("() => window.safecallCall.id")
    async with db() as session:
        contact = await session.get(ContactSession, session_id)
        assert contact is not None
        case = await session.get(Case, contact.case_id)
    assert case is not None and (case.category, case.anonymous) == ("harassment", False)

    # The officer comes: her page says so; they write.
    console_ctx, console, _ = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await log_in(console, "LHR-501")
    await console.get_by_test_id("status-available").click()
    await console.get_by_test_id("accept").click()
    await page.locator("#call-state").filter(has_text="افسر آپ سے بات کر رہی ہیں").wait_for()
    await page.get_by_test_id("chat-input").fill("مجھے مدد چاہیے")
    await page.get_by_test_id("chat-send").click()
    await console.get_by_text("مجھے مدد چاہیے").wait_for()
    await look(page, "chat")

    # End asks first; "No" goes on; "Yes" ends.
    await page.get_by_test_id("hangup").click()
    await page.get_by_test_id("end-confirm").wait_for(state="visible")
    await look(page, "end-confirm", at="[data-testid=end-confirm]")
    await page.get_by_test_id("hangup-cancel").click()
    await page.get_by_test_id("hangup").click()
    await page.get_by_test_id("hangup-confirm").click()
    await page.locator("#ended").wait_for(state="visible")
    assert "افسر" in (await page.get_by_test_id("what-next").inner_text())
    await page.get_by_test_id("copy-code").click()
    await page.locator("#copy-said").filter(has_text="کاپی").wait_for()
    await page.get_by_test_id("pin-input").fill("2468")
    await page.get_by_test_id("pin-save").click()
    await page.get_by_test_id("pin-said").filter(has_text="پن رکھ لیا گیا").wait_for()
    await look(page, "ended", at="[data-testid=pin-said]")
    assert await page.evaluate(NO_STORAGE) == [0, 0, ""]
    assert problems == []
    await console.get_by_test_id("wrapup-done").click()
    await console_ctx.close()
    await context.close()


WATCH_COVER = """() => {
  const check = () => {
    const seen = window.safecallExit;
    if (!seen || !seen.covered) { requestAnimationFrame(check); return; }
    const cover = document.querySelector("[data-testid=exit-cover]");
    window.reportExit({ tapped: seen.tapped, covered: seen.covered,
                        cover: Boolean(cover) && getComputedStyle(cover).display !== "none",
                        code: document.querySelector("[data-testid=tracking-code]").textContent });
  };
  check();
}"""
"""Reports (through a binding: a page that is navigating evaluates nothing more) when the
quick exit was tapped and its cover painted (performance.now()), whether the cover is on
and what is left of her code, in the frame that paints the cover."""


async def held_exit(page: Page) -> asyncio.Event:
    """The neutral site answers only once the test lets it (the page is seen meanwhile)."""
    release = asyncio.Event()

    async def answer(route: Route) -> None:
        await release.wait()
        await route.fulfill(body="elsewhere")

    await page.route(EXIT + "**", answer)
    return release


async def test_quick_exit_covers_at_once_tells_the_officer_and_leaves_no_way_back(
    client: Any, db: Db, browser: Browser
) -> None:
    await make_officer(db, "LHR-502")
    context, page, problems = await her_phone(browser, "en-GB")
    release = await held_exit(page)
    await page.goto(BEFORE)
    await page.goto(str(client.make_url("/")))
    await page.get_by_test_id("start-chat").click()
    await page.get_by_test_id("queue-position").filter(has_text="1").wait_for()
    console_ctx, console, _ = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await log_in(console, "LHR-502")
    await console.get_by_test_id("status-available").click()
    await console.get_by_test_id("accept").click()
    await page.locator("#call-state").filter(has_text="talking to an officer").wait_for()
    # Scrolled down, Call 15 and Quick exit are both on screen and apart.
    await page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    boxes = [await page.get_by_test_id(hook).bounding_box() for hook in ("call-15", "quick-exit")]
    assert all(b is not None and b["y"] >= 0 and b["height"] >= 44 for b in boxes)
    call15, leave = boxes
    assert call15 is not None and leave is not None
    assert call15["x"] + call15["width"] <= leave["x"] or leave["x"] + leave["width"] <= call15["x"]

    # The tap: the page is covered before the exit site has even answered.
    reported: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def report(seen: dict[str, Any]) -> None:
        if not reported.done():
            reported.set_result(seen)

    await page.expose_function("reportExit", report)
    await page.evaluate(WATCH_COVER)
    await page.get_by_test_id("quick-exit").click(no_wait_after=True)
    seen = await asyncio.wait_for(reported, 10)
    figure = seen["covered"] - seen["tapped"]
    assert figure <= 100, f"the cover took {figure:.0f} ms"
    assert seen["cover"] and seen["code"] == ""  # covered, and her code is gone
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "citizen-quick-exit-ms.txt").write_text(f"{figure:.1f}\n")
    release.set()
    await page.wait_for_url(EXIT)
    # The officer is told she left by quick exit, not that the line dropped.
    await console.get_by_test_id("left-by-quick-exit").wait_for(state="visible")
    assert "quick exit" in (await console.get_by_test_id("call-state").inner_text())
    await page.go_back()
    assert page.url == BEFORE  # Back skips the helpline

    # From /track (opened from the help page): the same, one history entry for the site.
    await page.goto(BEFORE)
    await page.goto(str(client.make_url("/")))
    length = await page.evaluate("() => history.length")
    await page.get_by_test_id("page-language").locator("[data-lang=pa]").click()
    await page.get_by_test_id("track-link").click()
    await page.wait_for_url("**/track?lang=pa")  # her choice goes along (nothing stored)
    assert await page.evaluate("() => document.documentElement.lang") == "pa"
    assert await page.evaluate("() => history.length") == length  # replaced, not added
    # (the gesture this time: three quick taps on a part of the page that is no control)
    for _ in range(3):
        await page.locator("h1").click(no_wait_after=True)
    await page.wait_for_url(EXIT)
    await page.go_back()
    assert page.url == BEFORE
    assert problems == []
    await console_ctx.close()
    await context.close()


OLD_ENGINE = """
delete Element.prototype.replaceChildren;
delete Document.prototype.replaceChildren;
delete DocumentFragment.prototype.replaceChildren;
delete Promise.prototype.finally;
"""
"""What a WebView before Chrome 86 lacks (and Promise.finally, before 63)."""


async def test_an_old_engine_starts_a_contact_and_tracks_a_case_in_every_language(
    client: Any, db: Db, browser: Browser
) -> None:
    started = await client.post("/api/contacts", json={"service_line": "women", "channel": "chat"})
    code = (await started.json())["tracking_code"]
    in_court = await make_case(db, pin="2468", status="in_trial")
    for day, to in enumerate(("in_progress", "fir_registered", "challan_submitted", "in_trial")):
        at = OPENED + timedelta(days=day + 1)
        data = {"from": "x", "to": to}
        await add_event(db, "case.status", visible=True, at=at, case=in_court, data=data)
    context, page, problems = await her_phone(browser, "ur-PK", init=OLD_ENGINE)
    await page.goto(str(client.make_url("/")))
    assert await page.evaluate("() => typeof Element.prototype.replaceChildren") == "undefined"
    await page.get_by_test_id("start-audio").click()
    # In line (behind the contact started above, or first once that one's page never came).
    await page.get_by_test_id("queue-position").filter(has_text=re.compile("[0-9]")).wait_for()

    track = await context.new_page()
    track.on("pageerror", lambda e: problems.append(str(e)))
    await track.goto(str(client.make_url("/track")))
    assert await track.evaluate("() => document.documentElement.lang") == "ur"
    await look(track, "form", prefix="track")
    await track.fill("[data-testid=code]", "1234")
    await track.click("[data-testid=track]")
    await track.wait_for_selector("[data-testid=message]:not([hidden])")
    await look(track, "error", prefix="track", at="[data-testid=message]")
    await track.fill("[data-testid=code]", code)
    await track.click("[data-testid=track]")
    await track.wait_for_selector("[data-testid=result]:not([hidden])")
    assert await track.text_content("[data-testid=status]") == "موصول"
    await look(track, "result", prefix="track", at="[data-testid=result]")
    # With her PIN: the stages her case went through, with their dates, in her language.
    await track.fill("[data-testid=code]", in_court.tracking_code)
    await track.fill("[data-testid=pin]", "2468")
    await track.click("[data-testid=track]")
    await track.wait_for_selector("[data-testid=stages] li")
    stages = await track.locator("[data-testid=stages] li strong").all_text_contents()
    assert stages == [
        "شکایت مل گئی",
        "افسر کام کر رہی ہیں",
        "ایف آئی آر درج",
        "چالان عدالت میں",
        "عدالت میں مقدمہ",
    ]
    await look(track, "stages", prefix="track", at="[data-testid=stages]")
    hide = await context.new_page()
    await hide.goto(str(client.make_url("/hide")))
    await look(hide, "page", prefix="hide")
    assert problems == []
    await context.close()
