"""Tracking codes: 12 digits, random, with a Damm check digit.

The Damm check digit catches every single wrong digit and every swap of two
neighbouring digits, the two mistakes people make reading a code aloud or
typing it on a phone keypad. Eleven random digits give 10^11 codes, so a
guess almost never lands on a real case (and guessing is rate-limited).
"""

from __future__ import annotations

import secrets

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


def normalise(text: str) -> str | None:
    """Digits of a typed code (spaces and dashes allowed), or None when it is not 12 digits."""
    digits = "".join(c for c in text if c not in " -")
    if len(digits) != LENGTH or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def is_valid(code: str) -> bool:
    """True for 12 digits whose check digit matches."""
    return len(code) == LENGTH and code.isascii() and code.isdigit() and check_digit(code) == "0"


def display(code: str) -> str:
    """``123456789012`` -> ``1234 5678 9012``, easy to read out."""
    return " ".join(code[i : i + 4] for i in range(0, LENGTH, 4))
