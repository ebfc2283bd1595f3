"""The matching policy, written once: pure functions of tasks, officers, config and now.

Both stores and the router use these; nothing here reads a clock or a store.

* Hard rules (:func:`hard_ok`, :func:`offerable`) never relax: a female-only
  line goes to a female officer, the officer answers the task's service line,
  and she has the capacity for it.
* Preferences (:func:`requirement`) relax in steps as the task waits: language,
  proficiency in the category, district; the known officer alone first.
* Disclosure never delays help (:func:`held`): after a short grace
  (``relaxation.grace``), a task's preferences hold it only while an officer who
  meets them is free for it; when none is, whoever the hard rules allow takes it.
* Order: a task's place is by its priority as it ages (:func:`standing`: up by
  one every ``aging.every`` seconds of waiting, up to a ceiling below the
  emergency priority), then arrival; among officers who may take it, the best
  fit (:func:`rank`), then the longest idle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cases.vocabulary import eligible as eligible_for_line
from queues.config import RoutingConfig, Step
from queues.model import Officer, OfficerProfile, Presence, Task, TaskStatus


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a waiting task asks of an officer right now, besides the hard rules.

    Tasks with equal requirements wait in one line-up, so an officer who
    becomes free is matched against line-ups, not against every task.
    """

    line: str
    kind: str
    language: str | None
    """She must speak it (None: any)."""
    category: str | None
    min_proficiency: int
    """At least this skill in ``category`` (0: none asked)."""
    district: str | None
    """She must serve it (None: any)."""
    known_officer: int | None
    """Only this officer (the known-officer window)."""
    firm: bool = True
    """The preferences hold even when nobody who meets them is free: during the grace
    after arrival, and for the known officer. Otherwise they hold only while an officer
    who meets them is free for the task (:func:`held`)."""


def step_at(config: RoutingConfig, waited: float) -> Step:
    """The relaxation step that applies after ``waited`` seconds."""
    current = config.steps[0]
    for step in config.steps:
        if step.after > waited:
            break
        current = step
    return current


def requirement(task: Task, now: float, config: RoutingConfig) -> Requirement:
    if now < task.known_until and task.known_officer is not None:
        return Requirement(task.line, task.kind, None, None, 0, None, task.known_officer)
    waited = now - task.arrived
    step = step_at(config, waited)
    proficiency = step.min_proficiency if task.category else 0
    language = task.language if step.language else None
    district = task.district if step.district else None
    return Requirement(
        line=task.line,
        kind=task.kind,
        language=language,
        category=task.category if proficiency else None,
        min_proficiency=proficiency,
        district=district,
        known_officer=None,
        # A requirement that asks for nothing is the same line-up whether firm or not.
        firm=waited < config.grace or not (language or proficiency or district),
    )


def next_change(task: Task, now: float, config: RoutingConfig) -> float | None:
    """When :func:`requirement` next changes for this task, or None if it never will."""
    if now < task.known_until and task.known_officer is not None:
        return task.known_until
    waited = now - task.arrived
    changes = [task.arrived + step.after for step in config.steps if step.after > waited]
    if config.grace > waited:
        changes.append(task.arrived + config.grace)
    return min(changes, default=None)


def hard_ok(profile: OfficerProfile, task: Task) -> bool:
    """The rules that never relax, on every path into an officer: she may answer the task's
    line (:func:`cases.vocabulary.eligible`, with the flag the task carries from the routing
    file)."""
    return eligible_for_line(profile, task.line, task.female_only)


def offerable(officer: Officer, cost: int, now: float) -> bool:
    """She may be offered a task of this cost now: available, no offer pending, capacity left."""
    return (
        officer.presence == Presence.AVAILABLE
        and officer.offer is None
        and officer.wrap_until <= now
        and officer.load + cost <= officer.capacity
    )


def satisfies(profile: OfficerProfile, need: Requirement) -> bool:
    """She meets the preferences still asked for (hard rules are checked apart)."""
    if need.known_officer is not None:
        return profile.id == need.known_officer
    if need.language is not None and need.language not in profile.languages:
        return False
    if need.min_proficiency and profile.skills.get(need.category or "", 0) < need.min_proficiency:
        return False
    return need.district is None or profile.district == need.district


def rank(profile: OfficerProfile, task: Task) -> tuple[bool, int, bool]:
    """How well she fits: speaks her language, skill in her category, same district."""
    return (
        task.language is not None and task.language in profile.languages,
        profile.skills.get(task.category, 0) if task.category else 0,
        task.district is not None and profile.district == task.district,
    )


def excluded(task: Task, officer_id: int, now: float) -> bool:
    """She declined or missed this task a moment ago."""
    return task.excluded.get(officer_id, 0.0) > now


