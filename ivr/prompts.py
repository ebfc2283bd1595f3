"""Recorded prompts: shipped WAV files under ``ivr/prompts/{lang}/``, ``<Say>`` when one is missing.

``GET /twilio/prompts/{lang}/{name}.wav`` serves them (public: Twilio
fetches them without credentials; they say nothing about anyone). The hold
recording is ``common/hold.wav``. The files are made from the menu's texts
by ``scripts/make_prompts.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web
from twilio.twiml import TwiML

from ivr.menu import Menu
from safecall.endpoint import endpoint
from safecall.errors import ApiError
from safecall.settings import Settings

PROMPTS_DIR = Path(__file__).with_name("prompts")
COMMON = "common"
HOLD = "hold"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}\.wav$")


class Prompts:
    """Which recordings exist, and the verb that makes her hear one."""

    def __init__(self, menu: Menu, settings: Settings, directory: Path = PROMPTS_DIR) -> None:
        self.menu = menu
        self.base = settings.public_url.rstrip("/") + "/twilio/prompts"
        self.directory = directory
        self.recorded = {
            (path.parent.name, path.stem)
            for path in directory.glob("*/*.wav")
            if path.parent.name in (*menu.languages, COMMON)
        }

    def url(self, lang: str, name: str) -> str:
        return f"{self.base}/{lang}/{name}.wav"

    def add(self, parent: TwiML, name: str, lang: str) -> None:
        """``<Play>`` the recording of ``name`` in ``lang``, or ``<Say>`` its text."""
        if (lang, name) in self.recorded:
            parent.play(self.url(lang, name))
            return
        text = self.menu.texts()[name][lang]
        parent.say(text, language=self.menu.languages[lang].say)

    def say(self, parent: TwiML, text: str, lang: str) -> None:
        parent.say(text, language=self.menu.languages[lang].say)

    def hold(self, parent: TwiML, loops: int) -> None:
        """The hold recording (a pause of the same length when it is missing)."""
        if (COMMON, HOLD) in self.recorded:
            parent.play(self.url(COMMON, HOLD), loop=loops)
        else:
            parent.pause(length=10 * loops)


@endpoint(
    "A recorded phone prompt (8 kHz WAV), fetched by Twilio.",
    public=True,
    content_type="audio/wav",
    errors=["not_found"],
    document=False,
    tags=["phone"],
)
async def prompt_file(request: web.Request) -> web.StreamResponse:
    lang, name = request.match_info["lang"], request.match_info["name"]
    path = PROMPTS_DIR / lang / name
    if not _NAME.match(name) or not re.fullmatch(r"[a-z]{2,6}", lang) or not path.is_file():
        raise ApiError(404, "not_found", "There is no such prompt.")
    return web.FileResponse(
        path, headers={"Content-Type": "audio/wav", "Cache-Control": "public, max-age=3600"}
    )
