"""What the pages' peer connections report (``getStats()``), polled from Python.

Playwright's ``wait_for_function`` does not wait for a promise: an ``async``
predicate returns a promise, which is truthy, so such a wait passes at once
whatever the call is doing. These helpers poll from Python instead, with a bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from playwright.async_api import Page
from sqlalchemy import select

from recordings.models import Recording

STATS = """async () => {
  const pc = window.safecallCall.pc;
  if (!pc) return null;
  const out = {framesDecoded: 0, videoBytes: 0, audioBytes: 0, audioLevel: 0,
               state: pc.connectionState};
  (await pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") { out.framesDecoded += s.framesDecoded || 0;
                              out.videoBytes += s.bytesReceived || 0; }
    if (s.kind === "audio") { out.audioBytes += s.bytesReceived || 0;
                              out.audioLevel = Math.max(out.audioLevel, s.audioLevel || 0); }
  });
  return out;
}"""

Stats = dict[str, Any]


async def poll(page: Page, script: str, holds: Callable[[Any], bool], wait: float = 20.0) -> Any:
    """Evaluate ``script`` (it may be async) until ``holds(result)``; the result."""
    result = None
    for _ in range(int(wait / 0.2)):
        result = await page.evaluate(script)
        if result is not None and holds(result):
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"still not true after {wait} s; last: {result}")


async def media_flows(page: Page, video: bool = True) -> Stats:
    """Connected; frames decoded (video) and bytes received keep growing; sound not silent."""
    first: Stats = await poll(
        page,
        STATS,
        lambda s: (
            s["state"] == "connected"
            and (not video or s["framesDecoded"] > 0)
            and s["audioLevel"] > 0
        ),
    )
    later: Stats = await poll(
        page,
        STATS,
        lambda s: (
            s["audioBytes"] > first["audioBytes"]
            and (
                not video
                or (
                    s["framesDecoded"] > first["framesDecoded"]
                    and s["videoBytes"] > first["videoBytes"]
                )
            )
        ),
    )
    return later


ARM = """() => {
  const stamps = { accept: null, frame: null };
  window.__firstFrame = stamps;
  const now = () => performance.timeOrigin + performance.now();
  document.addEventListener("click", (event) => {
    const accept = event.target.closest && event.target.closest("[data-testid=accept]");
    if (accept && stamps.accept === null) stamps.accept = now();
  }, true);
  document.querySelector("[data-testid=remote-video]").requestVideoFrameCallback((at) => {
    stamps.frame = performance.timeOrigin + at;
  });
}"""
"""Stamps, inside the page, the officer's accept click (a capturing listener) and the first
frame of the remote video (``requestVideoFrameCallback``), as ``performance.timeOrigin +
performance.now()``: one clock for every page of a browser, and no polling delay."""


async def arm_first_frames(*pages: Page) -> None:
    """Before the accept click: each page stamps the accept and its first remote frame."""
    for page in pages:
        await page.evaluate(ARM)


async def first_frames(*pages: Page, wait: float = 20.0) -> float:
    """Once every page has shown a remote video frame: seconds from the accept to the later.

    Needs :func:`arm_first_frames` before the click; a figure, never to assert on.
    """
    stamps: list[dict[str, float | None]] = []
    for _ in range(int(wait / 0.05)):
        stamps = [await page.evaluate("() => window.__firstFrame") for page in pages]
        if all(found["frame"] is not None for found in stamps):
            accepts = [found["accept"] for found in stamps if found["accept"] is not None]
            assert accepts, "no accept click was seen on these pages"
            frames = [found["frame"] for found in stamps if found["frame"] is not None]
            return (max(frames) - min(accepts)) / 1000
        await asyncio.sleep(0.05)
    raise AssertionError(f"no video frame shown on every page after {wait} s: {stamps}")


async def recordings_of(
    db: Any, session_id: str, holds: Callable[[list[Recording]], bool]
) -> list[Recording]:
    """The session's recordings once ``holds`` them (bounded wait)."""
    rows: list[Recording] = []
    for _ in range(300):
        async with db() as session:
            rows = list(
                await session.scalars(select(Recording).where(Recording.session_id == session_id))
            )
        if rows and holds(rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"the session's recordings never got there: {rows}")
