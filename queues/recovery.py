"""Rebuilding the routing state after Redis lost it (restarted without persistence, flushed).

Every task and officer lives in Redis, and every process follows a copy whose
versions only go up. A Redis that comes back empty starts the versions from
zero again, so without this every process would ignore every change (its copy
looks newer) until it restarted. Instead each process notices the loss (the
store's *epoch*, a random id written when the state was first made, is gone
or another; checked every half second and whenever a step is refused in a
way only a loss explains; or its events stream ends before what the process has read:
Redis came back older, its last writes lost) and rebuilds:

1. it takes the new epoch, forgets its copy and loads Redis's state again;
2. the officers it knew are registered again, *offline*, and those who were
   present (and whose presence Redis lost) are **asked to confirm**
   (:attr:`Router.asked`; their console shows "Are you still available?"): nobody
   is offered a contact by a console that may have been left alone, and nobody is
   logged out;
3. the parts above it put back what they know (:attr:`Recovery.steps`): the
   desk's open contacts from the database, waiting ones in line with their
   first arrival and those in conversation held by their officer
   (:meth:`Recovery.put_back`; each task is put back once, whatever the number
   of processes, by one Lua step that writes nothing when the task exists); the
   hub's live calls (:meth:`signaling.hub.Hub.restore`).

From the discovery until it is done the node is not ready (``/readyz`` answers
503 ``redis_reset``) and every routing step but the rebuild's own is refused
with :class:`~queues.store.Rebuilding` (503 with Retry-After, never a 500).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from redis.exceptions import RedisError

from queues.events import Event
from queues.model import Presence
from queues.redis_store import REBUILDER, RedisStore
from queues.router import Contact, Router
from safecall.background import Periodic, describe

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[object]]

ASKED = "presence_confirm"
"""The kind of the event (this process's listeners only) saying who is asked changed."""
CHECK_SECONDS = 0.5
"""How often each process compares the epoch (one GET)."""
SETTLE_SECONDS = 15.0
"""After a rebuild, how long the contacts sweep leaves alone what the line or the hub lacks
(every process rebuilds within a second or two of the loss; some a little later)."""


@dataclass(frozen=True)
class Held:
    """An open contact to put back: waiting (``officer_id`` None) or in conversation."""

    contact: Contact
    officer_id: int | None


class Recovery:
    def __init__(
        self,
        router: Router,
        store: RedisStore,
        *,
        every: float = CHECK_SECONDS,
        settle: float = SETTLE_SECONDS,
    ) -> None:
        self.router = router
        self.store = store
        self.every = every
        self.settle = settle
        self.steps: list[Step] = []
        """What the parts above put back, in order, once the router's state is rebuilt."""
        self.rebuilds = 0
        """Rebuilds finished by this process."""
        self.discovered_at: float | None = None
        """``time.monotonic()`` when the last loss was noticed."""
        self.rebuilt_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._periodic = Periodic(
            self.check,
            every=every,
            name="queues-recovery",
            failure="queues: could not check whether Redis lost the state; trying again",
        )
        store.on_lost.append(self.begin)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    @property
    def rebuilding(self) -> bool:
        return self.store.rebuilding

    def settling(self) -> bool:
        """Rebuilding, or rebuilt a moment ago: what is missing may still come back."""
        if self.store.rebuilding:
            return True
        return self.rebuilt_at is not None and time.monotonic() - self.rebuilt_at < self.settle

    async def check(self) -> None:
        """Compare the epoch; a loss starts the rebuild. Meanwhile keep the officers asked to
        confirm up to date (another process may have heard her answer)."""
        if self.store.rebuilding:
            return
        try:
            lost = await self.store.lost_state()
            if not lost:
                self._asked(await self.store.asked())
        except RedisError:
            return  # down: /readyz says so; the loss is seen once it is back
        if lost:
            self.begin()

    def begin(self) -> None:
        """Start rebuilding (once at a time)."""
        self.store.rebuilding = True
        if self._task is None or self._task.done():
            self.discovered_at = time.monotonic()
            log.warning("queues: Redis lost the routing state; rebuilding it")
            self._task = asyncio.create_task(self._rebuild(), name="queues-recovery")

    async def _rebuild(self) -> None:
        REBUILDER.set(True)  # this task's steps pass while the others are refused
        delay = 0.1
        while True:
            try:
                await self._once()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis may be going up and down: again, shortly
                log.warning("queues: rebuilding failed (%s); trying again", describe(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.store.rebuilding = False
        self.rebuilds += 1
        self.rebuilt_at = time.monotonic()
        took = self.rebuilt_at - (self.discovered_at or self.rebuilt_at)
        log.warning("queues: the routing state is rebuilt (%.2f s after the loss was seen)", took)
        self.router.wake()

    async def _once(self) -> None:
        store, router = self.store, self.router
        now = router.clock().timestamp()
        before = await store.reload(now)
        asked: dict[int, Presence] = {}
        for officer in before.values():
            now_known = store.board.officers.get(officer.id)
            if now_known is None:
                await store.register(officer.profile, now)
            # Asked when Redis lost her or her last choice (it came back older).
            if officer.presence != Presence.OFFLINE and (
                now_known is None or now_known.presence != officer.presence
            ):
                asked[officer.id] = officer.presence
        await store.ask_to_confirm(asked)
        for step in self.steps:
            await step()
        self._asked(await store.asked())  # her console asks once her answer can be taken

    def _asked(self, asked: dict[int, Presence]) -> None:
        """Who is asked to confirm now; the consoles here look again when it changed."""
        router = self.router
        if asked != router.asked:
            router.asked = asked
            at = router.clock().timestamp()
            router.tell(Event(id=f"asked#{at!r}", kind=ASKED, at=at, data={"asked": len(asked)}))

    async def put_back(self, held: Iterable[Held]) -> int:
        """Put back the open contacts Redis lost (a step of the desk's); how many this process
        put back (each is put back once across processes: the step refuses one that exists)."""
        router = self.router
        version = int(router.clock().timestamp() * 1000)
        """Above any version a task had before: its event ids stay unique on the timeline."""
        done = 0
        waiting: list[str] = []
        for one in held:
            task = router.restored_task(one.contact)
            outcome = await self.store.restore(
                task, router.clock().timestamp(), officer_id=one.officer_id, version=version
            )
            if outcome.ok:
                done += 1
                if one.officer_id is None:
                    waiting.append(task.id)
            elif outcome.reason == "unknown_officer":
                log.warning("queues: a contact in conversation was not put back (no officer)")
        for task_id in waiting:
            await router.offer_now(task_id)
        return done

    async def confirm(self, officer_id: int) -> Presence | None:
        """She answered "still available" (or chose a state): no longer asked; her presence
        before the loss (None when she was not asked)."""
        before = await self.store.confirmed(officer_id)
        self._asked({k: v for k, v in self.router.asked.items() if k != officer_id})
        return before
