"""The words of updates (``messaging/texts.toml``), checked at load: every step has a neutral
and a police-named text in every language."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

from cases.vocabulary import LANGUAGES

STEPS = (
    "officer_assigned",
    "referred",
    "unit_on_the_way",
    "fir_registered",
    "under_investigation",
    "challan",
    "hearing_date",
    "closed",
)
POLICE_WORDS = ("police", "fir", "پولیس", "ایف آئی آر", "تھانے", "thana", "officer", "افسر")
"""Words a neutral text must never hold (checked at load)."""


class TextsError(ValueError):
    """The texts file is incomplete; the message names what is missing."""


@dataclass(frozen=True)
class Texts:
    table: dict[str, dict[str, dict[str, str]]]
    """step -> neutral|named -> language -> text"""

    def update(self, step: str, language: str, *, name_police: bool, date: str = "") -> str:
        """The message for ``step`` in ``language``, with the STOP line."""
        variant = "named" if name_police else "neutral"
        body = self.table[step][variant][language].format(date=date)
        return f"{body} {self.table['footer'][variant][language]}"

    @classmethod
    def load(cls) -> Texts:
        raw = tomllib.loads(
            resources.files("messaging").joinpath("texts.toml").read_text(encoding="utf-8")
        )
        for step in (*STEPS, "footer"):
            for variant in ("neutral", "named"):
                for language in LANGUAGES:
                    text = raw.get(step, {}).get(variant, {}).get(language)
                    if not isinstance(text, str) or not text.strip():
                        raise TextsError(f"texts.toml: [{step}] {variant}.{language} is missing.")
                    if variant == "neutral" and step != "footer":
                        lowered = text.lower()
                        found = [w for w in POLICE_WORDS if w in lowered]
                        if found:
                            raise TextsError(
                                f"texts.toml: [{step}] neutral.{language} names {found[0]!r}."
                            )
        return cls(raw)
