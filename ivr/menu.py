"""The phone menu as data: ``ivr/menu.toml``, checked once when the server starts.

:func:`load` returns a :class:`Menu` or raises :class:`MenuError` whose
message names the file, the key and what was expected. A question
(:class:`Step`) sets one field of her call; each :class:`Choice` has a key,
words she may say instead, the value it sets and the next question.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cases.vocabulary import BUILTIN_CATEGORIES, LANGUAGES, ServiceLine

MENU_FILE = Path(__file__).with_name("menu.toml")
QUEUE = "queue"
"""The ``next`` that ends the menu: she is put in line."""
TRACK = "track_code"
"""The ``next`` that starts tracking a case by phone."""
FIELDS: Mapping[str, frozenset[str] | None] = {
    "language": frozenset(LANGUAGES),
    "line": frozenset(line.value for line in ServiceLine),
    "category": None,  # checked against the case categories
    "anonymous": frozenset({"yes", "no"}),
    "callback": frozenset({"yes", "no"}),
}
NONE = "none"
"""A choice's value that leaves the field unset (e.g. skip the category)."""
DTMF = frozenset("0123456789*#")
MESSAGES = (
    "retry",
    "queued",
    "silent_queued",
    "callback_offer",
    "callback_booked",
    "prank_notice",
    "recording_notice",
    "missed",
    "track_code",
    "track_pin",
    "track_unknown",
    "track_later",
    "status_received",
    "status_in_progress",
    "status_resolved",
    "status_with_police",
    "status_referred",
    "status_closed",
    "pin_offer",
    "pin_again",
    "pin_set",
    "pin_mismatch",
)
ANNOUNCEMENTS = {"position": "{position}", "wait": "{minutes}"}
SMS = {"video_link": "{link}"}
NUMBERS = 30
"""Numbers 1..NUMBERS are recorded per language (``n1``...) for the announcements."""


class MenuError(ValueError):
    """The menu file cannot be used."""


@dataclass(frozen=True)
class Language:
    code: str
    say: str
    """``language`` of ``<Say>`` (the fallback voice)."""
    speech: str
    """``language`` of ``<Gather>`` speech recognition."""
    espeak: str
    """espeak-ng voice that makes the recorded prompts."""


@dataclass(frozen=True)
class Choice:
    key: str
    """The DTMF key."""
    words: tuple[str, ...]
    """Lower-case words; any of them in what she said picks this choice."""
    value: str | None
    """What it sets; None leaves the field unset."""
    next: str
    emergency: bool = False


@dataclass(frozen=True)
class Step:
    name: str
    field: str
    prompt: Mapping[str, str]
    """Language -> text (also the recorded prompt's source)."""
    choices: tuple[Choice, ...]
    all_languages: bool = False
    """Asked in every language in turn (the first question, before she chose one)."""

    def choose(self, digits: str, speech: str) -> Choice | None:
        """The choice her key (or, failing that, her words) picks; None when nothing matches."""
        digits = digits.strip()
        for choice in self.choices:
            if digits and digits == choice.key:
                return choice
        said = speech.strip().lower()
        if not said or digits:
            return None
        for choice in self.choices:
            if any(word in said for word in choice.words):
                return choice
        return None


@dataclass(frozen=True)
class Menu:
    first_step: str
    default_language: str
    general_line: str
    retries: int
    timeout: int
    silent_key: str
    hold_loops: int
    callback_key: str
    prank_marks: int
    prank_priority: int
    callback_attempts: int
    callback_ring_seconds: int
    callback_retry_seconds: int
    """An unanswered callback is put back in line after this long (ivr/callback_retries.py)."""
    languages: Mapping[str, Language]
    steps: Mapping[str, Step]
    messages: Mapping[str, Mapping[str, str]]
    """Name -> language -> text of fixed things she hears (recorded prompts)."""
    announcements: Mapping[str, Mapping[str, str]]
    """Name -> language -> template spoken with ``<Say>`` (carries numbers)."""
    sms: Mapping[str, Mapping[str, str]]
    """Name -> language -> template of a text message."""

    @cached_property
    def answers(self) -> Mapping[str, frozenset[str]]:
        """Field -> the values its questions' choices give (all an action URL may carry)."""
        found: dict[str, set[str]] = {}
        for step in self.steps.values():
            found.setdefault(step.field, set()).update(c.value for c in step.choices if c.value)
        return {field: frozenset(values) for field, values in found.items()}

    def texts(self) -> dict[str, dict[str, str]]:
        """Prompt name -> language -> text, for every recorded prompt."""
        found: dict[str, dict[str, str]] = {}
        for step in self.steps.values():
            found[step.name] = dict(step.prompt)
        for name, texts in self.messages.items():
            found[name] = dict(texts)
        for name in self.announcements:
            for lang in self.languages:
                for half, text in zip(("before", "after"), self.parts(name, lang), strict=True):
                    if text:
                        found.setdefault(f"{name}_{half}", {})[lang] = text
        for number in range(1, NUMBERS + 1):
            found[f"n{number}"] = {lang: str(number) for lang in self.languages}
        return found

    def parts(self, announcement: str, lang: str) -> tuple[str, str]:
        """The recorded words before and after the number of an announcement."""
        before, _, after = self.announcements[announcement][lang].partition(
            ANNOUNCEMENTS[announcement]
        )
        return before.strip(), after.strip()


