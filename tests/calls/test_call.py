"""A browser contact end to end in headless Chromium: the citizen page and the console.

She starts a contact from ``/``, waits in line, an officer logs in on ``/console``,
goes available, is offered the contact and accepts; the two browsers talk peer to
peer; a hang-up ends it, and the session is logged on its case.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case, ContactSession, TimelineEvent
from officers.models import Officer
from officers.passwords import hash_password
from tests.browser import ARTIFACTS, browser
from tests.calls.media import arm_first_frames, first_frames, media_flows
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]

Db = async_sessionmaker[AsyncSession]
PASSWORD = "correct horse battery staple"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the pages behave the same on either database, and browsers are slow."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def make_officer(db: Db, badge: str) -> Officer:
    async with db() as session:
        officer = Officer(
            badge=badge,
            name=f"Officer {badge}",
            role="officer",
            gender="female",
            languages=["ur", "en"],
            skills={},
            lines=["women", "child"],
            password_hash=hash_password(PASSWORD),
        )
        session.add(officer)
        await session.commit()
        return officer


async def open_page(
    browser: Browser, url: str, viewport: dict[str, int]
) -> tuple[BrowserContext, Page, list[str]]:
    context = await browser.new_context(viewport=viewport, locale="en-GB")  # type: ignore[arg-type]
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await page.goto(url)
    return context, page, problems


async def log_in(page: Page, badge: str) -> None:
    await page.get_by_test_id("login-badge").fill(badge)
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("app-view").wait_for(state="visible")


async def wait_for_end(db: Db, session_id: str) -> ContactSession:
    """The end is written when the hub reports it; wait for it (bounded)."""
    for _ in range(200):
        async with db() as session:
            contact = await session.get(ContactSession, session_id)
            if contact is not None and contact.ended_at is not None:
                return contact
        await asyncio.sleep(0.05)
    raise AssertionError("the contact never ended in the database")


async def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_video_call_from_the_citizen_page_to_the_console(
    client: Any, db: Db, browser: Browser
) -> None:
    officer = await make_officer(db, "LHR-101")
    citizen_ctx, citizen, citizen_problems = await open_page(
        browser, str(client.make_url("/")), PHONE
    )
    console_ctx, console, console_problems = await open_page(
        browser, str(client.make_url("/console")), DESKTOP
    )
    await shoot(citizen, "citizen-phone-en")

    # She starts with nothing but the start button; she is first in line.
    await citizen.get_by_test_id("start-video").click()
    code_shown = citizen.get_by_test_id("tracking-code")
    await code_shown.wait_for(state="visible")
    code = (await code_shown.text_content() or "").strip()
    assert len(code.replace(" ", "")) == 12
    await citizen.wait_for_function(
        "() => document.querySelector('[data-testid=queue-position]').textContent === '1'"
    )
    await shoot(citizen, "citizen-phone-en-waiting")

    await log_in(console, "LHR-101")
    await console.get_by_test_id("status-available").click()
    offer = console.get_by_test_id("offer")
    await offer.wait_for(state="visible")
    assert "Video call" in (await offer.text_content() or "")
    await shoot(console, "console-desktop-offer")
    await arm_first_frames(console, citizen)
    await console.get_by_test_id("accept").click()
    took = await first_frames(console, citizen)
    # A figure for the closing note (bench), not an assertion: this machine is shared.
    print(f"accept to first decoded frame on both sides: {took:.3f} s")

    await media_flows(console)
    await media_flows(citizen)
    assert await citizen.get_by_test_id("remote-video").is_visible()
    assert await console.get_by_test_id("remote-video").is_visible()

    # Chat alongside the call, both ways.
    await citizen.get_by_test_id("chat-input").fill("hello from her")
    await citizen.get_by_test_id("chat-send").click()
    await console.get_by_text("hello from her").wait_for()
    await console.get_by_test_id("chat-input").fill("I am here to help")
    await console.get_by_test_id("chat-send").click()
    await citizen.get_by_text("I am here to help").wait_for()
    await shoot(citizen, "citizen-phone-en-call")
    await shoot(console, "console-desktop-call")

    await console.get_by_test_id("case-status").select_option("fir_registered")
    await console.get_by_test_id("fir-number").fill("123/2026")
    await console.get_by_test_id("police-station").fill("Model Town")
    await console.get_by_test_id("case-save").click()
    await console.get_by_test_id("case-note").filter(has_text="Saved.").wait_for()

    await citizen.get_by_test_id("hangup").click()
    await citizen.get_by_test_id("hangup-confirm").click()  # End asks first
    assert (await citizen.get_by_test_id("tracking-code").text_content() or "").strip() == code
    assert await citizen.get_by_test_id("tracking-code").is_visible()
    await console.get_by_test_id("wrapup").wait_for(state="visible")
    await shoot(citizen, "citizen-phone-en-ended")
    await shoot(console, "console-desktop-wrapup")
    await console.get_by_test_id("wrapup-done").click()
    await console.wait_for_function(
        "() => document.querySelector('[data-testid=status-text]').textContent"
        " === 'Available for contacts'"
    )

    session_id = await citizen.evaluate("() => window.safecallCall.id")
    contact = await wait_for_end(db, session_id)
    assert contact.disposition == "answered"
    assert contact.channel == "browser_video"
    assert contact.officer_id == officer.id
    assert contact.answered_at is not None
    assert contact.anonymous is True
    async with db() as session:
        case = await session.get(Case, contact.case_id)
        assert case is not None
        assert case.tracking_code == code.replace(" ", "")
        assert case.service_line == "women"
        assert case.status == "fir_registered"
        kinds = list(
            (
                await session.execute(
                    select(TimelineEvent.kind).where(TimelineEvent.session_id == session_id)
                )
            ).scalars()
        )
    for kind in ("contact.arrived", "contact.answered", "contact.ended"):
        assert kind in kinds
    assert kinds.count("chat.message") == 2
    assert citizen_problems == [] and console_problems == []
    # Nothing kept in her browser.
    assert await citizen.evaluate(
        "() => [localStorage.length, sessionStorage.length, document.cookie]"
    ) == [0, 0, ""]
    await citizen_ctx.close()
    await console_ctx.close()


async def timeline(db: Db, session_id: str) -> list[TimelineEvent]:
    async with db() as session:
        return list(
            (
                await session.execute(
                    select(TimelineEvent).where(TimelineEvent.session_id == session_id)
                )
            ).scalars()
        )


async def test_chat_contact_for_a_child_in_urdu(client: Any, db: Db, browser: Browser) -> None:
    await make_officer(db, "LHR-202")
    citizen_ctx, citizen, problems = await open_page(browser, str(client.make_url("/")), PHONE)
    console_ctx, console, _ = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    await citizen.get_by_role("button", name="اردو").click()
    assert await citizen.evaluate("() => document.documentElement.dir") == "rtl"
    await shoot(citizen, "citizen-phone-ur")
    await citizen.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    await shoot(citizen, "citizen-desktop-ur")
    await citizen.set_viewport_size(PHONE)  # type: ignore[arg-type]

    await log_in(console, "LHR-202")
    await console.get_by_test_id("status-available").click()
    await citizen.get_by_test_id("service-child").click()
    await citizen.get_by_test_id("start-chat").click()
    await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
    code = (await citizen.get_by_test_id("tracking-code").text_content() or "").strip()
    assert len(code.replace(" ", "")) == 12
    await console.get_by_test_id("offer").wait_for(state="visible")
    assert "Text chat" in (await console.get_by_test_id("offer").text_content() or "")
    await console.get_by_test_id("accept").click()
    await console.get_by_test_id("call-view").wait_for(state="visible")
    assert await console.get_by_test_id("remote-video").is_hidden()

    await citizen.get_by_test_id("chat-input").fill("مجھے مدد چاہیے")
    await citizen.get_by_test_id("chat-send").click()
    await console.get_by_text("مجھے مدد چاہیے").wait_for()
    await console.get_by_test_id("chat-input").fill("I am listening")
    await console.get_by_test_id("chat-send").click()
    await citizen.get_by_text("I am listening").wait_for()
    await shoot(citizen, "citizen-phone-ur-chat")

    await console.get_by_test_id("hangup").click()
    await citizen.locator("#ended").wait_for(state="visible")
    assert (await citizen.get_by_test_id("tracking-code").text_content() or "").strip() == code
    await shoot(citizen, "citizen-phone-ur-ended")
    await console.get_by_test_id("wrapup-done").click()

    session_id = await citizen.evaluate("() => window.safecallCall.id")
    contact = await wait_for_end(db, session_id)
    assert contact.channel == "chat"
    assert contact.silent is True
    assert contact.service_line == "child"
    assert contact.disposition == "answered"
    chats = [e for e in await timeline(db, session_id) if e.kind == "chat.message"]
    assert sorted(str(e.data["from"]) for e in chats) == ["citizen", "officer"]
    # What she wrote is sealed on the timeline, never in clear.
    assert all("listening" not in str(e.data) and "مدد" not in str(e.data) for e in chats)
    assert problems == []
    await citizen_ctx.close()
    await console_ctx.close()


async def test_a_declined_offer_goes_to_a_second_officer(
    client: Any, db: Db, browser: Browser
) -> None:
    await make_officer(db, "LHR-301")
    second = await make_officer(db, "LHR-302")
    citizen_ctx, citizen, _ = await open_page(browser, str(client.make_url("/")), PHONE)
    first_ctx, first, _ = await open_page(browser, str(client.make_url("/console")), DESKTOP)
    second_ctx, other, _ = await open_page(browser, str(client.make_url("/console")), PHONE)
    await log_in(first, "LHR-301")
    await first.get_by_test_id("status-available").click()
    await first.get_by_test_id("status-text").filter(has_text="Available").wait_for()

    await citizen.get_by_test_id("start-audio").click()
    await first.get_by_test_id("offer").wait_for(state="visible")
    await first.get_by_test_id("decline").click()
    await first.get_by_test_id("offer").wait_for(state="hidden")

    await log_in(other, "LHR-302")
    await other.get_by_test_id("status-available").click()
    await other.get_by_test_id("offer").wait_for(state="visible")
    await shoot(other, "console-phone-offer")
    await other.get_by_test_id("accept").click()
    await media_flows(other, video=False)
    await media_flows(citizen, video=False)
    assert await first.get_by_test_id("offer").is_hidden()

    await other.get_by_test_id("hangup").click()
    await citizen.locator("#ended").wait_for(state="visible")
    session_id = await citizen.evaluate("() => window.safecallCall.id")
    contact = await wait_for_end(db, session_id)
    assert contact.channel == "browser_audio"
    assert contact.officer_id == second.id
    assert contact.disposition == "answered"
    for context in (citizen_ctx, first_ctx, second_ctx):
        await context.close()


async def test_quick_exit_during_a_contact_leaves_no_way_back(
    client: Any, db: Db, browser: Browser
) -> None:
    context, citizen, problems = await open_page(browser, str(client.make_url("/")), PHONE)
    exit_url = "https://www.google.com/"
    await citizen.route(exit_url + "**", lambda route: route.fulfill(body="elsewhere"))
    await citizen.get_by_test_id("start-chat").click()
    await citizen.get_by_test_id("queue-position").filter(has_text="1").wait_for()
    assert await citizen.get_by_test_id("quick-exit").is_visible()
    length = await citizen.evaluate("() => history.length")
    await citizen.keyboard.press("Escape")
    await citizen.keyboard.press("Escape")
    await citizen.wait_for_url(exit_url)
    assert await citizen.evaluate("() => history.length") == length  # replaced, not added
    await citizen.go_back()
    assert citizen.url != str(client.make_url("/"))  # Back does not return to her page
    assert problems == []
    await context.close()
