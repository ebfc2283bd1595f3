"""Live statistics per service line: what a wallboard shows.

Outcomes (answered, abandoned, missed, handle times) within the window
(``service_level.window``) are kept by the store (``Store.stats``): the
in-process store feeds them from its events; the Redis store also records
each in a sorted set in the same script that makes it, loads that window when
it opens and then follows the events, so a restarted process, or any other
process on the same Redis, reports the same figures. What is waiting and who
is doing what comes from the board.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from cases.vocabulary import eligible
from queues import policy
from queues.board import Board
from queues.config import RoutingConfig
from queues.events import Event, Kind
from queues.model import OfficerState, Task

_OUTCOMES = frozenset({Kind.ACCEPTED, Kind.ABANDONED, Kind.MISSED, Kind.COMPLETED})
DEFAULT_HANDLE = 300.0
"""Seconds assumed for one contact (talk and wrap-up) before any has been measured."""


@dataclass(frozen=True)
class WaitingTask:
    task_id: str
    position: int
    """1 is next in line."""
    waited: float
    priority: int
    channel: str
    status: str
    estimated_wait: float | None


@dataclass(frozen=True)
class LineStats:
    line: str
    waiting: int
    longest_wait: float
    estimated_wait: float | None
    """For a new task of default priority; None when nobody who may answer is present."""
    alarm: bool
    """Tasks wait and no officer who may answer them is present."""
    staffed: int
    """Officers present who may answer this line."""
    officers: dict[str, int]
    """State -> number of officers of this line."""
    answered: int
    abandoned: int
    missed: int
    service_level: float | None
    """Share answered within the threshold, of those answered, abandoned or missed."""
    abandonment_rate: float | None
    average_wait: float | None
    """Of those answered."""
    tasks: list[WaitingTask] = field(default_factory=list)


@dataclass
class _Window:
    """One line's outcomes within the window, with running sums (no rescans)."""

    outcomes: deque[tuple[float, str, float]] = field(default_factory=deque)
    answered: int = 0
    within: int = 0
    waited: float = 0.0
    abandoned: int = 0
    missed: int = 0
    completed: int = 0
    handled: float = 0.0

    def count(self, kind: str, seconds: float, threshold: float, sign: int) -> None:
        if kind == Kind.ACCEPTED:
            self.answered += sign
            self.waited += sign * seconds
            self.within += sign * (seconds <= threshold)
        elif kind == Kind.ABANDONED:
            self.abandoned += sign
        elif kind == Kind.MISSED:
            self.missed += sign
        else:
            self.completed += sign
            self.handled += sign * seconds


class StatsKeeper:
    """Keeps the window of outcomes from events and computes :class:`LineStats`."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._lines: dict[str, _Window] = {}

    def observe(self, events: Sequence[Event]) -> None:
        threshold = self.config.service_level
        for event in events:
            if event.kind not in _OUTCOMES or event.line is None:
                continue
            if event.kind != Kind.COMPLETED:
                seconds = float(event.data.get("wait", 0.0))
            else:
                seconds = float(event.data.get("handle", 0.0))
            window = self._lines.setdefault(event.line, _Window())
            window.outcomes.append((event.at, event.kind, seconds))
            window.count(event.kind, seconds, threshold, 1)

    def _window(self, line: str, now: float) -> _Window:
        window = self._lines.setdefault(line, _Window())
        start = now - self.config.stats_window
        outcomes = window.outcomes
        while outcomes and outcomes[0][0] < start:
            _, kind, seconds = outcomes.popleft()
            window.count(kind, seconds, self.config.service_level, -1)
        return window

    def handle_time(self, line: str, now: float) -> float:
        """Average talk time plus wrap-up in the window (a default before any was measured)."""
        window = self._window(line, now)
        talk = window.handled / window.completed if window.completed else DEFAULT_HANDLE
        return talk + self.config.wrap_up

    def estimate(self, position: int, staffed: int, handle: float, free: int = 0) -> float | None:
        """Expected wait for the task at ``position`` (1 = next): None when nobody may answer.

        ``free`` officers available now take the first ``free`` places at once.
        """
        if staffed == 0:
            return None
        return max(position - free, 0) * handle / staffed

    def line(self, board: Board, line: str, now: float, *, with_tasks: bool) -> LineStats:
        window = self._window(line, now)
        waiting = board.waiting(line)
        staffed = board.staffed(line)
        handle = self.handle_time(line, now)
        total = window.answered + window.abandoned + window.missed
        # A new task of the default priority would stand behind these.
        newcomer = policy.standing(self.config.default_priority, now, self.config)
        ahead = sum(
            1
            for task in waiting
            if policy.standing(task.priority, task.arrived, self.config) <= newcomer
        )
        officers = officers_by_state(board, line, now)
        return LineStats(
            line=line,
            waiting=len(waiting),
            longest_wait=max((now - t.arrived for t in waiting), default=0.0),
            estimated_wait=self.estimate(ahead + 1, staffed, handle, officers["available"]),
            alarm=bool(waiting) and staffed == 0,
            staffed=staffed,
            officers=officers,
            answered=window.answered,
            abandoned=window.abandoned,
            missed=window.missed,
            service_level=window.within / total if total else None,
            abandonment_rate=window.abandoned / total if total else None,
            average_wait=window.waited / window.answered if window.answered else None,
            tasks=_waiting_tasks(self, waiting, staffed, handle, now) if with_tasks else [],
        )


def officers_by_state(board: Board, line: str, now: float) -> dict[str, int]:
    counts = {state.value: 0 for state in OfficerState}
    female_only = board.config.female_only(line)
    for officer in board.officers.values():
        if eligible(officer.profile, line, female_only):
            counts[officer.state(now)] += 1
    return counts


def _waiting_tasks(
    keeper: StatsKeeper, waiting: list[Task], staffed: int, handle: float, now: float
) -> list[WaitingTask]:
    return [
        WaitingTask(
            task_id=task.id,
            position=n,
            waited=now - task.arrived,
            priority=task.priority,
            channel=task.channel,
            status=task.status,
            estimated_wait=keeper.estimate(n, staffed, handle),
        )
        for n, task in enumerate(waiting, start=1)
    ]