def load(path: Path = MENU_FILE, extra_categories: tuple[str, ...] = ()) -> Menu:
    """The menu in ``path`` (the shipped one by default), checked."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MenuError(f"{path}: cannot read the menu file ({exc.strerror}).") from None
    return parse(text, str(path), extra_categories)


def parse(text: str, name: str = "menu.toml", extra_categories: tuple[str, ...] = ()) -> Menu:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MenuError(f"{name}: not valid TOML ({exc}).") from None
    return _Checker(name, BUILTIN_CATEGORIES + extra_categories).menu(raw)


class _Checker:
    def __init__(self, name: str, categories: tuple[str, ...]) -> None:
        self.name = name
        self.categories = frozenset(categories)

    def fail(self, where: str, expected: str) -> MenuError:
        return MenuError(f"{self.name}: {where} must be {expected}.")

    def table(self, raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = raw.get(key)
        if not isinstance(value, dict):
            raise self.fail(f"{where}{key}", "a table")
        return value

    def integer(self, raw: Mapping[str, Any], key: str, low: int, high: int) -> int:
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"settings.{key}", f"a whole number from {low} to {high}")
        return value

    def word(self, raw: Mapping[str, Any], key: str, where: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", "a non-empty string")
        return value

    def key(self, raw: Mapping[str, Any], key: str, where: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or len(value) != 1 or value not in DTMF:
            raise self.fail(f"{where}.{key}", "one phone key (0-9, * or #)")
        return value

    def texts(self, raw: Any, where: str, languages: Mapping[str, Language]) -> dict[str, str]:
        if not isinstance(raw, dict):
            raise self.fail(where, "a table of texts by language")
        texts: dict[str, str] = {}
        for code in languages:
            value = raw.get(code)
            if not isinstance(value, str) or not value.strip():
                raise self.fail(f"{where}.{code}", "the text in that language")
            texts[code] = value.strip()
        unknown = set(raw) - set(languages)
        if unknown:
            raise self.fail(f"{where}.{sorted(unknown)[0]}", "one of the menu's languages")
        return texts

    def menu(self, raw: Mapping[str, Any]) -> Menu:
        settings = self.table(raw, "settings", "")
        languages = self.languages(self.table(raw, "languages", ""))
        steps_raw = self.table(raw, "steps", "")
        silent_key = self.key(settings, "silent_key", "settings")
        steps = {
            name: self.step(name, value, languages, silent_key) for name, value in steps_raw.items()
        }
        for step in steps.values():
            for choice in step.choices:
                if choice.next not in steps and choice.next not in (QUEUE, TRACK):
                    raise self.fail(
                        f"steps.{step.name} choice {choice.key} next",
                        f"a question of the menu, {QUEUE!r} or {TRACK!r}",
                    )
        first = self.word(settings, "first_step", "settings")
        if first not in steps:
            raise self.fail("settings.first_step", "one of the menu's questions")
        default_language = self.word(settings, "default_language", "settings")
        if default_language not in languages:
            raise self.fail("settings.default_language", "one of the menu's languages")
        general_line = self.word(settings, "general_line", "settings")
        if general_line not in FIELDS["line"]:  # type: ignore[operator]
            raise self.fail("settings.general_line", "a service line (women or child)")
        messages_raw = self.table(raw, "messages", "")
        messages = {
            name: self.texts(messages_raw.get(name), f"messages.{name}", languages)
            for name in MESSAGES
        }
        announcements_raw = self.table(raw, "announcements", "")
        announcements: dict[str, dict[str, str]] = {}
        for name, placeholder in ANNOUNCEMENTS.items():
            texts = self.texts(announcements_raw.get(name), f"announcements.{name}", languages)
            for code, text in texts.items():
                if placeholder not in text:
                    raise self.fail(f"announcements.{name}.{code}", f"a text with {placeholder}")
            announcements[name] = texts
        sms_raw = self.table(raw, "texts", "")
        sms: dict[str, dict[str, str]] = {}
        for name, placeholder in SMS.items():
            texts = self.texts(sms_raw.get(name), f"texts.{name}", languages)
            for code, text in texts.items():
                if placeholder not in text:
                    raise self.fail(f"texts.{name}.{code}", f"a text with {placeholder}")
            sms[name] = texts
        callback_key = self.key(settings, "callback_key", "settings")
        return Menu(
            first_step=first,
            default_language=default_language,
            general_line=general_line,
            retries=self.integer(settings, "retries", 1, 10),
            timeout=self.integer(settings, "timeout", 2, 30),
            silent_key=silent_key,
            hold_loops=self.integer(settings, "hold_loops", 1, 30),
            callback_key=callback_key,
            prank_marks=self.integer(settings, "prank_marks", 1, 100),
            prank_priority=self.integer(settings, "prank_priority", 0, 1000),
            callback_attempts=self.integer(settings, "callback_attempts", 1, 10),
            callback_ring_seconds=self.integer(settings, "callback_ring_seconds", 5, 60),
            callback_retry_seconds=self.integer(settings, "callback_retry_seconds", 30, 86400),
            languages=languages,
            steps=steps,
            messages=messages,
            announcements=announcements,
            sms=sms,
        )

    def languages(self, raw: Mapping[str, Any]) -> dict[str, Language]:
        found: dict[str, Language] = {}
        for code, value in raw.items():
            if code not in LANGUAGES:
                raise self.fail(f"languages.{code}", f"one of {', '.join(LANGUAGES)}")
            if not isinstance(value, dict):
                raise self.fail(f"languages.{code}", "a table")
            where = f"languages.{code}"
            found[code] = Language(
                code,
                say=self.word(value, "say", where),
                speech=self.word(value, "speech", where),
                espeak=self.word(value, "espeak", where),
            )
        if not found:
            raise self.fail("languages", "at least one language")
        return found

    def step(self, name: str, raw: Any, languages: Mapping[str, Language], silent_key: str) -> Step:
        where = f"steps.{name}"
        if not isinstance(raw, dict):
            raise self.fail(where, "a table")
        if name in (QUEUE, TRACK) or not name.replace("_", "").isalnum():
            raise self.fail(where, f"named with letters and _ (not {QUEUE!r} or {TRACK!r})")
        field = self.word(raw, "field", where)
        if field not in FIELDS:
            raise self.fail(f"{where}.field", f"one of {', '.join(FIELDS)}")
        choices_raw = raw.get("choices")
        if not isinstance(choices_raw, list) or not choices_raw:
            raise self.fail(f"{where}.choices", "a non-empty list of choices")
        allowed = FIELDS[field] or self.categories
        choices: list[Choice] = []
        for index, item in enumerate(choices_raw):
            at = f"{where}.choices[{index}]"
            if not isinstance(item, dict):
                raise self.fail(at, "a table")
            key = self.key(item, "key", at)
            if key == silent_key or any(c.key == key for c in choices):
                raise self.fail(f"{at}.key", "a key used once and not the silent key")
            value = self.word(item, "value", at)
            if value != NONE and value not in allowed:
                raise self.fail(f"{at}.value", f"{NONE!r} or one of {', '.join(sorted(allowed))}")
            words = item.get("words", [])
            if not isinstance(words, list) or not all(
                isinstance(w, str) and w.strip() for w in words
            ):
                raise self.fail(f"{at}.words", "a list of words")
            emergency = item.get("emergency", False)
            if not isinstance(emergency, bool):
                raise self.fail(f"{at}.emergency", "true or false")
            choices.append(
                Choice(
                    key=key,
                    words=tuple(w.strip().lower() for w in words),
                    value=None if value == NONE else value,
                    next=self.word(item, "next", at),
                    emergency=emergency,
                )
            )
        all_languages = raw.get("all_languages", False)
        if not isinstance(all_languages, bool):
            raise self.fail(f"{where}.all_languages", "true or false")
        return Step(
            name=name,
            field=field,
            prompt=self.texts(raw.get("prompt"), f"{where}.prompt", languages),
            choices=tuple(choices),
            all_languages=all_languages,
        )
