"""The officer console built for volume, in headless Chromium (issue 15).

Three pages of citizens and two consoles on one server: three chats held at once, an
offer rung and accepted during a chat, unread counts, ready replies, a transfer to a
colleague; a call whose ICE cannot connect said in words and carried on in chat; the
case worked to its outcome in the wrap-up and shown on /track; live location on a map
from a local tile server; the case found and opened from the list, reassigned; the
reports page's figures equal to the reports API. Each console state is looked at
(``look``: screenshots at 1366×768 and 1920×1080, axe-core with zero serious or
critical violations).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case
from cases.tracking_code import check_digit
from officers.models import Officer
from officers.passwords import hash_password
from safecall.settings import Settings
from tests.browser import browser
from tests.calls.look import LAPTOP, look
from tests.calls.media import media_flows
from tests.calls.test_call import PASSWORD, PHONE, log_in, wait_for_end
from tests.support import FakeClock, copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]

Db = async_sessionmaker[AsyncSession]
LAHORE = {"latitude": 31.5204, "longitude": 74.3587, "accuracy": 40}


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the pages behave the same on either database, and browsers are slow."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


def png(width: int = 256, height: int = 256, rgb: tuple[int, int, int] = (226, 221, 208)) -> bytes:
    """A plain PNG tile, made here (the tests reach no tile server but their own)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def tiles() -> AsyncIterator[list[str]]:
    """A local stand-in for the tile server: serves one PNG for every tile, logs each asked."""
    asked: list[str] = []
    tile = png()

    async def serve(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(body=tile, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{z}/{x}/{y}.png", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    asked.insert(0, f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png")
    yield asked
    await runner.cleanup()


@pytest.fixture
def settings(settings: Settings, tiles: list[str]) -> Settings:
    """The suite's settings, with the console's map tiles from the local stand-in."""
    return dataclasses.replace(settings, map_tiles=tiles[0], map_attribution="Test tiles")


async def officer(db: Db, badge: str, role: str = "officer") -> Officer:
    async with db() as session:
        row = Officer(
            badge=badge,
            name=f"Officer {badge}",
            role=role,
            gender="female",
            languages=["ur", "en"],
            skills={},
            lines=["women", "child"],
            password_hash=hash_password(PASSWORD),
        )
        session.add(row)
        await session.commit()
        return row


class Pages:
    """Browser contexts opened by a test, each page's script errors kept; all closed after."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base
        self.contexts: list[BrowserContext] = []
        self.problems: list[str] = []

    async def open(self, path: str, viewport: dict[str, int], **options: Any) -> Page:
        context = await self.browser.new_context(viewport=viewport, locale="en-GB", **options)  # type: ignore[arg-type]
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on(
            "console",
            lambda m: self.problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        await page.goto(self.base + path)
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def pages(browser: Browser, client: Any) -> AsyncIterator[Pages]:
    opened = Pages(browser, str(client.make_url("/")).rstrip("/"))
    yield opened
    await opened.close()


async def her_chat(pages: Pages, code: str | None = None, name: str | None = None) -> Page:
    """A citizen starts a text chat (giving an earlier tracking code, her name); her page
    once she holds her tracking code."""
    citizen = await pages.open("/", PHONE)
    if code:
        await citizen.locator("summary").click()  # an earlier case number
        await citizen.get_by_test_id("earlier-code").fill(code)
    await citizen.get_by_test_id("start-chat").click()
    await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
    if name:  # the questions come while she waits: what happened, district, language, name
        for _ in range(3):
            await citizen.get_by_test_id("question-skip").click()
        await citizen.get_by_test_id("name").fill(name)
        await citizen.get_by_test_id("question-next").click()
        await citizen.get_by_test_id("answers-said").filter(has_text="officer is told").wait_for()
    return citizen


async def say(sender: Page, receiver: Page, text: str) -> None:
    """``sender`` writes ``text``; it arrives on ``receiver``."""
    await sender.get_by_test_id("chat-input").fill(text)
    await sender.get_by_test_id("chat-send").click()
    await receiver.get_by_text(text).wait_for()


async def accept(console: Page) -> None:
    await console.get_by_test_id("offer").wait_for(state="visible")
    await console.get_by_test_id("accept").click()
    await console.get_by_test_id("offer").wait_for(state="hidden")


def tab(console: Page, n: int) -> Any:
    return console.get_by_test_id("contact-tab").nth(n)


async def test_three_chats_at_once_an_offer_during_a_chat_and_a_transfer(
    pages: Pages, db: Db
) -> None:
    await officer(db, "VOL-1")
    colleague = await officer(db, "VOL-2")
    console = await pages.open("/console", LAPTOP)
    await look(console, "login")
    await log_in(console, "VOL-1")
    await console.get_by_test_id("status-available").click()
    await expect(console.get_by_test_id("status-available")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(console.get_by_test_id("status-offline")).to_have_attribute(
        "aria-pressed", "false"
    )
    await look(console, "available")

    # She gives a code that matches no case: the officer is told to give her the new one.
    nowhere = "1234567890" + "1"
    nowhere += check_digit(nowhere)
    first = await her_chat(pages, code=nowhere)
    await console.get_by_test_id("offer").wait_for(state="visible")
    await look(console, "offer")
    await accept(console)
    # (her page shows the code she gave, as for one that matched: nobody watching learns)
    await expect(console.get_by_test_id("case-code")).not_to_have_text("")
    first_code = (await console.get_by_test_id("case-code").text_content() or "").strip()
    assert first_code.replace(" ", "") != nowhere
    await expect(console.get_by_test_id("code-unmatched")).to_be_visible()
    await expect(console.get_by_test_id("code-unmatched")).to_contain_text(first_code)
    await say(first, console, "first: I need help")
    await say(console, first, "I am here, first")

    # A second chat rings while she is in the first, and is taken with the keyboard. She
    # names the first's case by its code and gives a name: a statement for the officer to
    # confirm, never written on the case by itself.
    second = await her_chat(pages, code=first_code, name="Ayesha")
    await console.get_by_test_id("offer").wait_for(state="visible")
    assert await console.get_by_test_id("call-view").is_visible()
    await console.keyboard.press("Alt+KeyA")
    await expect(console.get_by_test_id("contact-tab")).to_have_count(2)
    await expect(tab(console, 1)).to_have_attribute("aria-selected", "true")
    await say(second, console, "second: are you there?")
    statement = console.get_by_test_id("statement")
    await expect(statement).to_contain_text("Ayesha")
    await statement.get_by_test_id("statement-field").first.check()
    await console.get_by_test_id("statement-confirm").click()
    await expect(console.get_by_test_id("statement-said")).to_contain_text("On her case now: Name")
    # A ready reply: tapped into the box, read, sent.
    await console.get_by_test_id("ready-reply").first.click()
    reply = await console.get_by_test_id("chat-input").input_value()
    assert reply
    await console.get_by_test_id("chat-send").click()
    await second.get_by_text(reply).wait_for()

    # The first writes while the second is on screen: counted unread on her tab.
    await first.get_by_test_id("chat-input").fill("first again")
    await first.get_by_test_id("chat-send").click()
    await expect(tab(console, 0).get_by_test_id("contact-unread")).to_have_text("1")
    await tab(console, 0).click()
    await console.get_by_test_id("chat-log").get_by_text("first again").wait_for()
    await expect(tab(console, 0).get_by_test_id("contact-unread")).to_have_count(0)

    third = await her_chat(pages)
    await accept(console)
    await expect(console.get_by_test_id("contact-tab")).to_have_count(3)
    await say(third, console, "third: hello")
    await say(console, third, "third, I read you")
    await expect(console.get_by_test_id("status-text")).to_have_text("In a contact")
    await look(console, "three-chats")
    me = await console.evaluate("async () => (await fetch('/api/queues/me')).json()")
    assert me["presence"] == "available" and len(me["tasks"]) == 3  # no break, three held

    # Transfer the third to a colleague on duty (cold: it leaves her list at once).
    other = await pages.open("/console", LAPTOP)
    await log_in(other, "VOL-2")
    await other.get_by_test_id("status-available").click()
    await other.get_by_test_id("status-text").filter(has_text="Available").wait_for()
    await console.get_by_test_id("transfer").click()
    target = console.get_by_test_id("transfer-target")
    await expect(target.locator(f"option[value='officer:{colleague.id}']")).to_have_count(1)
    await target.select_option(f"officer:{colleague.id}")
    await look(console, "transfer")
    await console.get_by_test_id("transfer-send").click()
    await expect(console.get_by_test_id("contact-tab")).to_have_count(2)
    await accept(other)
    await other.get_by_test_id("chat-log").get_by_text("third: hello").wait_for()  # history
    await say(third, other, "third: still here")
    await say(other, third, "Another officer here")

    # The other two go on with her, each way.
    await tab(console, 0).click()
    await say(console, first, "first, one more")
    await tab(console, 1).click()
    await say(second, console, "second: thank you")
    me = await console.evaluate("async () => (await fetch('/api/queues/me')).json()")
    assert me["presence"] == "available" and len(me["tasks"]) == 2
    assert pages.problems == []


async def test_a_call_whose_ice_cannot_connect_is_said_and_goes_on_in_chat(
    pages: Pages, db: Db
) -> None:
    """Relay only with no TURN server: no path can exist. The console says so within its
    stated time (a restart after 5 s, failed at 12 s) and the contact goes on in chat."""
    await officer(db, "ICE-1")
    citizen = await pages.open("/", PHONE)
    console = await pages.open("/console?ice=relay", LAPTOP)
    await citizen.get_by_test_id("start-video").click()
    await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
    await log_in(console, "ICE-1")
    await console.get_by_test_id("status-available").click()
    await accept(console)
    state = console.get_by_test_id("call-state")
    await expect(state).to_have_attribute("data-state", "retrying", timeout=15_000)
    await expect(state).to_have_attribute("data-state", "failed", timeout=15_000)
    await expect(state).to_have_text("The call could not connect.")
    await expect(console.get_by_test_id("call-fallback")).to_contain_text("call 15")
    assert await console.evaluate("() => window.safecallCall.restarts") >= 1
    await look(console, "call-failed")
    await say(citizen, console, "I can only write")
    await say(console, citizen, "Write to me here")
    await console.get_by_test_id("hangup").click()
    await console.get_by_test_id("wrapup").wait_for(state="visible")
    assert pages.problems == []


async def test_a_case_worked_to_its_outcome_located_found_and_reported(
    pages: Pages, db: Db, clock: FakeClock, tiles: list[str]
) -> None:
    boss = await officer(db, "SUP-1", role="supervisor")
    colleague = await officer(db, "SUP-2")
    citizen = await pages.open("/", PHONE, geolocation=LAHORE, permissions=["geolocation"])
    console = await pages.open("/console", LAPTOP)
    await citizen.locator("summary").click()  # more choices
    await citizen.get_by_test_id("share-location").check()
    await citizen.get_by_test_id("start-video").click()
    await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
    code = (await citizen.get_by_test_id("tracking-code").text_content() or "").strip()
    await log_in(console, "SUP-1")
    await console.get_by_test_id("status-available").click()
    await accept(console)
    await media_flows(console)
    await expect(console.get_by_test_id("call-state")).to_have_attribute("data-state", "connected")
    await expect(console.get_by_test_id("call-quality")).to_contain_text("kbit/s")

    # Where she is: the place given at intake at once, then her page shares as she moves.
    marker = console.get_by_test_id("map-marker")
    await expect(marker).to_have_attribute("data-latitude", str(LAHORE["latitude"]))
    await citizen.evaluate(
        """async () => {
          const { shareLocation } = await import("/static/live-location.js");
          window.__sharing = shareLocation({ sessionId: window.safecallCall.id,
                                             token: window.safecallCall.token, everyMs: 0 });
        }"""
    )
    await expect(console.get_by_test_id("location-said")).to_contain_text(
        "1 update", timeout=10_000
    )
    clock.advance(3)  # the server takes a place at most every 2 s (its clock is the test's)
    await citizen.context.set_geolocation(
        {"latitude": 31.5301, "longitude": 74.3405, "accuracy": 15}
    )
    await expect(marker).to_have_attribute("data-latitude", "31.5301", timeout=10_000)
    await expect(console.get_by_test_id("location-said")).to_contain_text("within 15 m")
    loaded = await console.evaluate(
        "() => [...document.querySelectorAll('[data-testid=map-tile]')]"
        ".filter((img) => img.complete && img.naturalWidth === 256).length"
    )
    assert loaded >= 2 and any(re.match(r"^/\d+/\d+/\d+\.png$", path) for path in tiles[1:])
    await look(console, "video-call-with-map")

    # The call ends; the case panel stays for the outcome, recorded in the wrap-up.
    await citizen.get_by_test_id("hangup").click()
    await citizen.get_by_test_id("hangup-confirm").click()  # End asks first
    await console.get_by_test_id("wrapup").wait_for(state="visible")
    assert await console.get_by_test_id("case-panel").is_visible()
    await expect(console.get_by_test_id("case-current")).to_have_text("In progress")
    await console.get_by_test_id("case-status").select_option("fir_registered")
    await console.get_by_test_id("fir-number").fill("412/2026")
    await console.get_by_test_id("police-station").fill("Gulberg")
    await console.get_by_test_id("next-step").fill("Visit on Monday with the lady constable")
    await console.get_by_test_id("case-save").click()
    await expect(console.get_by_test_id("case-note")).to_have_text("Saved.")
    await expect(console.get_by_test_id("case-current")).to_have_text("FIR registered")
    await look(console, "wrap-up")
    await console.get_by_test_id("wrapup-done").click()
    await console.get_by_test_id("status-text").filter(has_text="Available").wait_for()
    session_id = await citizen.evaluate("() => window.safecallCall.id")
    contact = await wait_for_end(db, session_id)

    # She sees it on /track.
    await citizen.goto(pages.base + "/track")
    await citizen.get_by_test_id("code").fill(code)
    await citizen.get_by_test_id("track").click()
    answered = citizen.locator(
        "[data-testid=result]:not([hidden]), [data-testid=message]:not([hidden])"
    )
    await answered.first.wait_for()
    shown = await citizen.get_by_test_id("result").text_content() or ""
    said = await citizen.get_by_test_id("message").text_content()
    assert await citizen.get_by_test_id("result").is_visible(), said
    assert "police" in shown.lower(), shown

    # Found in the list by its code, opened with its timeline, notes and contacts.
    await console.get_by_test_id("cases-code").fill(code)
    await console.get_by_test_id("cases-status").select_option("fir_registered")
    await console.get_by_test_id("cases-search-submit").click()
    await expect(console.get_by_test_id("case-row")).to_have_count(1)
    await look(console, "case-search")
    await console.get_by_test_id("case-open").click()
    view = console.get_by_test_id("case-view")
    await view.wait_for(state="visible")
    await expect(console.get_by_test_id("case-view-code")).to_have_text(code)
    kinds = await console.get_by_test_id("case-timeline-item").evaluate_all(
        "items => items.map((i) => i.dataset.kind)"
    )
    assert "contact.arrived" in kinds and "contact.answered" in kinds, kinds
    await expect(console.get_by_test_id("case-view-notes")).to_contain_text("Visit on Monday")
    await expect(console.get_by_test_id("case-session")).to_have_count(1)
    # Her call's recording plays from the recordings API.
    await console.get_by_test_id("recording-play").first.click()
    await console.wait_for_function(
        "() => document.querySelector('[data-testid=recording-player]').readyState >= 1"
    )
    # A supervisor reassigns it.
    await console.get_by_test_id("case-assign-officer").select_option(str(colleague.id))
    await console.get_by_test_id("case-assign-save").click()
    await expect(console.get_by_test_id("case-assign-said")).to_contain_text("Assigned to")
    await look(console, "case-view")
    async with db() as session:
        case = await session.get(Case, contact.case_id)
        assert case is not None
        assert (case.status, case.fir_number, case.police_station) == (
            "fir_registered",
            "412/2026",
            "Gulberg",
        )
        assert case.assigned_officer_id == colleague.id
    assert boss.id != colleague.id

    # Reports on screen: the figures are the reports API's.
    await console.get_by_test_id("reports-link").click()
    await console.wait_for_url("**/console/reports")
    await console.get_by_test_id("reports-from").fill("2026-11-01")
    await console.get_by_test_id("reports-to").fill("2026-11-30")
    await console.get_by_test_id("reports-run").click()
    await console.get_by_test_id("reports-headline").wait_for(state="visible")
    api = await console.evaluate(
        "async () => (await fetch('/api/reports/summary?from=2026-11-01&to=2026-11-30')).json()"
    )
    assert api["headline"]["complaints_received"] >= 1
    for key, value in api["headline"].items():
        if isinstance(value, int):
            figure = console.locator(f"[data-testid=report-figure][data-key={key}] .figure-value")
            await expect(figure).to_have_text(str(value))
    for dimension, counts in (
        ("status", api["cases"]["by_status"]),
        ("session_channel", api["sessions"]["by_channel"]),
    ):
        rows = console.locator(
            f"[data-testid=report-table][data-dimension={dimension}] [data-testid=report-row]"
        )
        shown_counts = await rows.evaluate_all(
            "rows => Object.fromEntries(rows.map((r) => [r.dataset.value, +r.dataset.count]))"
        )
        assert shown_counts == counts
    csv = await console.get_by_test_id("reports-csv").get_attribute("href")
    assert csv == "/api/reports/summary.csv?from=2026-11-01&to=2026-11-30"
    await look(console, "reports")

    # Supervisors keep the ready replies; officers' consoles offer theirs.
    editor = console.get_by_test_id("replies-text")
    await expect(editor).to_have_value(re.compile(r"en \| Greeting"))
    await console.get_by_test_id("replies-text").fill("en | Hello | I am an officer here to help.")
    await console.get_by_test_id("replies-save").click()
    await expect(console.get_by_test_id("replies-said")).to_have_text("Saved: 1 replies.")
    await console.get_by_test_id("replies-text").fill("fr | Bonjour | Salut")
    await console.get_by_test_id("replies-save").click()
    await expect(console.get_by_test_id("replies-said")).to_contain_text("Line 1")
    replies = await console.evaluate("async () => (await fetch('/api/ready-replies')).json()")
    assert [r["title"] for r in replies["replies"]] == ["Hello"]
    assert pages.problems == []
    await asyncio.sleep(0)
