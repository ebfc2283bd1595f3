"""Scoring a report against the other kind: the true child first, with reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from children.matching import Description, Registry, rank

LAST_SEEN = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def describe(report_id: str, kind: str, names: tuple[str, ...] = (), **fields: Any) -> Description:
    values: dict[str, Any] = {
        "parent_names": (),
        "age_min": None,
        "age_max": None,
        "gender": None,
        "height_min_cm": None,
        "height_max_cm": None,
        "place": None,
        "district": None,
        "at": LAST_SEEN,
        "languages": (),
        "marks": "",
        "clothing": "",
        "photo_hashes": (),
    }
    values.update(fields)
    return Description(report_id=report_id, kind=kind, names=names, **values)  # type: ignore[arg-type]


LAHORE = (31.5204, 74.3587)
NEAR_LAHORE = (31.55, 74.34)
KARACHI = (24.86, 67.0)


def missing_boy() -> Description:
    return describe(
        "m-1",
        "missing",
        ("محمد علی",),
        parent_names=("Muhammad Aslam",),
        age_min=7,
        age_max=7,
        gender="boy",
        height_min_cm=118,
        height_max_cm=122,
        place=LAHORE,
        district="Lahore",
        languages=("Punjabi", "Urdu"),
        marks="burn scar on left hand",
        clothing="blue shalwar kameez, black sandals",
    )


def test_the_true_match_ranks_first_over_decoys() -> None:
    new = missing_boy()
    true = describe(
        "f-true",
        "found",
        ("Mohammad Ali",),
        parent_names=("Aslam",),
        age_min=6,
        age_max=9,
        gender="boy",
        place=NEAR_LAHORE,
        at=LAST_SEEN + timedelta(hours=6),
        languages=("punjabi",),
        marks="scar on hand",
        clothing="blue kameez",
    )
    decoys = [
        describe(
            "f-a",
            "found",
            ("Ali Raza",),
            age_min=12,
            age_max=13,
            gender="boy",
            at=LAST_SEEN + timedelta(hours=1),
        ),
        describe(
            "f-b",
            "found",
            ("Muhammad Bilal",),
            age_min=7,
            age_max=8,
            gender="boy",
            place=NEAR_LAHORE,
            at=LAST_SEEN + timedelta(hours=3),
        ),
        describe(
            "f-c", "found", (), age_min=7, age_max=7, gender="boy", at=LAST_SEEN + timedelta(days=2)
        ),
    ]
    ranked = rank(new, [*decoys, true])
    assert ranked[0].report_id == "f-true"
    assert ranked[0].score > 0.9
    assert all(c.score < ranked[0].score for c in ranked[1:])
    reasons = " | ".join(ranked[0].reasons)
    assert "name: محمد علی ≈ Mohammad Ali" in reasons
    assert "parent:" in reasons and "gender: both boys" in reasons
    assert "km apart" in reasons and "marks: hand, scar" in reasons


def test_a_different_gender_is_penalised() -> None:
    new = missing_boy()
    boy = describe("f-boy", "found", ("Ali",), age_min=7, age_max=7, gender="boy")
    girl = describe("f-girl", "found", ("Ali",), age_min=7, age_max=7, gender="girl")
    scores = {c.report_id: c for c in rank(new, [boy, girl])}
    assert scores["f-boy"].score > scores["f-girl"].score + 0.5
    assert any("gender differs" in r for r in scores["f-girl"].reasons)


def test_found_before_last_seen_is_ruled_out() -> None:
    new = missing_boy()
    before = describe(
        "f-early",
        "found",
        ("Mohammad Ali",),
        age_min=7,
        age_max=7,
        gender="boy",
        at=LAST_SEEN - timedelta(days=1),
    )
    after = describe(
        "f-late",
        "found",
        ("Mohammad Ali",),
        age_min=7,
        age_max=7,
        gender="boy",
        at=LAST_SEEN + timedelta(days=1),
    )
    assert [c.report_id for c in rank(new, [before, after])] == ["f-late"]


def test_too_far_for_the_time_elapsed_lowers_the_score() -> None:
    new = missing_boy()
    near = describe(
        "f-near", "found", ("Ali",), place=NEAR_LAHORE, at=LAST_SEEN + timedelta(hours=2)
    )
    far = describe("f-far", "found", ("Ali",), place=KARACHI, at=LAST_SEEN + timedelta(hours=2))
    scores = {c.report_id: c for c in rank(new, [near, far])}
    assert scores["f-near"].score > scores["f-far"].score
    assert any("too far" in r for r in scores["f-far"].reasons)


def test_only_reports_of_the_other_kind_are_compared() -> None:
    new = missing_boy()
    other_missing = describe("m-2", "missing", ("محمد علی",), age_min=7, age_max=7)
    assert rank(new, [other_missing]) == []
    registry = Registry()
    registry.add(other_missing)
    assert registry.rank(new) == []


def test_registry_add_remove() -> None:
    registry = Registry()
    found = describe(
        "f-1", "found", ("Mohammad Ali",), gender="boy", at=LAST_SEEN + timedelta(hours=1)
    )
    registry.add(found)
    assert [c.report_id for c in registry.rank(missing_boy())] == ["f-1"]
    registry.remove("f-1")
    registry.remove("f-unknown")
    assert registry.rank(missing_boy()) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "lost"}, "kind must be"),
        ({"gender": "unknown"}, "gender must be"),
        ({"at": datetime(2026, 11, 1, 9, 0)}, "aware"),
        ({"place": (float("nan"), 74.0)}, "place must be"),
        ({"place": (95.0, 74.0)}, "place must be"),
        ({"photo_hashes": (-1,)}, "64-bit"),
        ({"photo_hashes": (2**64,)}, "64-bit"),
    ],
)
def test_a_description_that_cannot_be_compared_is_refused(
    fields: dict[str, object], message: str
) -> None:
    kind = fields.pop("kind", "found")
    with pytest.raises(ValueError, match=message):
        describe("f-bad", kind, ("Ali",), **fields)  # type: ignore[arg-type]


def test_a_pasted_essay_is_read_only_so_far() -> None:
    essay = " ".join(["Ali"] + ["Zainab"] * 5000)
    found = describe("f-long", "found", (essay,) * 50, at=LAST_SEEN + timedelta(hours=1))
    [candidate] = rank(missing_boy(), [found])
    assert candidate.report_id == "f-long"


@pytest.mark.parametrize(
    ("hours", "said"),
    [(0.2, "less than an hour"), (1, "1 hour"), (5, "5 hours"), (30, "30 hours"), (72, "3 days")],
)
def test_the_time_elapsed_reads_as_an_officer_says_it(hours: float, said: str) -> None:
    found = describe("f-1", "found", ("Ali",), at=LAST_SEEN + timedelta(hours=hours))
    [candidate] = rank(missing_boy(), [found])
    assert f"time: found {said} after last seen" in candidate.reasons
