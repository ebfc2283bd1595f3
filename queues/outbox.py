"""The in-process outbox: events kept until every consumer group has acknowledged them.

Like a Redis stream with consumer groups, in one process: each group reads
every event; an event read but not acknowledged within ``redeliver_after``
seconds is delivered again (the consumer may have failed between writing and
acknowledging), so delivery is at least once and consumers write idempotently.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from queues.events import Event


@dataclass
class _Group:
    cursor: int = 0
    """Offset of the next event never delivered to this group."""
    pending: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Delivered, not acknowledged: event id -> (offset, when delivered, monotonic)."""


class Outbox:
    def __init__(self, groups: Iterable[str] = (), redeliver_after: float = 30.0) -> None:
        self.redeliver_after = redeliver_after
        self._events: deque[Event] = deque()
        self._base = 0
        """Offset of ``_events[0]``."""
        self._groups = {name: _Group() for name in groups}
        self._arrived: asyncio.Event | None = None

    def add_group(self, name: str) -> None:
        """A new group reads from the oldest event still kept."""
        self._groups.setdefault(name, _Group(cursor=self._base))

    def append(self, events: Sequence[Event]) -> None:
        if not self._groups:
            return
        self._events.extend(events)
        if self._arrived is not None:
            self._arrived.set()

    def __len__(self) -> int:
        return len(self._events)

    async def read(self, group: str, count: int, block: float) -> list[Event]:
        """Up to ``count`` events for ``group``; waits up to ``block`` seconds for one."""
        state = self._groups.get(group)
        if state is None:
            raise KeyError(f"no consumer group {group!r}")
        batch = self._take(state, count)
        if batch or block <= 0:
            return batch
        if self._arrived is None:
            self._arrived = asyncio.Event()
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), block)
        except TimeoutError:
            pass
        return self._take(state, count)

    def _take(self, state: _Group, count: int) -> list[Event]:
        now = time.monotonic()
        batch: list[Event] = []
        for event_id, (offset, sent) in list(state.pending.items()):
            if len(batch) >= count:
                return batch
            if now - sent >= self.redeliver_after and offset >= self._base:
                batch.append(self._events[offset - self._base])
                state.pending[event_id] = (offset, now)
        end = self._base + len(self._events)
        while state.cursor < end and len(batch) < count:
            event = self._events[state.cursor - self._base]
            state.pending[event.id] = (state.cursor, now)
            batch.append(event)
            state.cursor += 1
        return batch

    def ack(self, group: str, event_ids: Iterable[str]) -> None:
        state = self._groups[group]
        for event_id in event_ids:
            state.pending.pop(event_id, None)
        self._trim()

    def _trim(self) -> None:
        keep_from = min(
            min((offset for offset, _ in g.pending.values()), default=g.cursor)
            for g in self._groups.values()
        )
        while self._base < keep_from and self._events:
            self._events.popleft()
            self._base += 1
