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


async def first_frames(*pages: Page, wait: float = 20.0) -> None:
    """Until every page has decoded a video frame (polled every 20 ms: for a figure)."""
    waiting = list(pages)
    for _ in range(int(wait / 0.02)):
        for page in list(waiting):
            found = await page.evaluate(STATS)
            if found is not None and found["framesDecoded"] > 0:
                waiting.remove(page)
        if not waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no video frame decoded after {wait} s")


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
