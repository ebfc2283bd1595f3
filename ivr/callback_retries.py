"""Unanswered callbacks are rung again: back in line after a while, for the next free officer.

When a callback ring ends without a person (no answer, busy, failed, or a
machine, which is hung up on without a word), :func:`ring_ended` frees the
officer who rang (her callback task completes) and, while rings remain
(the menu's ``callback_attempts``), writes a :class:`~ivr.models.CallbackRetry`
due ``callback_retry_seconds`` later. The retry is in the database, so a
restart loses none and any process may act on it: :func:`sweep` (every
:data:`SWEEP_EVERY` seconds in each process, :func:`run`) claims the due ones
(one process wins each claim) and puts her callback back in line as a new
task, ``<session>~<attempt>~callback`` (:meth:`queues.router.Router.callback_again`),
for whoever is free, as Amazon Connect's queued callbacks do. After the last
ring she is unreachable: a timeline event and a note on her case say so.
A person answering ends it all (the officer is connected). Each step is
keyed so that a repeated status callback changes nothing more.

Timeline (on the session she called from): ``callback.retry_scheduled``
(``attempt``, ``due_at``), ``callback.retry_claimed`` (``attempt``, ``task_id``),
``callback.unreachable`` (``rings``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cases.casework import add_note
from cases.models import Case, ContactSession
from cases.timeline import record_event
from ivr.models import CallbackRetry, PhoneCall
from ivr.twiml import MENU
from officers.models import Officer
from queues.model import TaskStatus
from queues.router import CALLBACK_SUFFIX, Contact, Refused
from queues.service import ROUTER
from safecall.background import Periodic
from safecall.state import CLOCK, DATA_KEY, DB, SETTINGS

log = logging.getLogger(__name__)

SWEEP_EVERY = 5.0
"""Seconds between looks for due retries (each process)."""
LEASE = timedelta(seconds=60)
"""A claim not finished by then (its process died) may be claimed again."""


def task_id(origin_session_id: str, attempt: int) -> str:
    """The callback task of ring ``attempt`` (the first ring's is the router's own)."""
    if attempt <= 1:
        return origin_session_id + CALLBACK_SUFFIX
    return f"{origin_session_id}~{attempt}{CALLBACK_SUFFIX}"


def origin_of(callback_task_id: str) -> str | None:
    """The session a callback task belongs to; None when the id is not a callback task's."""
    if not callback_task_id.endswith(CALLBACK_SUFFIX):
        return None
    return callback_task_id.split("~", 1)[0] or None


async def ring_ended(app: web.Application, call: PhoneCall) -> None:
    """A callback ring is over (``call`` as it was); unanswered: free the officer, ring again
    later or give up. Safe to call more than once for the same ring."""
    origin = call.origin_session_id
    if call.direction != "callback" or origin is None:
        return
    menu, now = app[MENU], app[CLOCK]()
    due = now + timedelta(seconds=menu.callback_retry_seconds)
    last = call.attempt >= menu.callback_attempts
    # The event's key makes each outcome happen once, however often the ring's end is told.
    if last:
        key, kind = f"callback:{origin}:unreachable", "callback.unreachable"
        data: dict[str, object] = {"rings": call.attempt}
    else:
        key = f"callback:{origin}:retry:{call.attempt + 1}:scheduled"
        kind = "callback.retry_scheduled"
        data = {"attempt": call.attempt + 1, "due_at": due.isoformat()}
    async with app[DB]() as session, session.begin():
        contact = await session.get(ContactSession, call.session_id)
        if contact is None or contact.answered_at is not None:
            return  # she answered: no more rings
        earlier = await session.get(ContactSession, origin)
        assert earlier is not None
        first = await record_event(
            session,
            key=key,
            kind=kind,
            at=now,
            session_id=origin,
            officer_id=call.officer_id,
            data=data,
        )
        if first and last:
            await _note_unreachable(app, session, call, earlier, now)
        elif first:
            session.add(
                CallbackRetry(
                    origin_session_id=origin, attempt=call.attempt + 1, due_at=due, created_at=now
                )
            )
    if call.officer_id is not None:
        await _free(app, origin, call.officer_id)
    if not last:
        log.info("phone: a callback went unanswered; it goes back in line later")


