"""The registry's indexes give the answers of a full scan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from children import names
from children.matching import NAME_CUTOFF, Description, Registry, profile, rank
from tests.children.test_matching import LAST_SEEN, describe

NAMES = [
    "Muhammad Ali",
    "محمد علی",
    "Ali Khan",
    "Fatima",
    "فاطمہ بی بی",
    "Fatimah Butt",
    "Ayesha",
    "عائشہ",
    "Zainab",
    "Usman",
    "Sohail",
    "Shail",
    "Muhammad",
    "Khadija Bibi",
]
PLACES = [(31.52, 74.36), (31.55, 74.30), (24.86, 67.01), (33.6, 73.05)]


@st.composite
def descriptions(draw: st.DrawFn, kind: str | None = None) -> Description:
    age = draw(st.one_of(st.none(), st.integers(1, 16)))
    spread = draw(st.integers(0, 2))
    fields: dict[str, Any] = {
        "parent_names": tuple(draw(st.lists(st.sampled_from(NAMES), max_size=1))),
        "age_min": None if age is None else max(0, age - spread),
        "age_max": age,
        "gender": draw(st.sampled_from([None, "girl", "boy"])),
        "place": draw(st.one_of(st.none(), st.sampled_from(PLACES))),
        "at": LAST_SEEN + timedelta(hours=draw(st.integers(-72, 72))),
        "marks": draw(st.sampled_from(["", "scar on left cheek", "mole near eye"])),
        "photo_hashes": tuple(
            draw(st.lists(st.sampled_from([0, 1, 2**40, 2**63 - 1]), max_size=1))
        ),
    }
    return describe(
        f"r{draw(st.integers(0, 40))}",
        kind or draw(st.sampled_from(["missing", "found"])),
        tuple(draw(st.lists(st.sampled_from(NAMES), max_size=2))),
        **fields,
    )


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), descriptions()),
        st.tuples(st.just("remove"), st.integers(0, 40).map(lambda i: f"r{i}")),
    ),
    max_size=30,
)


def _replay(registry: Registry, ops: list[tuple[str, Any]]) -> dict[str, Description]:
    open_reports: dict[str, Description] = {}
    for op, value in ops:
        if op == "add":
            registry.add(value)
            open_reports[value.report_id] = value
        else:
            registry.remove(value)
            open_reports.pop(value, None)
    return open_reports


@settings(max_examples=100, deadline=None)
@given(operations, descriptions())
def test_a_small_registry_ranks_as_a_full_scan(
    ops: list[tuple[str, Any]], new: Description
) -> None:
    registry = Registry()
    open_reports = _replay(registry, ops)
    assert len(registry) == len(open_reports)
    expected = rank(new, open_reports.values(), top=5)
    assert registry.rank(new, top=5) == expected
    assert all(open_reports[c.report_id].kind != new.kind for c in expected)


@settings(max_examples=100, deadline=None)
@given(operations, descriptions())
def test_blocking_keeps_every_report_with_a_close_name(
    ops: list[tuple[str, Any]], new: Description
) -> None:
    registry = Registry(min_block=1)  # the indexes alone, no widening while anything is blocked
    open_reports = _replay(registry, ops)
    blocked = set(registry.block(new))
    mine = profile(new)
    for d in open_reports.values():
        if d.kind == new.kind:
            assert d.report_id not in blocked
            continue
        theirs = profile(d)
        close = any(
            names.word_similarity(a, b) >= NAME_CUTOFF
            for a in mine.name_keys
            for b in theirs.name_keys
        ) or any(
            names.word_similarity(a, b) >= NAME_CUTOFF
            for a in mine.parent_keys
            for b in theirs.parent_keys
        )
        if close:
            assert d.report_id in blocked, (new.names, d.names)
    # what the registry returns is what a full scan says of those reports
    full = {c.report_id: c for c in rank(new, open_reports.values(), top=1000)}
    ranked = registry.rank(new, top=1000)
    assert all(full[c.report_id] == c for c in ranked)
    assert ranked == sorted(ranked, key=lambda c: (-c.score, c.report_id))