def refusal(officer: Officer, task: Task, now: float) -> str | None:
    """Why this offer may not be made now, or None: the check every store step repeats."""
    if task.status != TaskStatus.WAITING:
        return "task_not_waiting"
    if not hard_ok(officer.profile, task):
        return "hard_rule"
    if not offerable(officer, task.cost, now):
        return "officer_not_free"
    if excluded(task, officer.id, now):
        return "excluded"
    return None


def held(task: Task, need: Requirement, officers: Iterable[Officer], now: float) -> bool:
    """The task's preferences still hold it back from officers who do not meet them: they
    are firm (the grace after arrival, the known officer), or an officer who meets them
    could take it now (free for it: available, no offer pending, out of wrap-up, room, not
    just declined it). Busy, on break, offline or absent, she could not: then whoever the
    hard rules allow may take it, so saying what happened never makes her wait."""
    return need.firm or any(
        refusal(officer, task, now) is None and satisfies(officer.profile, need)
        for officer in officers
    )


def may_offer(
    officer: Officer, task: Task, now: float, config: RoutingConfig, officers: Iterable[Officer]
) -> bool:
    """She may be offered this task now: the hard rules, and the task's current preferences
    unless nobody among ``officers`` (everyone, her included) who meets them is free for it."""
    if refusal(officer, task, now) is not None:
        return False
    need = requirement(task, now, config)
    return satisfies(officer.profile, need) or not held(task, need, officers, now)


def officer_key(officer: Officer, task: Task) -> tuple[bool, int, bool, float, int]:
    """Smaller is better: best fit, then longest idle, then lowest id (to be deterministic)."""
    lang, skill, district = rank(officer.profile, task)
    return (not lang, -skill, not district, officer.idle_since, officer.id)


def best_officer(
    task: Task, officers: Iterable[Officer], now: float, config: RoutingConfig
) -> Officer | None:
    """The officer to offer ``task`` to now (plain scan; the board does the same with indexes)."""
    everyone = list(officers)
    chosen: Officer | None = None
    chosen_key: tuple[bool, int, bool, float, int] | None = None
    for officer in everyone:
        if not may_offer(officer, task, now, config, everyone):
            continue
        key = officer_key(officer, task)
        if chosen_key is None or key < chosen_key:
            chosen, chosen_key = officer, key
    return chosen


def standing(priority: int, arrived: float, config: RoutingConfig) -> tuple[int, float]:
    """Where a task stands in line, as (tier, virtual arrival): smaller is first.

    No task starves: while it waits, a task's priority rises by one every
    ``aging_every`` seconds, up to ``aging_ceiling`` (:func:`effective_priority`); a
    priority above the ceiling (an emergency) does not age and stays first. Aging tasks
    are in line by ``min(priority + waited / every, ceiling)``, highest first, which is
    the order of ``arrived - priority * every`` (earliest first) at every moment: so the
    key is fixed when the task arrives and the line never needs sorting again. (Once
    level at the ceiling, they stay in that same order.)
    """
    ceiling = config.aging_ceiling
    if priority > ceiling:
        return (-priority, arrived)
    return (-ceiling, arrived - priority * config.aging_every)


def effective_priority(task: Task, now: float, config: RoutingConfig) -> float:
    """The task's priority as it has aged by ``now`` (see :func:`standing`)."""
    ceiling = config.aging_ceiling
    if task.priority > ceiling:
        return task.priority
    return min(task.priority + max(now - task.arrived, 0.0) / config.aging_every, ceiling)


def place(task: Task, now: float, config: RoutingConfig) -> tuple[int, bool, float, int]:
    """A task's place in line: by :func:`standing`; within a tier (the emergencies of one
    priority, or every aging task), tasks waiting for one officer by name (known officer,
    a contact coming back) first, since only she may take them, for their short window."""
    by_name = task.known_officer is not None and now < task.known_until
    tier, virtual = standing(task.priority, task.arrived, config)
    return (tier, not by_name, virtual, task.seq)


def first_task(
    officer: Officer,
    tasks: Iterable[Task],
    officers: Iterable[Officer],
    now: float,
    config: RoutingConfig,
) -> Task | None:
    """The task to offer ``officer`` now: the first in line she may take (``officers``:
    everyone, to tell whether a task's preferences still hold it)."""
    everyone = list(officers)
    chosen: Task | None = None
    chosen_key: tuple[int, bool, float, int] | None = None
    for task in tasks:
        if not may_offer(officer, task, now, config, everyone):
            continue
        key = place(task, now, config)
        if chosen_key is None or key < chosen_key:
            chosen, chosen_key = task, key
    return chosen
