"""Her safe times: the next moment a message may go is inside her windows, never early, and
no safe minute before it is skipped. And every neutral text stays neutral."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.safe_times import inside, next_safe, parse_windows
from messaging.texts import POLICE_WORDS, STEPS, Texts
from safecall.refusals import Invalid

ZONE = ZoneInfo("Asia/Karachi")
minutes = st.integers(0, 24 * 60)


@st.composite
def windows(draw: st.DrawFn) -> list[list[str]]:
    chosen = []
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, 24 * 60 - 1))
        end = draw(st.integers(start + 1, 24 * 60))
        chosen.append([f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"])
    return chosen


@settings(max_examples=80, deadline=None)
@given(
    raw=windows(),
    now=st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
)
def test_the_next_safe_moment(raw: list[list[str]], now: datetime) -> None:
    parsed = parse_windows(raw)
    due = next_safe(now, parsed, ZONE)
    assert due >= now
    assert inside(due, parsed, ZONE)
    # no whole minute between now and then was safe
    probe = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while probe < due:
        assert not inside(probe, parsed, ZONE)
        probe += timedelta(minutes=1)


def test_windows_are_checked() -> None:
    for raw in (
        [],
        [["10:00", "09:00"]],
        [["10:00"]],
        [["7:00", "08:00"]],
        [["24:30", "24:40"]],
        [["00:00", "01:00"]] * 5,
    ):
        with pytest.raises(Invalid):
            parse_windows(raw)


@pytest.mark.parametrize("language", ["ur", "en", "pa"])
def test_neutral_texts_never_name_the_police(language: str) -> None:
    texts = Texts.load()
    for step in STEPS:
        text = texts.update(step, language, name_police=False, date="12-01-2027").lower()
        assert not [w for w in POLICE_WORDS if w in text], (step, language)
        assert "STOP" in texts.update(step, language, name_police=True)
