"""Work that repeats in the background for the life of the app: a step every few seconds.

:class:`Periodic` runs one step, waits, runs it again, until it is stopped. A
step that raises is logged and the loop goes on. The log names what failed,
the exception's type and where it was raised, never the exception's message:
a database error's message carries the statement's parameters (a phone number,
a name). Stopping ends the wait at once and lets a step already running
finish (a write is not cut in half), up to ``grace`` seconds.

Use it as an ``app.cleanup_ctx`` entry's body::

    async def _sweeper(app: web.Application) -> AsyncIterator[None]:
        async with Periodic(lambda: sweep(app), every=30, name="recordings-sweep",
                            failure="recordings sweep failed; trying again later"):
            yield

Loops that wait on a queue, a socket or an event are not this pattern.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import traceback
from collections.abc import Awaitable, Callable
from types import TracebackType

log = logging.getLogger(__name__)
_JITTER = random.Random()
"""Its own generator: the module's shared one is left to others (tests that replay
random draws, such as hypothesis in the same process, notice when it moves)."""


def describe(exc: BaseException) -> str:
    """``exc``'s type and where it was raised (innermost call first, ``file:line in
    function``), without its message or any value: safe to log."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return f"{type(exc).__name__} at " + " < ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in frames[::-1]
    )


class Periodic:
    """Runs ``step`` every ``every`` seconds in a task of its own, from :meth:`start` (or
    ``async with``) until :meth:`stop`.

    ``jitter``: each wait is ``every`` times a random factor in ``1 ± jitter`` (keeps
    processes from running in step). ``at_once``: the first step runs at start, not after
    the first wait. ``failure``: the sentence logged when a step raises. ``grace``: how long
    :meth:`stop` lets a running step finish before it is cancelled.
    """

    def __init__(
        self,
        step: Callable[[], Awaitable[object]],
        *,
        every: float,
        name: str,
        failure: str,
        jitter: float = 0.0,
        at_once: bool = False,
        grace: float = 10.0,
    ) -> None:
        if every <= 0:
            raise ValueError(f"{name}: every must be more than 0 seconds, not {every}")
        if not 0 <= jitter < 1:
            raise ValueError(f"{name}: jitter must be from 0 to under 1, not {jitter}")
        self.step = step
        self.every = every
        self.name = name
        self.failure = failure
        self.jitter = jitter
        self.at_once = at_once
        self.grace = grace
        self.failures = 0
        """Steps that raised so far."""
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop (once; a stopped loop does not start again)."""
        if self._task is None and not self._stopping.is_set():
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """End the loop: at once when it waits; a running step gets ``grace`` seconds to
        finish, then is cancelled. Safe to call twice, or before :meth:`start`."""
        self._stopping.set()
        task = self._task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=self.grace)
        if not done:
            log.warning("%s: the step outlasted %g s at stop; cancelled", self.name, self.grace)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def __aenter__(self) -> Periodic:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _run(self) -> None:
        if not self.at_once:
            await self._wait()
        while not self._stopping.is_set():
            try:
                await self.step()
            except Exception as exc:
                self.failures += 1
                log.error("%s (%s)", self.failure, describe(exc))
            await self._wait()

    async def _wait(self) -> None:
        seconds = self.every * (1 + self.jitter * (2 * _JITTER.random() - 1))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
