"""Where she is in the menu, carried from one question to the next in the action URL's query.

Twilio signs the URL it calls, query included, so the answers she gave so
far come back exactly as we wrote them. Nothing here identifies her: no
phone number, no CallSid (Twilio posts the CallSid with every request).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from ivr.menu import Choice, Menu


@dataclass(frozen=True)
class Intake:
    """What the menu learned from her."""

    language: str
    line: str
    category: str | None = None
    anonymous: bool = True
    callback_safe: bool = False
    emergency: bool = False
    silent: bool = False


_FIELDS = {"language": "lang", "line": "line", "category": "cat", "anonymous": "anon"}


@dataclass(frozen=True)
class Progress:
    language: str | None = None
    line: str | None = None
    category: str | None = None
    anonymous: str | None = None
    """``yes`` / ``no``; unset until asked."""
    callback: str | None = None
    emergency: bool = False
    tries: int = 0
    """Times the current question went unanswered (or wrongly answered)."""
    spoke: bool = False
    """She gave some input during the menu (a key or words), right or wrong."""

    def query(self) -> str:
        values: dict[str, str] = {}
        for name, short in (*_FIELDS.items(), ("callback", "cb")):
            value = getattr(self, name)
            if value is not None:
                values[short] = value
        if self.emergency:
            values["em"] = "1"
        if self.tries:
            values["n"] = str(self.tries)
        if self.spoke:
            values["in"] = "1"
        return urlencode(values)

    def answered(self, field: str, choice: Choice) -> Progress:
        changed = replace(self, tries=0, spoke=True, emergency=self.emergency or choice.emergency)
        values: dict[str, str | None] = {field: choice.value}
        return replace(changed, **values)  # type: ignore[arg-type]

    def lang(self, menu: Menu) -> str:
        return self.language or menu.default_language

    def intake(self, menu: Menu, *, silent: bool = False) -> Intake:
        """What she told us, with the general line for what she did not."""
        anonymous = self.anonymous != "no"
        return Intake(
            language=self.lang(menu),
            line=self.line or menu.general_line,
            category=self.category,
            anonymous=anonymous,
            callback_safe=not anonymous and self.callback == "yes",
            emergency=self.emergency,
            silent=silent,
        )


def read(query: Mapping[str, str], menu: Menu) -> Progress:
    """The progress in a URL's query; values the menu does not know are left unset."""

    answers = menu.answers

    def known(short: str, field: str) -> str | None:
        value = query.get(short)
        return value if value in answers.get(field, ()) else None

    tries = query.get("n", "0")
    return Progress(
        language=known("lang", "language"),
        line=known("line", "line"),
        category=known("cat", "category"),
        anonymous=known("anon", "anonymous"),
        callback=known("cb", "callback"),
        emergency=query.get("em") == "1",
        tries=int(tries) if tries.isascii() and tries.isdigit() and len(tries) < 3 else 0,
        spoke=query.get("in") == "1",
    )
