"""Looking at a citizen page state as she would: a 390×844 phone, in Urdu, Punjabi and English.

``look(page, "waiting")`` switches the page to each language in turn (its own buttons),
takes the screen into ``tests/artifacts/citizen-<name>-<lang>.png``, runs axe-core (zero
serious or critical violations) and measures every visible tap target (at least 44 px
both ways; a checkbox counts with its label), then puts the page back in the language it
was in.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from tests.browser import ARTIFACTS
from tests.calls.look import axe_violations

PHONE = {"width": 390, "height": 844}
LANGUAGES = ("ur", "pa", "en")

SMALL_TARGETS = """() => {
  const small = [];
  for (const el of document.querySelectorAll("a[href], button, input, select, summary")) {
    const box = (el.type === "checkbox" ? el.closest("label") || el : el).getBoundingClientRect();
    if (!box.width || !box.height || el.closest("[hidden]")) continue;
    if (getComputedStyle(el).visibility === "hidden" || el.closest("noscript")) continue;
    if (box.width < 44 || box.height < 44) {
      small.push((el.dataset.testid || el.id || el.textContent.trim().slice(0, 20)) +
                 " " + Math.round(box.width) + "x" + Math.round(box.height));
    }
  }
  return small;
}"""


async def look(page: Page, name: str, prefix: str = "citizen", at: str | None = None) -> None:
    """Screens, axe-core and tap targets in every language; the page back as it was.
    ``at``: a selector to bring on screen first (the state's news, below the fold)."""
    ARTIFACTS.mkdir(exist_ok=True)
    was = await page.evaluate("() => document.documentElement.lang")
    problems: dict[str, Any] = {}
    for lang in LANGUAGES:
        await page.locator(f"[data-lang={lang}]").first.click()
        if at:
            await page.locator(at).first.scroll_into_view_if_needed()
        await page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
        await page.screenshot(path=str(ARTIFACTS / f"{prefix}-{name}-{lang}.png"))
        found = await axe_violations(page)
        if found:
            problems[f"axe {lang}"] = found
        small = await page.evaluate(SMALL_TARGETS)
        if small:
            problems[f"small tap targets {lang}"] = small
    await page.locator(f"[data-lang={was}]").first.click()
    assert not problems, f"{prefix} {name}: {problems}"