async def _note_unreachable(
    app: web.Application,
    session: AsyncSession,
    call: PhoneCall,
    earlier: ContactSession,
    now: datetime,
) -> None:
    """The case's note, by the officer who called: she was not reached."""
    officer = await session.get(Officer, call.officer_id) if call.officer_id else None
    case = await session.get(Case, earlier.case_id)
    if officer is None or case is None:
        return
    await add_note(
        session,
        app[DATA_KEY],
        case,
        text=(
            f"Callback: she did not answer {call.attempt} rings from the "
            "neutral number (no voicemail left). She was not reached."
        ),
        actor=officer,
        now=now,
    )


async def _free(app: web.Application, origin: str, officer_id: int) -> None:
    """Complete the callback task the officer holds for ``origin`` (she starts wrap-up)."""
    router = app[ROUTER]
    held = [
        task.id
        for task in list(router.board.tasks.values())
        if task.is_callback
        and task.session_id == origin
        and task.officer == officer_id
        and task.status == TaskStatus.ASSIGNED
    ]
    for held_id in held:
        try:
            await router.complete(held_id, officer_id)
        except Refused:
            pass  # she completed it herself meanwhile


async def sweep(app: web.Application) -> int:
    """Put every due retry back in line (each claimed by one process); how many this did."""
    now = app[CLOCK]()
    async with app[DB]() as session, session.begin():
        # One UPDATE whose WHERE is checked again under the row lock: when two processes
        # race, the second finds the claim taken and gets nothing back.
        claimed = (
            await session.execute(
                update(CallbackRetry)
                .where(
                    CallbackRetry.done_at.is_(None),
                    CallbackRetry.due_at <= now,
                    or_(CallbackRetry.claimed_until.is_(None), CallbackRetry.claimed_until <= now),
                )
                .values(claimed_until=now + LEASE)
                .returning(CallbackRetry.id, CallbackRetry.origin_session_id, CallbackRetry.attempt)
                .execution_options(synchronize_session=False)
            )
        ).all()
    done = 0
    for retry_id, origin, attempt in claimed:
        try:
            await _back_in_line(app, retry_id, origin, attempt)
            done += 1
        except Exception:
            log.exception("phone: a callback retry could not be put back in line; trying again")
    return done


async def _back_in_line(app: web.Application, retry_id: int, origin: str, attempt: int) -> None:
    now = app[CLOCK]()
    async with app[DB]() as session:
        earlier = await session.get(ContactSession, origin)
        inbound = await session.scalar(
            select(PhoneCall).where(
                PhoneCall.session_id == origin, PhoneCall.direction == "inbound"
            )
        )
    data: dict[str, object] = {"attempt": attempt, "task_id": task_id(origin, attempt)}
    try:
        if earlier is not None:
            await app[ROUTER].callback_again(_contact(earlier, inbound), attempt=attempt)
    except ValueError as exc:  # her line is gone from the routing file: nobody could take it
        log.warning("phone: a callback retry cannot go back in line (%s)", exc)
        data["refused"] = str(exc)[:200]
    async with app[DB]() as session, session.begin():
        await record_event(
            session,
            key=f"callback:{origin}:retry:{attempt}:claimed",
            kind="callback.retry_claimed",
            at=now,
            session_id=origin,
            data=data,
        )
        await session.execute(
            update(CallbackRetry)
            .where(CallbackRetry.id == retry_id)
            .values(done_at=now)
            .execution_options(synchronize_session=False)
        )


def _contact(earlier: ContactSession, inbound: PhoneCall | None) -> Contact:
    return Contact(
        id=earlier.id,
        line=earlier.service_line,
        channel="phone",
        category=inbound.category if inbound else None,
        language=earlier.language,
        emergency=inbound.emergency if inbound else False,
    )


async def retry_of(app: web.Application, origin: str, attempt: int) -> CallbackRetry | None:
    """The retry that makes ring ``attempt`` of her callback, if one was scheduled."""
    async with app[DB]() as session:
        return await session.scalar(
            select(CallbackRetry).where(
                CallbackRetry.origin_session_id == origin, CallbackRetry.attempt == attempt
            )
        )


async def run(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the router's): sweeps in the background."""
    if not app[SETTINGS].ivr_enabled:
        yield
        return
    async with Periodic(
        lambda: sweep(app),
        every=SWEEP_EVERY,
        jitter=0.2,  # keeps processes from sweeping in step
        at_once=True,
        name="ivr-callback-retries",
        failure="phone: the callback retry sweep failed; trying again",
    ):
        yield
