"""One rule for who may answer a service line (:func:`cases.vocabulary.eligible`), and every
path agrees with it: the policy, the board (its indexes and its choice), the statistics,
case assignment, and each store's offer step (the Lua ``make_offer`` on Redis), for
generated officers and routing files.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.casework import CaseworkError, check_assignee
from cases.vocabulary import eligible
from officers.models import Officer as OfficerRow
from queues import config as routing_config
from queues import policy
from queues.board import Board
from queues.config import RoutingConfig
from queues.model import Officer, OfficerProfile, Presence, Task
from queues.stats import officers_by_state
from tests.queues.conftest import flush_redis, new_store
from tests.queues.helpers import config_with

LINES = ("women", "child", "elder")
NOW = 1_000_000.0


def _config(flags: dict[str, bool]) -> RoutingConfig:
    text = "\n".join(
        f"[lines.{line}]\nfemale_only = {str(only).lower()}" for line, only in flags.items()
    )
    return config_with(lines=text)


cases = st.fixed_dictionaries(
    {
        "gender": st.sampled_from(["female", "male"]),
        "officer_lines": st.sets(st.sampled_from(LINES)),
        "line": st.sampled_from(LINES),
        "child_only": st.booleans(),
        "elder_only": st.booleans(),
        "role": st.sampled_from(["officer", "supervisor"]),
    }
)


def _task(config: RoutingConfig, line: str) -> Task:
    return Task(
        id="t1",
        session_id="t1",
        line=line,
        channel="chat",
        kind="chat",
        cost=config.cost("chat"),
        priority=config.default_priority,
        arrived=NOW,
        ttl_at=NOW + config.ttl,
        female_only=config.female_only(line),
    )


def _setup(case: dict[str, Any]) -> tuple[RoutingConfig, OfficerProfile, bool]:
    config = _config({"women": True, "child": case["child_only"], "elder": case["elder_only"]})
    profile = OfficerProfile(1, case["gender"], frozenset(case["officer_lines"]))
    return config, profile, eligible(profile, case["line"], config.female_only(case["line"]))


def _profile() -> settings:
    return settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


@_profile()
@given(case=cases)
def test_policy_board_stats_and_casework_agree_with_eligible(case: dict[str, Any]) -> None:
    config, profile, expected = _setup(case)
    line = case["line"]
    task = _task(config, line)
    officer = Officer(profile, config.capacity_units, Presence.AVAILABLE, idle_since=NOW - 1)
    # The policy: the hard rule and the check every store step repeats.
    assert policy.hard_ok(profile, task) is expected
    assert (policy.refusal(officer, task, NOW) is None) is expected
    # The board: filed under the line (staffed, free) only when eligible; its choice.
    board = Board(config)
    board.put_officer(officer, NOW)
    board.put_task(task, NOW)
    assert board.staffed(line) == int(expected)
    assert (board.best_officer(task, NOW) is not None) is expected
    assert (board.first_task(officer, NOW) is not None) is expected
    # The statistics count her among the line's officers only when eligible.
    assert sum(officers_by_state(board, line, NOW).values()) == int(expected)
    # Case assignment.
    row = OfficerRow(gender=case["gender"], lines=sorted(case["officer_lines"]), role=case["role"])
    if expected:
        check_assignee(row, line, config.lines)
    else:
        with pytest.raises(CaseworkError) as refused:
            check_assignee(row, line, config.lines)
        assert refused.value.code == "assignee_not_eligible"


async def _store_offers(kind: str, case: dict[str, Any]) -> None:
    config, profile, expected = _setup(case)
    if kind == "redis":
        await flush_redis()
    store = new_store(kind, config)
    await store.open(NOW)
    try:
        await store.register(profile, NOW)
        await store.set_presence(1, Presence.AVAILABLE, NOW, exclude_until=NOW)
        await store.enqueue(_task(config, case["line"]), NOW)
        outcome = await store.reserve("t1", 1, NOW, NOW + config.offer_timeout)
        assert outcome.ok is expected, outcome
        if not expected:
            assert outcome.reason == "hard_rule"
    finally:
        await store.close()


@_profile()
@given(case=cases)
def test_the_in_process_store_offers_only_to_eligible_officers(case: dict[str, Any]) -> None:
    asyncio.run(_store_offers("memory", case))


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=cases)
def test_the_redis_store_offers_only_to_eligible_officers(case: dict[str, Any]) -> None:
    asyncio.run(_store_offers("redis", case))


def test_an_unknown_line_is_refused_not_defaulted() -> None:
    config = routing_config.load()
    with pytest.raises(ValueError, match="unknown service line 'elder'"):
        config.female_only("elder")
    with pytest.raises(KeyError):
        check_assignee(OfficerRow(gender="female", lines=["elder"], role="officer"), "elder", {})
