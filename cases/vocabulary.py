"""The words used everywhere: service lines, categories, statuses, channels, dispositions."""

from __future__ import annotations

from enum import StrEnum


class ServiceLine(StrEnum):
    WOMEN = "women"
    CHILD = "child"


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
