"""Tracking codes: 12 digits, random, with a Damm check digit.

The Damm check digit catches every single wrong digit and every swap of two
neighbouring digits, the two mistakes people make reading a code aloud or
typing it on a phone keypad. Eleven random digits give 10^11 codes, so a
guess almost never lands on a real case (and guessing is rate-limited).

A code typed anywhere (the citizen page, /track, the console, the phone
keypad) is read by one parser, :meth:`TrackingCode.parse`: Urdu (Extended
Arabic-Indic) and Arabic-Indic digits count as digits, and any kind of space
and any dash between them is ignored. Pages show one form, :func:`display`
(``1234 5678 9012``; ``safecall/web/tracking-code.js`` is the same for pages).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from safecall.refusals import Invalid

LENGTH = 12

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def check_digit(digits: str) -> str:
    interim = 0
    for c in digits:
        interim = _DAMM[interim][int(c)]
    return str(interim)


def new_code() -> str:
    """A fresh random code (uniqueness is the database's unique constraint)."""
    body = f"{secrets.randbelow(10 ** (LENGTH - 1)):0{LENGTH - 1}d}"
    return body + check_digit(body)


# Urdu and Arabic keyboards type these digits; a code is the same number either way.
_DIGITS = str.maketrans(
    {chr(0x06F0 + i): str(i) for i in range(10)} | {chr(0x0660 + i): str(i) for i in range(10)}
)
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d\u0640")
"""Hyphens, dashes and minus signs people type between groups (and the Arabic tatweel)."""
_INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u2066\u2067\u2068\u2069\ufeff")
"""Zero-width and direction marks that right-to-left keyboards and copying insert."""


def ascii_digits(text: str) -> str:
    """``text`` with Urdu and Arabic-Indic digits as ASCII ones (a PIN typed on an Urdu
    keyboard is the same PIN)."""
    return text.translate(_DIGITS)


def normalise(text: str) -> str | None:
    """The 12 ASCII digits of a typed code, or None when it is not 12 digits.

    Urdu and Arabic-Indic digits are read as digits; spaces of any kind, dashes and
    invisible direction marks are ignored. The check digit is not looked at here.
    """
    digits = "".join(
        c
        for c in text.translate(_DIGITS)
        if not c.isspace() and c not in _DASHES and c not in _INVISIBLE
    )
    if len(digits) != LENGTH or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def is_valid(code: str) -> bool:
    """True for 12 digits whose check digit matches."""
    return len(code) == LENGTH and code.isascii() and code.isdigit() and check_digit(code) == "0"


def display(code: str) -> str:
    """``123456789012`` -> ``1234 5678 9012``, easy to read out."""
    return " ".join(code[i : i + 4] for i in range(0, LENGTH, 4))


@dataclass(frozen=True)
class TrackingCode:
    """A case's tracking code: 12 ASCII digits whose check digit matches."""

    digits: str

    def __post_init__(self) -> None:
        if not is_valid(self.digits):
            raise ValueError(f"not a tracking code: {self.digits!r}")

    @classmethod
    def parse(cls, typed: str) -> TrackingCode:
        """The code she typed, however she typed it (see :func:`normalise`); an
        :class:`~safecall.refusals.Invalid` ``invalid_tracking_code`` otherwise."""
        code = cls.read(typed)
        if code is None:
            raise Invalid(
                "invalid_tracking_code",
                "That tracking code is not right: it has 12 digits; check it and try again.",
            )
        return code

    @classmethod
    def read(cls, typed: str) -> TrackingCode | None:
        """The code, or None when ``typed`` is not one (wrong length or check digit)."""
        digits = normalise(typed)
        if digits is None or not is_valid(digits):
            return None
        return cls(digits)

    def display(self) -> str:
        return display(self.digits)

    def __str__(self) -> str:
        return self.digits
