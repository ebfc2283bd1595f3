"""Checking what an operator types for an officer account: one sentence per mistake.

Each ``parse_*`` returns the clean value or raises :class:`ValueError` whose
message is a sentence naming the field and what it expects.
"""

from __future__ import annotations

import re

from cases.vocabulary import LANGUAGES, ServiceLine, categories
from officers.passwords import MAX_LENGTH, MIN_LENGTH
from safecall.endpoint import FIELD, ROLES

GENDERS = ("female", "male")
FIELD_ROLES = FIELD
"""Roles whose accounts belong to a place (``--place``)."""
_BADGE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")


def _items(raw: str) -> list[str]:
    seen: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if item and item not in seen:
            seen.append(item)
    return seen


def parse_badge(raw: str) -> str:
    badge = raw.strip().upper()
    if not _BADGE.match(badge):
        raise ValueError(
            "The badge must be 1 to 32 letters, digits or dashes, starting with a letter "
            f"or digit (like B-101), not {raw!r}."
        )
    return badge


def parse_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= 120 or not name.isprintable():
        raise ValueError("The name must be 1 to 120 printable characters.")
    return name


def parse_role(raw: str) -> str:
    if raw not in ROLES:
        raise ValueError(f"The role must be one of {', '.join(ROLES)}, not {raw!r}.")
    return raw


def parse_gender(raw: str) -> str:
    if raw not in GENDERS:
        raise ValueError(f"The gender must be one of {', '.join(GENDERS)}, not {raw!r}.")
    return raw


def parse_languages(raw: str) -> list[str]:
    languages = [item.lower() for item in _items(raw)]
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown or not languages:
        raise ValueError(
            f"The languages must be a comma-separated list from {', '.join(LANGUAGES)}"
            + (f"; {', '.join(unknown)} is not one." if unknown else ".")
        )
    return languages


def parse_lines(raw: str) -> list[str]:
    known = [line.value for line in ServiceLine]
    lines = [item.lower() for item in _items(raw)]
    unknown = [line for line in lines if line not in known]
    if unknown or not lines:
        raise ValueError(
            f"The lines must be a comma-separated list from {', '.join(known)}"
            + (f"; {', '.join(unknown)} is not one." if unknown else ".")
        )
    return lines


def parse_skills(raw: str, extra_categories: tuple[str, ...] = ()) -> dict[str, int]:
    """``domestic_violence=5,harassment=4``: a known category and a level from 1 to 5 each."""
    known = categories(extra_categories)
    skills: dict[str, int] = {}
    for item in _items(raw):
        category, sep, level = (part.strip() for part in item.partition("="))
        if not sep or category not in known:
            raise ValueError(
                f"Each skill must be category=level with a known category "
                f"({', '.join(known)}); {item!r} is not."
            )
        if level not in ("1", "2", "3", "4", "5"):
            raise ValueError(f"The skill level of {category} must be 1 to 5, not {level!r}.")
        skills[category] = int(level)
    return skills


def parse_district(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    district = " ".join(raw.split())
    if len(district) > 64 or not district.isprintable():
        raise ValueError("The district must be at most 64 printable characters.")
    return district


def check_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"The password must be at least {MIN_LENGTH} characters long.")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"The password must be at most {MAX_LENGTH} characters long.")
    return password
