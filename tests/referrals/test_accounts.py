"""Station and institution accounts from the shell: scoped to a place that fits their role;
the centre's roles keep working as before. And the steps a referral may take."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referrals.states import CLOSED, NEXT, Status, may_move
from tests.officers.test_cli import ADD, cli, officers_in  # noqa: F401  (the cli fixture)


def _add(badge: str, role: str, place: str | None) -> list[str]:
    args = [*ADD]
    args[args.index("B-101")] = badge
    args[args.index("officer", 2)] = role
    if place is not None:
        args += ["--place", place]
    return args


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_field_accounts_belong_to_a_place_that_fits(cli, settings) -> None:  # noqa: F811
    assert cli(_add("S-1", "station", "lahore-ps-gulberg"))[0] == 0
    assert cli(_add("S-2", "station", "lahore-dpo"))[0] == 0
    assert cli(_add("I-1", "institution", "lahore-shelter"))[0] == 0
    assert cli(_add("C-1", "officer", None))[0] == 0  # the centre's roles as before
    for args, words in (
        (_add("S-3", "station", None), "needs --place"),
        (_add("S-4", "station", "lahore-shelter"), "of kind"),
        (_add("I-2", "institution", "lahore-ps-gulberg"), "of kind"),
        (_add("S-5", "station", "atlantis-ps"), "no place 'atlantis-ps'"),
        (_add("C-2", "supervisor", "lahore-ps-gulberg"), "Only station and institution"),
    ):
        code, _, err = cli(args)
        assert code == 2 and words in err, err
    places = {o.badge: (o.role, o.place) for o in officers_in(settings)}
    assert places == {
        "S-1": ("station", "lahore-ps-gulberg"),
        "S-2": ("station", "lahore-dpo"),
        "I-1": ("institution", "lahore-shelter"),
        "C-1": ("officer", None),
    }
    code, out, _ = cli(["officer", "list"])
    assert code == 0 and "lahore-ps-gulberg" in out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(list(Status)), max_size=12))
def test_a_referral_moves_only_forward_and_stops_when_closed(steps: list[Status]) -> None:
    status = Status.SENT
    seen = [status]
    for step in steps:
        if may_move(status, step):
            assert step in NEXT[status]
            status = step
            seen.append(status)
        else:
            assert step not in NEXT[status]
    # never back to an earlier status, and nothing after a closed one
    order = list(Status)
    open_part = [s for s in seen if s not in CLOSED]
    assert open_part == sorted(open_part, key=order.index)
    assert all(s not in CLOSED for s in seen[:-1])
