"""One 20 ms clock for every call's audio to Twilio in the process.

Each call sleeping on its own 20 ms timer costs a timer and a task wake-up per
call per frame, and each schedule drifts on its own when the event loop is
busy. The :class:`Pacer` wakes once per tick on a schedule anchored at its
start (``start + n * step``, monotonic, so it does not drift), and hands every
call its turn (:meth:`Paced.tick`) with the tick's deadline, so lateness is
counted against the deadline itself. A tick the loop was late for is caught up
at once; a stall longer than ``resync`` re-anchors the schedule and tells each
call how many ticks it missed (:meth:`Paced.missed`) instead of bursting.

Sending to one call's socket must not hold up the others: :func:`send_now`
runs a send until its first wait. A WebSocket write normally finishes there
(the bytes are in the transport); a socket whose buffer is full waits for it
to drain, and only that send is left to finish in a task of its own.

There is one pacer per event loop and (``step``, ``resync``); it runs while a
call is paced and stops when the last one leaves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, ClassVar, Protocol

log = logging.getLogger(__name__)


class Paced(Protocol):
    def tick(self, due: float) -> None:
        """Send what is due at ``due`` (monotonic seconds)."""

    def missed(self, ticks: int) -> None:
        """The pacer stalled over ``ticks`` ticks and starts afresh."""


def send_now(send: Coroutine[Any, Any, None]) -> asyncio.Future[None] | None:
    """Run ``send`` up to its first wait: None when it is done, else a future of its end."""
    try:
        waiting = send.send(None)
    except StopIteration:
        return None
    except Exception:
        log.exception("media: a send to Twilio failed")
        return None
    # ``send`` waits (a socket draining): a task resumes it once what it awaits is done.
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def resume(_: object = None) -> None:
        task = asyncio.ensure_future(send)  # its first step returns from the awaited future
        _resuming.add(task)
        task.add_done_callback(lambda t: _settle(t, finished))

    if asyncio.isfuture(waiting):
        waiting._asyncio_future_blocking = False  # taken over from the task protocol
        waiting.add_done_callback(resume)
    else:  # a bare yield (``asyncio.sleep(0)``)
        asyncio.get_running_loop().call_soon(resume)
    return finished


_resuming: set[asyncio.Task[None]] = set()
"""Sends finishing after their socket drained (held here: the loop keeps only weak references)."""


def _settle(task: asyncio.Task[None], finished: asyncio.Future[None]) -> None:
    _resuming.discard(task)
    finished.set_result(None)
    if not task.cancelled() and task.exception() is not None:
        log.warning("media: a send to Twilio failed", exc_info=task.exception())


class Pacer:
    """The clock: ``tick(due)`` on every member every ``step`` seconds."""

    _pacers: ClassVar[dict[tuple[asyncio.AbstractEventLoop, float, float], Pacer]] = {}

    def __init__(self, step: float, resync: float) -> None:
        self.step = step
        self.resync = resync
        self.members: dict[Paced, None] = {}
        """In the order they joined (a dict: ordered, and removal is cheap)."""
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def shared(cls, step: float, resync: float) -> Pacer:
        """The running loop's pacer for ``step`` and ``resync``."""
        key = (asyncio.get_running_loop(), step, resync)
        pacer = cls._pacers.get(key)
        if pacer is None:
            pacer = cls._pacers[key] = cls(step, resync)
        return pacer

    def join(self, member: Paced) -> None:
        self.members[member] = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="twilio-pacer")

    def leave(self, member: Paced) -> None:
        self.members.pop(member, None)
        if not self.members:
            for key, pacer in list(self._pacers.items()):
                if pacer is self:
                    del self._pacers[key]
            if self._task is not None:
                self._task.cancel()
                self._task = None

    async def _run(self) -> None:
        step = self.step
        start, tick = time.monotonic(), 0
        while self.members:
            tick += 1
            due = start + tick * step
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            late = time.monotonic() - due
            if late > self.resync:
                # Held up for long: start afresh rather than burst.
                start, tick = time.monotonic(), 0
                for member in list(self.members):
                    member.missed(int(late / step))
            for member in list(self.members):
                member.tick(due)
