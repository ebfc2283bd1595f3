"""Live statistics per service line: what a wallboard shows.

Outcomes (answered, abandoned, missed, handle times) come from the events
this process sees within the window (``service_level.window``); what is
waiting and who is doing what comes from the board. A process that has just
started has an empty window until events arrive.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from queues.board import Board
from queues.config import RoutingConfig
from queues.events import Event, Kind
from queues.model import OfficerState, Task

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


class StatsKeeper:
    """Keeps the window of outcomes from events and computes :class:`LineStats`."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._outcomes: deque[tuple[float, str, str, float]] = deque()
        """(at, line, kind, seconds): waits of answered/abandoned/missed, handle of completed."""

    def observe(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.line is None:
                continue
            if event.kind in (Kind.ACCEPTED, Kind.ABANDONED, Kind.MISSED):
                seconds = float(event.data.get("wait", 0.0))
            elif event.kind == Kind.COMPLETED:
                seconds = float(event.data.get("handle", 0.0))
            else:
                continue
            self._outcomes.append((event.at, event.line, event.kind, seconds))

    def _trim(self, now: float) -> None:
        start = now - self.config.stats_window
        while self._outcomes and self._outcomes[0][0] < start:
            self._outcomes.popleft()

    def handle_time(self, line: str) -> float:
        """Average talk time plus wrap-up in the window (a default before any was measured)."""
        handles = [s for _, ln, kind, s in self._outcomes if ln == line and kind == Kind.COMPLETED]
        talk = sum(handles) / len(handles) if handles else DEFAULT_HANDLE
        return talk + self.config.wrap_up

    def estimate(self, position: int, staffed: int, handle: float) -> float | None:
        """Expected wait for the task at ``position`` (1 = next): None when nobody may answer."""
        if staffed == 0:
            return None
        return position * handle / staffed

    def line(self, board: Board, line: str, now: float, *, with_tasks: bool) -> LineStats:
        self._trim(now)
        waiting = board.waiting(line)
        staffed = board.staffed(line)
        handle = self.handle_time(line)
        counts = {"answered": 0, "abandoned": 0, "missed": 0}
        within = 0
        waits: list[float] = []
        for _, ln, kind, seconds in self._outcomes:
            if ln != line:
                continue
            if kind == Kind.ACCEPTED:
                counts["answered"] += 1
                waits.append(seconds)
                within += seconds <= self.config.service_level
            elif kind == Kind.ABANDONED:
                counts["abandoned"] += 1
            elif kind == Kind.MISSED:
                counts["missed"] += 1
        total = sum(counts.values())
        default = self.config.default_priority
        ahead = sum(1 for task in waiting if task.priority >= default)
        return LineStats(
            line=line,
            waiting=len(waiting),
            longest_wait=max((now - t.arrived for t in waiting), default=0.0),
            estimated_wait=self.estimate(ahead + 1, staffed, handle),
            alarm=bool(waiting) and staffed == 0,
            staffed=staffed,
            officers=officers_by_state(board, line, now),
            answered=counts["answered"],
            abandoned=counts["abandoned"],
            missed=counts["missed"],
            service_level=within / total if total else None,
            abandonment_rate=counts["abandoned"] / total if total else None,
            average_wait=sum(waits) / len(waits) if waits else None,
            tasks=_waiting_tasks(self, waiting, staffed, handle, now) if with_tasks else [],
        )


def officers_by_state(board: Board, line: str, now: float) -> dict[str, int]:
    counts = {state.value: 0 for state in OfficerState}
    female_only = board.config.lines.get(line, False)
    for officer in board.officers.values():
        profile = officer.profile
        if line in profile.lines and (not female_only or profile.gender == "female"):
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
