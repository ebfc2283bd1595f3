"""The words a contact may use, built once at start and checked against each other.

Three places name the service lines: the code (:class:`cases.vocabulary.ServiceLine`),
the routing file (``[lines.*]``) and the phone menu. When the routing file's differ
from the code's, or the menu offers a line the server does not have, the server
refuses to start and names the difference, rather than opening a case the
router then refuses. Categories are the built-in ones and the configured
extras; districts come from the districts file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cases.vocabulary import LANGUAGES, Districts, ServiceLine, categories


class VocabularyError(ValueError):
    """The configured words do not agree; the message names the difference."""


@dataclass(frozen=True)
class Vocabulary:
    lines: frozenset[str]
    """Service lines."""
    female_only: frozenset[str]
    """Lines answered by female officers only (the women's line, always)."""
    categories: tuple[str, ...]
    languages: tuple[str, ...]
    districts: Districts

    @classmethod
    def build(
        cls,
        *,
        routing_lines: Mapping[str, bool],
        districts: Districts,
        extra_categories: tuple[str, ...] = (),
    ) -> Vocabulary:
        """The vocabulary, when the code's lines and the routing file's (line -> female only)
        agree; :class:`VocabularyError` naming the difference if not. (The phone menu checks
        that the lines it offers are among these when it loads.)"""
        code = {line.value for line in ServiceLine}
        _same("the routing file", set(routing_lines), code)
        return cls(
            lines=frozenset(code),
            female_only=frozenset(line for line, only in routing_lines.items() if only),
            categories=categories(extra_categories),
            languages=LANGUAGES,
            districts=districts,
        )


def _same(where: str, theirs: set[str], code: set[str]) -> None:
    missing, unknown = sorted(code - theirs), sorted(theirs - code)
    if not missing and not unknown:
        return
    parts = []
    if missing:
        parts.append(f"lacks the service line(s) {', '.join(missing)}")
    if unknown:
        parts.append(f"names service line(s) the code does not know: {', '.join(unknown)}")
    raise VocabularyError(
        f"{where} {' and '.join(parts)}; the service lines are {', '.join(sorted(code))}."
    )
