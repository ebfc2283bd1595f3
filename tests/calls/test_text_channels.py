"""An SMS or WhatsApp contact is text: the console asks for no camera or microphone.

Before, the console treated every channel that was not ``chat`` as a call: accepting a
text contact asked for the microphone (a prompt, or a refusal on a machine without one)
and started a WebRTC offer to a side that only reads text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import browser
from tests.support import copy_sqlite

pytestmark = pytest.mark.browser
__all__ = ["browser"]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


ASKS = """async () => {
  const asked = [];
  navigator.mediaDevices.getUserMedia = async (what) => {
    asked.push(what);
    return new MediaStream();
  };
  const { localMedia } = await import("/static/console-call.js");
  const out = {};
  for (const channel of ["sms", "whatsapp", "chat", "browser_audio", "phone"]) {
    const before = asked.length;
    const got = await localMedia(channel);
    out[channel] = { asked: asked.length - before, stream: got.stream !== null };
  }
  return out;
}"""


async def test_text_contacts_ask_for_no_media_and_calls_do(client: Any, browser: Any) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(str(client.make_url("/console")))
    asked = await page.evaluate(ASKS)
    await context.close()
    for text in ("sms", "whatsapp", "chat"):
        assert asked[text] == {"asked": 0, "stream": False}, text
    for voice in ("browser_audio", "phone"):
        assert asked[voice] == {"asked": 1, "stream": True}, voice
