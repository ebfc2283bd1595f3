"""The citizen page as an installed app, in headless Chromium on a 390×844 phone.

Installable (manifest fetched, service worker active, no installability error), and
offline a reload shows the offline page with 15; a visit in a browser tab registers
no worker. One tap on SOS in the app reaches the line at the emergency priority, and
the officer sees where she is; on a poor network the call is audio-first with Opus capped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from queues.service import ROUTER
from tests.browser import ARTIFACTS, browser
from tests.calls.test_call import DESKTOP, PHONE, Db, log_in, make_officer, open_page
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]
LAHORE = (31.5204, 74.3587)
LONG_ROUND_TRIP = {
    "offline": False,
    "latency": 1200,
    "downloadThroughput": 1_000_000 / 8,
    "uploadThroughput": 1_000_000 / 8,
}


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def test_the_app_installs_and_offline_shows_call_15(client: Any, browser: Browser) -> None:
    # A visit in a browser tab: no worker is registered (nothing is left behind).
    context = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(str(client.make_url("/")))
    await page.wait_for_function("() => document.readyState === 'complete'")
    assert await page.evaluate("() => document.documentElement.dataset.app") is None
    assert (
        await page.evaluate("async () => (await navigator.serviceWorker.getRegistrations()).length")
        == 0
    )

    # The app (the manifest's start_url): the worker installs and takes the page.
    await page.goto(str(client.make_url("/?app=1")))
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    state = await page.evaluate("async () => (await navigator.serviceWorker.ready).active.state")
    assert state == "activated"
    cdp = await context.new_cdp_session(page)
    found = await cdp.send("Page.getAppManifest")
    assert found["url"].endswith("/manifest.webmanifest")
    assert found["errors"] == []
    installability = await cdp.send("Page.getInstallabilityErrors")
    # Every criterion met; a test's browser context is always incognito, and says so.
    errors = {e["errorId"] for e in installability["installabilityErrors"]}
    assert errors <= {"in-incognito"}, errors

    # Offline: a reload shows the offline page (from the worker's shell), styled.
    await context.set_offline(True)
    await page.reload()
    await page.get_by_test_id("offline-page").wait_for()
    assert await page.get_by_test_id("offline-call15").get_attribute("href") == "tel:15"
    colour = await page.get_by_test_id("offline-call15").evaluate(
        "(a) => getComputedStyle(a).backgroundColor"
    )
    assert colour == "rgb(179, 38, 30)"  # the shell's style sheets came from the cache
    cached = await page.evaluate(
        """async () => {
          const urls = [];
          for (const name of await caches.keys()) {
            const kept = await (await caches.open(name)).keys();
            for (const r of kept) urls.push(new URL(r.url).pathname);
          }
          return urls;
        }"""
    )
    assert "/offline" in cached
    assert not [url for url in cached if url.startswith("/api") or url in ("/", "/track")]
    assert not problems
    await context.close()

    # An engine without service workers: the app's page works online all the same.
    old = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    await old.add_init_script("delete Navigator.prototype.serviceWorker")
    page = await old.new_page()
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(str(client.make_url("/?app=1")))
    await page.get_by_test_id("sos").wait_for()
    assert await page.evaluate("() => 'serviceWorker' in navigator") is False
    await page.get_by_test_id("start-chat").click()
    await page.get_by_test_id("tracking-code").wait_for(state="visible")
    assert not problems
    await old.close()


async def test_sos_in_the_app_calls_at_emergency_priority_with_her_location_audio_first(
    client: Any, app: Any, db: Db, browser: Browser
) -> None:
    await make_officer(db, "LHR-SOS")
    console_ctx, console, console_problems = await open_page(
        browser, str(client.make_url("/console")), DESKTOP
    )
    await log_in(console, "LHR-SOS")
    # She allowed her location when the browser asked (her consent); the app starts at
    # the manifest's start_url.
    context = await browser.new_context(
        viewport=PHONE,  # type: ignore[arg-type]
        permissions=["geolocation", "microphone"],
        geolocation={"latitude": LAHORE[0], "longitude": LAHORE[1], "accuracy": 25},
    )
    citizen = await context.new_page()
    problems: list[str] = []
    citizen.on("pageerror", lambda e: problems.append(str(e)))
    # A poor network (a 1.2 s round trip): her call is audio-first at a low bitrate.
    cdp = await context.new_cdp_session(citizen)
    await cdp.send("Network.enable")
    await cdp.send("Network.emulateNetworkConditions", LONG_ROUND_TRIP)
    await citizen.goto(str(client.make_url("/?app=1")), timeout=60_000)
    await citizen.wait_for_function("() => window.safecallNetwork.poor === true")
    await citizen.get_by_test_id("sos").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    await citizen.screenshot(path=str(ARTIFACTS / "citizen-app-sos.png"))
    await citizen.get_by_test_id("sos").click()  # one tap
    await citizen.get_by_test_id("tracking-code").wait_for(state="visible")
    session_id = await citizen.evaluate("() => window.safecallCall.id")
    task = next(t for t in app[ROUTER].board.tasks.values() if t.session_id == session_id)
    assert task.line == "women" and task.channel == "browser_audio"
    assert task.priority == app[ROUTER].config.emergency_priority

    await console.get_by_test_id("status-available").click()
    offer = console.get_by_test_id("offer")
    await offer.wait_for(state="visible")
    assert await offer.get_attribute("data-emergency") == "true"
    assert "EMERGENCY" in (await console.get_by_test_id("offer-what").text_content() or "")
    await console.get_by_test_id("accept").click()

    # The officer sees where she is: first the place sent with the SOS, then the live one
    # (her page keeps sending it on the live-location path).
    marker = console.get_by_test_id("map-marker")
    await marker.wait_for(state="attached")
    assert float(await marker.get_attribute("data-latitude") or 0) == pytest.approx(LAHORE[0])
    await console.get_by_test_id("location-said").filter(has_text="update").wait_for()
    # Opus at 16 kbit/s both ways: her sender's cap, and her answer asks the officer's.
    await citizen.wait_for_function(
        """() => {
          const pc = window.safecallCall.pc;
          const audio = pc && pc.getSenders().find((s) => s.track && s.track.kind === "audio");
          return audio && (audio.getParameters().encodings[0] || {}).maxBitrate === 16000;
        }"""
    )
    await console.wait_for_function(
        """() => { const pc = window.safecallCall.pc;
                   return pc && pc.remoteDescription
                     && pc.remoteDescription.sdp.includes("maxaveragebitrate=16000"); }"""
    )
    assert await citizen.evaluate("() => window.safecallSos.state.sent") >= 1
    assert not problems and not console_problems
    await context.close()
    await console_ctx.close()


TWO_G = {
    "offline": False,
    "latency": 2000,  # ms, each way counted by Chromium as the round trip's
    "downloadThroughput": 50_000 / 8,  # 50 kbit/s, in bytes per second
    "uploadThroughput": 50_000 / 8,
}


async def test_chat_reaches_the_queue_and_an_officer_over_a_2g_link(
    client: Any, db: Db, browser: Browser
) -> None:
    await make_officer(db, "LHR-2G")
    console_ctx, console, console_problems = await open_page(
        browser, str(client.make_url("/console")), DESKTOP
    )
    await log_in(console, "LHR-2G")
    context = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    citizen = await context.new_page()
    citizen.set_default_timeout(90_000)
    problems: list[str] = []
    citizen.on("pageerror", lambda e: problems.append(str(e)))
    cdp = await context.new_cdp_session(citizen)
    await cdp.send("Network.enable")
    await cdp.send("Network.emulateNetworkConditions", TWO_G)
    await citizen.goto(str(client.make_url("/")), timeout=90_000)
    # Her page measured the link as poor (the browser's word, or the probe's).
    network = await citizen.wait_for_function("() => window.safecallNetwork.network")
    measured = await network.json_value()
    print(f"her page measured the 2G link: {measured}")
    assert measured["poor"] is True

    await citizen.get_by_test_id("start-chat").click()
    await citizen.wait_for_function(
        "() => document.querySelector('[data-testid=queue-position]').textContent === '1'"
    )
    await console.get_by_test_id("status-available").click()
    await console.get_by_test_id("offer").wait_for(state="visible")
    await console.get_by_test_id("accept").click()
    await citizen.get_by_test_id("chat-input").fill("salaam, I need help")
    await citizen.get_by_test_id("chat-send").click()
    await console.get_by_text("salaam, I need help").wait_for(timeout=60_000)
    await console.get_by_test_id("chat-input").fill("I am here")
    await console.get_by_test_id("chat-send").click()
    await citizen.get_by_text("I am here").wait_for()
    assert not problems and not console_problems
    await context.close()
    await console_ctx.close()
