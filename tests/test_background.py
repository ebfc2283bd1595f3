"""``safecall.background.Periodic``: a step every interval, on a real event loop.

Waits in these tests are bounded (``asyncio.timeout``) only so that a broken
loop fails the test instead of hanging it; nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from safecall.background import Periodic, describe

PHONE = "+923001234567"


class Steps:
    """A step that counts its runs and raises (with a phone number) on the first ``failing``."""

    def __init__(self, failing: int = 0) -> None:
        self.runs = 0
        self.failing = failing
        self.ran = asyncio.Event()

    async def __call__(self) -> None:
        self.runs += 1
        self.ran.set()
        if self.runs <= self.failing:
            raise RuntimeError(f"no route to {PHONE}")

    async def until(self, runs: int) -> None:
        async with asyncio.timeout(10):
            while self.runs < runs:
                self.ran.clear()
                await self.ran.wait()


async def test_a_failing_step_is_logged_without_its_message_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps = Steps(failing=2)
    with caplog.at_level(logging.ERROR, logger="safecall.background"):
        async with Periodic(steps, every=0.01, name="t", failure="the sweep failed") as loop:
            await steps.until(4)  # two failures, then two good steps
        assert loop.failures == 2
    failures = [r for r in caplog.records if r.getMessage().startswith("the sweep failed")]
    assert len(failures) == 2
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError at test_background.py:" in logged and "in __call__" in logged
    assert PHONE not in logged and "923001234567" not in logged
    assert all(r.exc_info is None for r in caplog.records)  # no traceback with the message


async def test_stop_ends_the_wait_at_once_and_no_step_runs_after() -> None:
    steps = Steps()
    loop = Periodic(steps, every=3600, name="t", failure="x", at_once=True)
    loop.start()
    await steps.until(1)
    async with asyncio.timeout(10):  # an hour's wait is cut short
        await loop.stop()
    await asyncio.sleep(0)
    assert steps.runs == 1


async def test_without_at_once_the_first_step_waits_for_the_interval() -> None:
    steps = Steps()
    async with Periodic(steps, every=3600, name="t", failure="x"):
        for _ in range(20):
            await asyncio.sleep(0)
    assert steps.runs == 0


async def test_stop_lets_a_running_step_finish() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[bool] = []

    async def step() -> None:
        started.set()
        await release.wait()
        finished.append(True)

    loop = Periodic(step, every=3600, name="t", failure="x", at_once=True)
    loop.start()
    await started.wait()
    stopping = asyncio.create_task(loop.stop())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not stopping.done()  # waiting for the step, not cancelling it
    release.set()
    async with asyncio.timeout(10):
        await stopping
    assert finished == [True]


async def test_a_step_that_outlasts_the_grace_is_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def step() -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    loop = Periodic(step, every=3600, name="stuck", failure="x", at_once=True, grace=0.01)
    loop.start()
    await started.wait()
    with caplog.at_level(logging.WARNING, logger="safecall.background"):
        async with asyncio.timeout(10):
            await loop.stop()
    assert cancelled == [True]
    assert any("stuck: the step outlasted" in r.getMessage() for r in caplog.records)


async def test_stop_is_safe_twice_and_before_start_and_a_stopped_loop_stays_stopped() -> None:
    steps = Steps()
    loop = Periodic(steps, every=0.01, name="t", failure="x", at_once=True)
    await loop.stop()
    loop.start()
    await loop.stop()
    for _ in range(20):
        await asyncio.sleep(0)
    assert steps.runs == 0


@pytest.mark.parametrize(("every", "jitter"), [(0, 0.0), (-1, 0.0), (1, 1.0), (1, -0.1)])
def test_a_bad_interval_or_jitter_is_refused(every: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="t: "):
        Periodic(Steps(), every=every, jitter=jitter, name="t", failure="x")


async def test_as_a_cleanup_context_it_runs_with_the_app_and_stops_with_it() -> None:
    steps = Steps()

    async def sweeper(app: web.Application) -> AsyncIterator[None]:
        async with Periodic(steps, every=0.01, name="t", failure="x"):
            yield

    app = web.Application()
    app.cleanup_ctx.append(sweeper)
    runner = web.AppRunner(app)
    await runner.setup()
    await steps.until(2)
    await runner.cleanup()
    after = steps.runs
    for _ in range(20):
        await asyncio.sleep(0)
    assert steps.runs == after


def test_describe_names_the_type_and_the_place_not_the_message() -> None:
    try:
        {}[PHONE]
    except KeyError as exc:
        described = describe(exc)
    assert described.startswith("KeyError at test_background.py:")
    assert PHONE not in described
