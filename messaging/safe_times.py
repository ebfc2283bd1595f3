"""Her safe times: windows of the day (local time) when a message may reach her phone.

A window is ``"HH:MM"`` to ``"HH:MM"`` (the end excluded; ``"24:00"`` is the
end of the day; a window may not run past midnight: give two). A message
made outside every window waits for the next window's start.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from safecall.refusals import Invalid

_TIME = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")
MAX_WINDOWS = 4

Window = tuple[int, int]
"""Minutes from local midnight: [start, end)."""


def _minutes(text: str) -> int:
    match = _TIME.match(text.strip())
    if match is None or (match.group(1) == "24" and match.group(2) != "00"):
        raise Invalid("invalid_safe_times", "Safe times are HH:MM to HH:MM, like 10:00 to 12:30.")
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_windows(raw: list[list[str]]) -> list[Window]:
    """Her windows, checked: 1 to 4, each start before its end."""
    if not raw or len(raw) > MAX_WINDOWS:
        raise Invalid("invalid_safe_times", "Give 1 to 4 safe times, or say any time is safe.")
    windows = []
    for pair in raw:
        if len(pair) != 2:
            raise Invalid("invalid_safe_times", "Each safe time is a start and an end.")
        start, end = _minutes(pair[0]), _minutes(pair[1])
        if start >= end:
            raise Invalid(
                "invalid_safe_times",
                "A safe time starts before it ends (give two for a night across midnight).",
            )
        windows.append((start, end))
    return sorted(windows)


def as_text(windows: list[Window]) -> list[list[str]]:
    return [[f"{s // 60:02d}:{s % 60:02d}", f"{e // 60:02d}:{e % 60:02d}"] for s, e in windows]


def next_safe(now: datetime, windows: list[Window], zone: ZoneInfo) -> datetime:
    """The first moment at or after ``now`` that is inside one of ``windows`` (UTC)."""
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    for day in range(0, 3):
        date = (local + timedelta(days=day)).date()
        for start, end in windows:
            if day == 0 and start <= minute < end:
                return now
            if day == 0 and start <= minute:
                continue
            at = datetime.combine(date, time(start // 60, start % 60), tzinfo=zone)
            if at >= local:
                return at.astimezone(UTC)
    raise AssertionError("a window within two days always exists")  # pragma: no cover


def inside(moment: datetime, windows: list[Window], zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in windows)
