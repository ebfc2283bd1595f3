"""Looking at a console state as a person would: screenshots at two sizes, and axe-core.

``look(page, "several-chats")`` takes the viewport (what is above the fold) at 1366×768
and at 1920×1080 into ``tests/artifacts/console-<name>-<w>x<h>.png``, runs axe-core
(from ``node_modules``, installed by ``npm ci``) at each size and fails on any serious or
critical violation, then puts the page back at 1366×768.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

from tests.browser import ARTIFACTS

LAPTOP = {"width": 1366, "height": 768}
WIDE = {"width": 1920, "height": 1080}
AXE = Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"

RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
}"""


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical accessibility violations on the page as it is now."""
    if not AXE.is_file():
        raise AssertionError(f"{AXE} is missing: run `npm ci` (make test does)")
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the debugging protocol: the page's CSP does not apply.
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found: list[dict[str, Any]] = await page.evaluate(RUN_AXE)
    return found


async def look(page: Page, name: str) -> None:
    """Screenshots at both sizes and axe-core at each; zero serious or critical violations."""
    ARTIFACTS.mkdir(exist_ok=True)
    problems: dict[str, list[dict[str, Any]]] = {}
    for size in (LAPTOP, WIDE):
        await page.set_viewport_size(size)  # type: ignore[arg-type]
        await page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
        path = ARTIFACTS / f"console-{name}-{size['width']}x{size['height']}.png"
        await page.screenshot(path=str(path))
        found = await axe_violations(page)
        if found:
            problems[f"{size['width']}x{size['height']}"] = found
    await page.set_viewport_size(LAPTOP)  # type: ignore[arg-type]
    assert not problems, f"axe-core on {name}: {problems}"
