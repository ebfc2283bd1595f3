"""The board: every active task and every officer in memory, indexed for matching.

The in-process store keeps its state here; the Redis store keeps a copy here
that follows the store's events. Either way, :meth:`Board.best_officer` and
:meth:`Board.first_task` answer the policy's two questions without scanning
everything: free officers are kept in sets per (service line, kind of
channel) and per language, skill level and district; waiting tasks wait in
line-ups of equal :class:`~queues.policy.Requirement`, each kept in order.
Both give the same answer as :func:`queues.policy.best_officer` and
:func:`queues.policy.first_task` (the tests hold them to it).
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

from cases.vocabulary import eligible
from queues import policy
from queues.config import KINDS, RoutingConfig
from queues.model import ENDED, Officer, OfficerProfile, Task, TaskStatus
from queues.policy import Requirement

_NONE: frozenset[int] = frozenset()
_TOMBSTONES = 100_000
"""Ended tasks remembered (so an old copy does not bring one back)."""

Entry = tuple[int, float, int, str]
"""A place in a line-up: (tier, virtual arrival, seq, task id); see :func:`policy.standing`."""


class Due(IntEnum):
    """What a timer is for."""

    RING = 1  # a waiting task's preferences relax
    RECHECK = 2  # a waiting task may be offered again to an officer who declined it
    OFFER = 3  # an offer's time is up
    TTL = 4  # a task's time-to-live is up
    WRAP = 5  # an officer's wrap-up ends


@dataclass(frozen=True, slots=True)
class Action:
    """Something the router must do now that a timer is due."""

    due: Due
    task_id: str | None = None
    officer_id: int | None = None


class Board:
    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.tasks: dict[str, Task] = {}
        """Active tasks (waiting, offered, assigned) by id."""
        self.officers: dict[int, Officer] = {}
        self.ended: OrderedDict[str, tuple[TaskStatus, int]] = OrderedDict()
        """Recently ended tasks: id -> (status, version)."""
        self._cost = {kind: config.cost(kind) for kind in KINDS}
        # Officer indexes from profiles (every officer), and who is free now.
        self._by_language: dict[str, set[int]] = {}
        self._by_skill: dict[tuple[str, int], set[int]] = {}
        self._by_district: dict[str, set[int]] = {}
        self._free: dict[tuple[str, str], set[int]] = {}
        self._idle: dict[int, tuple[float, int]] = {}
        self._staff_sets: dict[int, list[set[int]]] = {}
        self._free_sets: dict[int, list[tuple[set[int], int, list[tuple[float, int]]]]] = {}
        self._free_heaps: dict[tuple[str, str], list[tuple[float, int]]] = {}
        """Per free set, (idle since, id) of its members, longest idle on top (stale
        entries are dropped when they reach the top)."""
        self._heaped: dict[tuple[int, int], tuple[float, int]] = {}
        self._staffed: dict[str, set[int]] = {line: set() for line in config.lines}
        """Per line: officers present (available) who may take its tasks (hard rules)."""
        # Waiting tasks in line-ups per service line.
        self._lineups: dict[str, dict[Requirement, list[Entry]]] = {}
        self._place: dict[str, tuple[Requirement, Entry]] = {}
        self._timers: list[tuple[float, int, Due, str | int]] = []
        self.generation = 0
        """Goes up whenever a line-up changes (positions may have moved)."""
        self._seq = itertools.count()

    def clear(self) -> None:
        """Forget everything (the store lost its state and is loaded again); the generation
        still only goes up."""
        generation = self.generation
        self.__init__(self.config)  # type: ignore[misc]
        self.generation = generation + 1

    # --- officers ------------------------------------------------------------------

    def put_officer(self, officer: Officer, now: float) -> None:
        """Add or replace an officer (the given object becomes the board's own)."""
        old = self.officers.get(officer.id)
        if old is None or old.profile != officer.profile:
            if old is not None:
                self._unindex_profile(old.profile)
            self._index_profile(officer.profile)
        self.officers[officer.id] = officer
        self.refresh_officer(officer, now)

    def refresh_officer(self, officer: Officer, now: float) -> None:
        """Re-file an officer after her state changed in place."""
        oid = officer.id
        self._idle[oid] = (officer.idle_since, oid)
        present = officer.presence == "available"
        can_wrap = officer.wrap_until <= now
        room = (
            officer.capacity - officer.load
            if present and officer.offer is None and can_wrap
            else -1
        )
        for staffed in self._staff_sets[oid]:
            if present:
                staffed.add(oid)
            else:
                staffed.discard(oid)
        idle = self._idle[oid]
        for members, cost, heap in self._free_sets[oid]:
            if cost <= room:
                if oid not in members or self._heaped.get((id(heap), oid)) != idle:
                    members.add(oid)
                    heapq.heappush(heap, idle)
                    self._heaped[(id(heap), oid)] = idle
            else:
                members.discard(oid)
        if present and not can_wrap:
            self._push(officer.wrap_until, Due.WRAP, oid)

    def _hard_line_ok(self, profile: OfficerProfile, line: str) -> bool:
        return eligible(profile, line, self.config.female_only(line))

    def _index_profile(self, profile: OfficerProfile) -> None:
        # The sets an officer may be in, worked out once per profile (refreshes are hot).
        lines = [
            line
            for line in sorted(profile.lines)
            if line in self._staffed and self._hard_line_ok(profile, line)
        ]
        self._staff_sets[profile.id] = [self._staffed[line] for line in lines]
        self._free_sets[profile.id] = [
            (
                self._free.setdefault((line, kind), set()),
                cost,
                self._free_heaps.setdefault((line, kind), []),
            )
            for line in lines
            for kind, cost in self._cost.items()
        ]
        for language in profile.languages:
            self._by_language.setdefault(language, set()).add(profile.id)
        for category, level in profile.skills.items():
            self._by_skill.setdefault((category, level), set()).add(profile.id)
        if profile.district:
            self._by_district.setdefault(profile.district, set()).add(profile.id)

    def _unindex_profile(self, profile: OfficerProfile) -> None:
        for language in profile.languages:
            self._by_language[language].discard(profile.id)
        for category, level in profile.skills.items():
            self._by_skill[(category, level)].discard(profile.id)
        if profile.district:
            self._by_district[profile.district].discard(profile.id)
        for line in profile.lines:
            self._staffed.get(line, set()).discard(profile.id)
            for kind in self._cost:
                self._free.get((line, kind), set()).discard(profile.id)

    # --- tasks ---------------------------------------------------------------------

    def put_task(self, task: Task, now: float) -> None:
        """Add, replace or (when it has ended) remove a task."""
        old = self.tasks.get(task.id)
        if task.status in ENDED:
            self._unplace(task.id)
            self.tasks.pop(task.id, None)
            self.ended[task.id] = (task.status, task.version)
            if len(self.ended) > _TOMBSTONES:
                self.ended.popitem(last=False)
            return
        self.tasks[task.id] = task
        if old is None or old.ttl_at != task.ttl_at:
            self._push(task.ttl_at, Due.TTL, task.id)
        self.refresh_task(task, now)

    def refresh_task(self, task: Task, now: float) -> None:
        """Re-file a task after its state changed in place."""
        if task.status == TaskStatus.WAITING:
            self._place_task(task, now)
            if task.excluded:
                for until in task.excluded.values():
                    if until > now:
                        self._push(until, Due.RECHECK, task.id)
        else:
            self._unplace(task.id)
            if task.status == TaskStatus.OFFERED:
                self._push(task.offer_expires, Due.OFFER, task.id)

    def _place_task(self, task: Task, now: float, *, ring_due: bool = False) -> None:
        need = policy.requirement(task, now, self.config)
        tier, virtual = policy.standing(task.priority, task.arrived, self.config)
        entry: Entry = (tier, virtual, task.seq, task.id)
        placed = self._place.get(task.id)
        if placed is not None:
            if placed == (need, entry):
                if ring_due:  # a step that changed nothing this task asks: wait for the next
                    change = policy.next_change(task, now, self.config)
                    if change is not None:
                        self._push(change, Due.RING, task.id)
                return
            self._unplace(task.id)
        lineup = self._lineups.setdefault(task.line, {}).setdefault(need, [])
        insort(lineup, entry)
        self.generation += 1
        self._place[task.id] = (need, entry)
        change = policy.next_change(task, now, self.config)
        if change is not None:
            self._push(change, Due.RING, task.id)

    def _unplace(self, task_id: str) -> None:
        placed = self._place.pop(task_id, None)
        if placed is None:
            return
        need, entry = placed
        lineups = self._lineups[need.line]
        lineup = lineups[need]
        del lineup[bisect_left(lineup, entry)]
        self.generation += 1
        if not lineup:
            del lineups[need]

    def known_version(self, task_id: str) -> int:
        """The newest version of a task seen here (active or ended), -1 if none."""
        task = self.tasks.get(task_id)
        if task is not None:
            return task.version
        ended = self.ended.get(task_id)
        return ended[1] if ended is not None else -1

    # --- matching ------------------------------------------------------------------

    def best_officer(self, task: Task, now: float, skip: set[int] | None = None) -> Officer | None:
        """The officer to offer ``task`` to now, or None (as :func:`policy.best_officer`).

        Officers in ``skip`` are left out (they are being offered something else)."""
        free = self._free.get((task.line, task.kind))
        if not free or task.status != TaskStatus.WAITING:
            return None
        if skip:
            free = free - skip
        need = policy.requirement(task, now, self.config)
        if need.known_officer is not None:
            known = need.known_officer
            if known in free and not policy.excluded(task, known, now):
                return self._if_allowed(known, task)
            return None
        base: set[int] | frozenset[int] = free
        if not base:
            return None
        if task.excluded:
            shut = {o for o, until in task.excluded.items() if until > now}
            if shut:
                base = base - shut
        # First what the task still asks for (its ring); when nobody free meets it and the
        # grace is over, whoever the hard rules allow (disclosure never delays help) ...
        ready = self._meeting(need, base)
        if ready or need.firm:
            base = ready
        # ... then, among those, the best fit: language, then skill, then district.
        if task.language is not None:
            speakers = base & self._by_language.get(task.language, _NONE)
            if speakers:
                base = speakers
        if task.category is not None:
            for level in range(5, 0, -1):
                skilled = base & self._by_skill.get((task.category, level), _NONE)
                if skilled:
                    base = skilled
                    break
        if task.district is not None:
            local = base & self._by_district.get(task.district, _NONE)
            if local:
                base = local
        if not base:
            return None
        if base is free:
            return self._if_allowed(self._longest_idle(task.line, task.kind, free), task)
        return self._if_allowed(min(base, key=self._idle.__getitem__), task)

    def _meeting(
        self, need: Requirement, members: set[int] | frozenset[int]
    ) -> set[int] | frozenset[int]:
        """Those of ``members`` who meet the preferences ``need`` still asks for."""
        base = members
        if need.language is not None:
            base = base & self._by_language.get(need.language, _NONE)
        if need.min_proficiency and need.category is not None:
            category = need.category
            base = set().union(
                *(
                    base & self._by_skill.get((category, n), _NONE)
                    for n in range(need.min_proficiency, 6)
                )
            )
        if need.district is not None:
            base = base & self._by_district.get(need.district, _NONE)
        return base

    def _longest_idle(self, line: str, kind: str, free: set[int]) -> int:
        heap = self._free_heaps[(line, kind)]
        idle = self._idle
        if len(heap) > 4 * len(free) + 64:  # mostly stale: start again from the members
            heap[:] = [idle[oid] for oid in free]
            heapq.heapify(heap)
        while True:
            top = heap[0]
            if top[1] in free and idle[top[1]] == top:
                return top[1]
            heapq.heappop(heap)

    def _if_allowed(self, officer_id: int, task: Task) -> Officer | None:
        officer = self.officers[officer_id]
        # The index follows the line's rule; the task carries its own: both must hold.
        return officer if policy.hard_ok(officer.profile, task) else None

    def first_task(self, officer: Officer, now: float, skip: set[str] | None = None) -> Task | None:
        """The task to offer ``officer`` now, or None (as :func:`policy.first_task`).

        Tasks in ``skip`` are left out (they are being offered to someone else)."""
        if officer.presence != "available" or officer.offer is not None:
            return None
        if officer.wrap_until > now:
            return None
        return self.first_fitting(officer.profile, officer.capacity - officer.load, now, skip)

    def first_fitting(
        self, profile: OfficerProfile, room: int, now: float, skip: set[str] | None = None
    ) -> Task | None:
        """The first task in line this officer may take with ``room`` units of capacity,
        whatever she is doing now (the caller knows she will be free for an offer)."""
        best: tuple[int, bool, float, int, str] | None = None
        for line in profile.lines:
            lineups = self._lineups.get(line)
            if not lineups or not self._hard_line_ok(profile, line):
                continue
            for need, lineup in lineups.items():
                if self._cost[need.kind] > room:
                    continue
                # Tasks waiting for her by name (known officer) come first within a tier.
                other = need.known_officer is None
                ready: set[int] | frozenset[int] = _NONE
                if not policy.satisfies(profile, need):
                    # Preferences she does not meet: open to her only past the grace, and
                    # only while nobody who meets them is free for the task (policy.held).
                    if need.firm or not lineup:
                        continue
                    head = lineup[0]
                    if best is not None and (head[0], other, *head[1:]) >= best:
                        continue
                    ready = self._meeting(need, self._free.get((line, need.kind), _NONE))
                for tier, virtual, seq, task_id in lineup:
                    key = (tier, other, virtual, seq, task_id)
                    if best is not None and key >= best:
                        break
                    if skip and task_id in skip:
                        continue
                    task = self.tasks[task_id]
                    if task.excluded and policy.excluded(task, profile.id, now):
                        continue
                    if ready and not all(policy.excluded(task, o, now) for o in ready):
                        continue  # someone who meets her preferences is free for it
                    if policy.hard_ok(profile, task):
                        best = key
                        break
        return None if best is None else self.tasks[best[4]]

    def waiting_in_order(self, now: float) -> Iterator[Task]:
        """Every waiting task of every line, in line order (:func:`policy.place`), lazily.

        Reads copies of the line-ups: offering the tasks as they come is safe.
        """
        streams = [
            _placed(list(lineup), need.known_officer is None)
            for lineups in self._lineups.values()
            for need, lineup in lineups.items()
        ]
        for entry in heapq.merge(*streams):
            task = self.tasks.get(entry[4])
            if task is not None and task.status == TaskStatus.WAITING:
                yield task

    def free_officers(self) -> Iterator[Officer]:
        """Officers who may be offered something now (any line, any kind)."""
        seen: set[int] = set()
        for members in self._free.values():
            for oid in members - seen:
                seen.add(oid)
                yield self.officers[oid]

    # --- time ----------------------------------------------------------------------

    def _push(self, at: float, due: Due, key: str | int) -> None:
        heapq.heappush(self._timers, (at, next(self._seq), due, key))

    def next_due(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def due(self, now: float) -> list[Action]:
        """What must happen now that time has reached ``now`` (timers already stale are dropped)."""
        actions: list[Action] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, due, key = heapq.heappop(timers)
            if due == Due.WRAP:
                officer = self.officers.get(key) if isinstance(key, int) else None
                if officer is not None and officer.wrap_until <= now:
                    self.refresh_officer(officer, now)
                    actions.append(Action(due, officer_id=officer.id))
                continue
            task = self.tasks.get(str(key))
            if task is None:
                continue
            if due == Due.TTL:
                if task.ttl_at <= now and task.status != TaskStatus.ASSIGNED:
                    actions.append(Action(due, task_id=task.id))
            elif due == Due.OFFER:
                if task.status == TaskStatus.OFFERED and task.offer_expires <= now:
                    actions.append(Action(due, task_id=task.id, officer_id=task.officer))
            elif task.status == TaskStatus.WAITING:
                self._place_task(task, now, ring_due=due == Due.RING)
                actions.append(Action(due, task_id=task.id))
        return actions

    # --- reading -------------------------------------------------------------------

    def waiting(self, line: str) -> list[Task]:
        """Waiting tasks of a line, in order (their place in line)."""
        entries = sorted(
            entry for lineup in self._lineups.get(line, {}).values() for entry in lineup
        )
        return [self.tasks[entry[3]] for entry in entries]

    def position(self, task_id: str) -> int | None:
        """A waiting task's place in its line (1 is next), without sorting the line."""
        placed = self._place.get(task_id)
        if placed is None:
            return None
        need, entry = placed
        lineups = self._lineups[need.line].values()
        return 1 + sum(bisect_left(lineup, entry) for lineup in lineups)

    def staffed(self, line: str) -> int:
        """Officers present (available, busy or in wrap-up) who may take this line's tasks."""
        return len(self._staffed.get(line, ()))


def _placed(lineup: list[Entry], other: bool) -> Iterator[tuple[int, bool, float, int, str]]:
    """A line-up's entries as :func:`policy.place` orders them (``other`` is False for tasks
    waiting for one officer by name, which come first within their tier)."""
    for tier, virtual, seq, task_id in lineup:
        yield (tier, other, virtual, seq, task_id)
