"""The words used everywhere: service lines, categories, statuses, channels, dispositions,
districts."""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Protocol

from safecall.refusals import Invalid


class ServiceLine(StrEnum):
    WOMEN = "women"
    CHILD = "child"


class Staff(Protocol):
    """What :func:`eligible` reads of an officer: a routing profile or an officer row."""

    @property
    def gender(self) -> str: ...

    @property
    def lines(self) -> Collection[str]: ...


def eligible(officer: Staff, line: str, female_only: bool) -> bool:
    """May this officer answer the service line ``line``: the rule, written once.

    She is on the line, and a female-only line is answered by a female officer only.
    ``female_only`` is the line's flag from the routing file (``[lines.<line>]``), looked up
    by the caller with a strict lookup (``RoutingConfig.female_only``): a line the routing
    file does not name is refused at start (:mod:`contacts.vocabulary`), never defaulted.
    The routing policy, its board and statistics, case assignment and the Redis store's
    offer step (``make_offer`` in ``queues/lua/_lib.lua``, from the flag each task carries)
    all apply this rule; the property test in ``tests/queues/test_eligibility.py`` holds
    them to it.
    """
    return line in officer.lines and (not female_only or officer.gender == "female")


class CaseStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    RESOLVED_BY_RECONCILIATION = "resolved_by_reconciliation"
    FIR_REGISTERED = "fir_registered"
    UNDER_INVESTIGATION = "under_investigation"
    FAST_TRACKED = "fast_tracked"
    REFERRED = "referred"
    CLOSED = "closed"


class Channel(StrEnum):
    CHAT = "chat"
    BROWSER_AUDIO = "browser_audio"
    BROWSER_VIDEO = "browser_video"
    PHONE = "phone"
    SMS = "sms"
    """Text messages to the centre's number (a silent contact, routed like chat)."""
    WHATSAPP = "whatsapp"
    """WhatsApp messages to the centre's WhatsApp sender (routed like chat)."""


class Disposition(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # she left before an officer answered
    MISSED = "missed"  # no officer answered before the time-to-live
    TRANSFERRED = "transferred"
    DROPPED = "dropped"  # the connection broke during the conversation
    FAILED = "failed"  # our fault, with the reason


BUILTIN_CATEGORIES = (
    "domestic_violence",
    "harassment",
    "sexual_violence",
    "attempted_murder",
    "acid_attack",
    "cyber_harassment",
    "missing_child",
    "runaway_child",
    "vulnerable_child",
    "other",
)

LANGUAGES = ("ur", "en", "pa")


def categories(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Built-in categories followed by those added by configuration."""
    return BUILTIN_CATEGORIES + tuple(c for c in extra if c not in BUILTIN_CATEGORIES)


# Coarse status shown on the public tracking page: never more detail than this.
PUBLIC_STATUS = {
    CaseStatus.NEW: "received",
    CaseStatus.IN_PROGRESS: "in_progress",
    CaseStatus.RESOLVED_BY_RECONCILIATION: "resolved",
    CaseStatus.FIR_REGISTERED: "with_police",
    CaseStatus.UNDER_INVESTIGATION: "with_police",
    CaseStatus.FAST_TRACKED: "with_police",
    CaseStatus.REFERRED: "referred",
    CaseStatus.CLOSED: "closed",
}


# --- districts: chosen from a list, never typed -------------------------------------------


@dataclass(frozen=True)
class District:
    code: str
    """What is stored (``lahore``)."""
    names: Mapping[str, str]
    """Its name by language (``en``, ``ur``)."""


class Districts:
    """The districts a contact, a case or an officer may name (``cases/districts.toml``, or the
    deployment's own file): a preference routes by exact code, so it is chosen, not typed."""

    def __init__(self, districts: Iterable[District]) -> None:
        self.by_code = {d.code: d for d in districts}
        self._by_name = {
            name.casefold(): d.code for d in self.by_code.values() for name in d.names.values()
        }

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def __iter__(self) -> Iterator[District]:
        return iter(self.by_code.values())

    def __len__(self) -> int:
        return len(self.by_code)

    def parse(self, text: str) -> str:
        """The district's code, from its code or one of its names (case and surrounding spaces
        ignored); :class:`~safecall.refusals.Invalid` ``unknown_district`` otherwise."""
        key = " ".join(text.split()).casefold()
        if key in self.by_code:
            return key
        code = self._by_name.get(key)
        if code is None:
            raise Invalid("unknown_district", "Choose the district from the list.")
        return code


DISTRICTS_FILE = "districts.toml"


def load_districts(path: Path | None = None) -> Districts:
    """The districts in ``path`` (a TOML file of ``[district.<code>]`` tables with ``en`` and
    ``ur`` names), or the packaged list of Punjab's districts."""
    if path is None:
        text = resources.files("cases").joinpath(DISTRICTS_FILE).read_text(encoding="utf-8")
        where = DISTRICTS_FILE
    else:
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        table = tomllib.loads(text).get("district")
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: not valid TOML ({exc}).") from None
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{where}: needs at least one [district.<code>] table.")
    districts = []
    for code, names in table.items():
        if not code.replace("_", "").isalnum() or not code.isascii() or code != code.lower():
            raise ValueError(f"{where}: district code {code!r} must be lower_case ASCII.")
        if not isinstance(names, dict) or not all(
            isinstance(names.get(lang), str) and names[lang].strip() for lang in ("en", "ur")
        ):
            raise ValueError(f"{where}: [district.{code}] needs en and ur names.")
        districts.append(District(code, {k: str(v) for k, v in names.items()}))
    return Districts(districts)
