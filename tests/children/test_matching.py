"""Scoring a report against the other kind: the true child first, with reasons."""

from __future__ import annotations

from datetime import timedelta

from children.matching import Registry, rank
from tests.children.support import LAST_SEEN, describe

LAHORE = (31.5204, 74.3587)
NEAR_LAHORE = (31.55, 74.34)
KARACHI = (24.86, 67.0)


def missing_boy() -> object:
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
