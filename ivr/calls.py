"""A phone call's life on our side: in line, bridged, ended; once per CallSid.

:func:`queue_call` opens the contact on a case (channel ``phone``), opens
its signaling session and puts it in the routing engine's line. It is keyed
on the CallSid: the same webhook twice (Twilio retries) finds the call it
opened and opens nothing new, also when both arrive at once (the second
insert of the CallSid fails and its transaction, contact included, rolls back).

:func:`end_call` is what a hang-up does (status callback): the task leaves
the line (a callback task is made when she said it is safe), the contact
ends ``abandoned`` and the signaling session ends. Every step tolerates
having been done already, so the same status twice changes nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from aiohttp import web
from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, ContactSession
from cases.sessions import check_phone
from contacts.request import Statement, contact_request
from contacts.service import DESK, SWEEP, VOCABULARY
from ivr import twilio_api
from ivr.menu import Menu
from ivr.models import NumberMark, PhoneCall
from ivr.progress import Intake
from queues.router import Contact
from safecall.db import reader
from safecall.errors import is_outage
from safecall.refusals import Invalid
from safecall.state import CLOCK, DATA_KEY, DB, ENGINE, SETTINGS
from signaling.routes import HUB

log = logging.getLogger(__name__)

CHANNEL = "phone"
ENDED_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
"""Twilio's final CallStatus values."""


@dataclass(frozen=True)
class Queued:
    call: PhoneCall
    deprioritised: bool
    """Her number was marked irrelevant often: she hears a short notice first."""


def caller_number(raw: str) -> str | None:
    """Her number when Twilio gave a usable one (withheld numbers come as words)."""
    try:
        return check_phone(raw) if raw else None
    except Invalid:
        return None


async def marks_on(app: web.Application, phone_hash: str | None) -> int:
    """Marks (not cleared by a supervisor) on the number with this hash."""
    if phone_hash is None:
        return 0
    async with app[DB]() as session:
        return await _marks(session, phone_hash)


_MARKS = (
    select(func.count())
    .select_from(NumberMark)
    .where(NumberMark.phone_hash == bindparam("hash"), NumberMark.cleared_at.is_(None))
)


_CALLS_TABLE = cast(Table, PhoneCall.__table__)


async def _marks(session: AsyncSession, phone_hash: str | None) -> int:
    if phone_hash is None:
        return 0
    return int(await session.scalar(_MARKS, {"hash": phone_hash}) or 0)


async def queue_call(
    app: web.Application, menu: Menu, *, call_sid: str, caller: str, intake: Intake
) -> Queued:
    """Open her contact on the desk and put it in line, once per ``call_sid``.

    A repeated webhook is told apart by the CallSid's primary key, not by a read
    first: the loser's transaction, contact included, rolls back and the call
    written first is taken. The marks on her number and the officer who last
    answered it are read first, in one statement (her number's keyed hash only).
    """
    number = caller_number(caller)
    phone_hash = app[DATA_KEY].phone_hash(number) if number else None
    marks, known = await _caller(app, phone_hash)
    deprioritised = marks >= menu.prank_marks and not intake.emergency
    anonymous = intake.anonymous or number is None
    callback_safe = intake.callback_safe and not anonymous
    now = app[CLOCK]()
    asked = contact_request(
        app[VOCABULARY],
        line=intake.line,
        channel=CHANNEL,
        language=intake.language,
        category=intake.category,
        anonymous=anonymous,
        statement=None if anonymous else Statement(phone=number, callback_safe=callback_safe),
        silent=intake.silent,
        emergency=intake.emergency,
        priority=menu.prank_priority if deprioritised else None,
        external_id=call_sid,
        caller_hash=phone_hash,
    )
    call = PhoneCall(
        call_sid=call_sid,
        direction="inbound",
        phone_hash=phone_hash,
        language=intake.language,
        line=intake.line,
        category=intake.category,
        emergency=intake.emergency,
        silent=intake.silent,
        callback_safe=callback_safe,
        state="waiting",
        attempt=1,
        created_at=now,
    )

    async def write(session: AsyncSession, contact: ContactSession) -> None:
        call.session_id = contact.id
        session.add(call)
        await session.flush()
        session.expunge(call)

    try:
        await app[DESK].open(asked, known_officer=known, write=write, unwrite=_unwrite)
    except IntegrityError:
        # The same webhook, at the same moment, got there first: take its call.
        found = await find_call(app, call_sid)
        if found is None:
            raise
        marks = await marks_on(app, found.phone_hash)
        return Queued(found, marks >= menu.prank_marks and not found.emergency)
    return Queued(call, deprioritised)


async def _unwrite(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(PhoneCall).where(PhoneCall.session_id == session_id))


_SESSIONS = cast(Table, ContactSession.__table__)
_CASES = cast(Table, Case.__table__)
_KNOWN = (
    select(_CASES.c.assigned_officer_id)
    .select_from(
        _CALLS_TABLE.join(_SESSIONS, _SESSIONS.c.id == _CALLS_TABLE.c.session_id).join(
            _CASES, _CASES.c.id == _SESSIONS.c.case_id
        )
    )
    .where(
        _CALLS_TABLE.c.phone_hash == bindparam("hash"),
        _SESSIONS.c.answered_at.is_not(None),
        _CASES.c.assigned_officer_id.is_not(None),
    )
    .order_by(_SESSIONS.c.arrived_at.desc())
    .limit(1)
    .scalar_subquery()
)
_CALLER = select(_MARKS.scalar_subquery().label("marks"), _KNOWN.label("known"))


async def _caller(app: web.Application, phone_hash: str | None) -> tuple[int, int | None]:
    """The marks on her number, and the known officer of the last case she called about."""
    if phone_hash is None:
        return 0, None
    async with reader(app[ENGINE]).connect() as conn:
        row = (await conn.execute(_CALLER, {"hash": phone_hash})).first()
    return (0, None) if row is None else (int(row.marks or 0), row.known)


_CALLS = cast(Table, PhoneCall.__table__)
_FIND_CALL = select(_CALLS).where(_CALLS.c.call_sid == bindparam("sid"))


async def find_call(app: web.Application, call_sid: str) -> PhoneCall | None:
    """The call as it is now (a detached copy; webhooks ask on every turn of the hold loop,
    so this is one plain read, without an ORM session)."""
    async with reader(app[ENGINE]).connect() as conn:
        row = (await conn.execute(_FIND_CALL, {"sid": call_sid})).first()
    return None if row is None else PhoneCall(**row._mapping)


async def find_call_of_session(app: web.Application, session_id: str) -> PhoneCall | None:
    async with app[DB]() as session:
        return await session.scalar(
            select(PhoneCall)
            .where(PhoneCall.session_id == session_id)
            .order_by(PhoneCall.created_at.desc())
            .limit(1)
        )


async def claim_bridge(app: web.Application, session_id: str) -> str | None:
    """Take the right to move this session's waiting call to the bridge; its CallSid.

    Exactly one caller wins (any process): the row goes from waiting to bridging.
    """
    async with app[DB]() as session, session.begin():
        row = (
            await session.execute(
                update(_CALLS)
                .where(_CALLS.c.session_id == session_id, _CALLS.c.state == "waiting")
                .values(state="bridging")
                .returning(_CALLS.c.call_sid)
            )
        ).first()
    return None if row is None else str(row[0])


async def set_state(app: web.Application, call_sid: str, state: str, *, was: str) -> bool:
    values: dict[str, object] = {"state": state}
    if state == "bridged":
        values["bridged_at"] = app[CLOCK]()
    async with app[DB]() as session, session.begin():
        result = await session.execute(
            update(_CALLS)
            .where(_CALLS.c.call_sid == call_sid, _CALLS.c.state == was)
            .values(**values)
            .returning(_CALLS.c.call_sid)
        )
        return result.first() is not None


async def end_contact(app: web.Application, session_id: str, disposition: str) -> bool:
    """End the contact on its case once; False when it had ended (or was answered)."""
    return await app[DESK].record_end(session_id, disposition)


_CALL_AND_CONTACT = (
    select(
        _CALLS,
        _SESSIONS.c.id.label("contact_id"),
        _SESSIONS.c.arrived_at.label("contact_arrived_at"),
        _SESSIONS.c.answered_at.label("contact_answered_at"),
        _SESSIONS.c.ended_at.label("contact_ended_at"),
    )
    .select_from(_CALLS.outerjoin(_SESSIONS, _SESSIONS.c.id == _CALLS.c.session_id))
    .where(_CALLS.c.call_sid == bindparam("sid"))
)


async def end_call(app: web.Application, call_sid: str, status: str) -> PhoneCall | None:
    """Twilio says the call is over: everything it held ends (each step once).

    An unanswered inbound call's task leaves the line first; then one
    transaction ends the contact and the call's row; then the hub session.
    """
    # One plain read (no transaction is held while the line is asked); the writes
    # below are conditional, so a status repeated meanwhile changes nothing more.
    async with reader(app[ENGINE]).connect() as conn:
        row = (await conn.execute(_CALL_AND_CONTACT, {"sid": call_sid})).first()
    if row is None:
        return None  # she hung up in the menu: nothing was opened
    found = row._mapping
    call = PhoneCall(**{column.name: found[column.name] for column in _CALLS.columns})
    # The desk takes an unanswered inbound call out of line first (a callback task is made
    # when she said it is safe); an unanswered callback ring is missed (rung again later).
    missed = call.direction == "callback" and found["contact_answered_at"] is None
    if found["contact_id"] is not None:
        await app[DESK].end(call.session_id, "hangup", disposition="missed" if missed else None)
    async with app[DB]() as session, session.begin():
        await session.execute(
            update(_CALLS)
            .where(_CALLS.c.call_sid == call_sid, _CALLS.c.ended_at.is_(None))
            .values(state="ended", ended_at=app[CLOCK](), end_status=status[:16])
        )
    await app[HUB].end_session(call.session_id, "hangup")
    return call


async def requeue(app: web.Application, call: PhoneCall, menu: Menu) -> None:
    """Put a waiting call back in line when the line lost it (same arrival time)."""
    deprioritised = await marks_on(app, call.phone_hash) >= menu.prank_marks and not call.emergency
    await app[DESK].put_back(
        Contact(
            id=call.session_id,
            line=call.line,
            channel=CHANNEL,
            category=call.category,
            language=call.language,
            emergency=call.emergency,
            silent=call.silent,
            callback_safe=call.callback_safe,
            arrived=call.created_at,
            priority=menu.prank_priority if deprioritised else None,
        )
    )


class _Later:
    """The steps being tried again in the background, ended with the app."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()


LATER = web.AppKey("ivr_later", _Later)
RETRY_FOR = 300.0
"""Seconds a step Twilio will not ask for again (a status callback) is tried again for."""


def later(app: web.Application, step: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``step`` again and again, backing off, while the database or Redis is down (for
    at most :data:`RETRY_FOR`); the tasks end with the app (:func:`later_context`)."""

    async def again() -> None:
        loop = asyncio.get_running_loop()
        give_up, delay = loop.time() + RETRY_FOR, 0.25
        while True:
            await asyncio.sleep(delay)
            try:
                await step()
                return
            except Exception as exc:
                if not is_outage(exc) or loop.time() >= give_up:
                    log.error("phone: could not record %s (%s)", what, type(exc).__name__)
                    return
                delay = min(delay * 2, 5.0)

    later = app.get(LATER)
    if later is None:  # an app without the phone's cleanup: nothing to keep it
        return
    task = asyncio.create_task(again(), name="ivr-later")
    later.tasks.add(task)
    task.add_done_callback(later.tasks.discard)


async def later_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry: what is still being tried when the app stops is let go."""
    later = app[LATER] = _Later()
    yield
    for task in list(later.tasks):
        task.cancel()
    await asyncio.gather(*later.tasks, return_exceptions=True)


CHECK_EVERY = 60.0
"""Seconds between two asks to Twilio about one call the sweep found without its session."""


class CallCheck:
    """For the contacts sweep (:mod:`contacts.sweep`): is a phone contact whose session is
    gone, or whose task the line lost, still a live call? Asks Twilio's Calls resource
    (at most once a minute per call); a call that is over is ended as its status callback
    would have (a lost callback must not leave a contact open, or a task waiting for a
    caller long gone). A live call is left to the hold loop, which puts her back."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._asked: dict[str, float] = {}

    async def __call__(self, session_id: str) -> bool:
        app = self.app
        call = await find_call_of_session(app, session_id)
        if call is None:
            return await app[DESK].lose(session_id, "a phone contact without its call")
        if call.ended_at is not None:
            await end_call(app, call.call_sid, call.end_status or "completed")
            return True
        now = app[CLOCK]().timestamp()
        if now - self._asked.get(call.call_sid, 0.0) < CHECK_EVERY:
            return False
        self._asked[call.call_sid] = now
        if len(self._asked) > 10_000:
            self._asked.clear()
        try:
            live = await twilio_api.client(app).calls(call.call_sid).fetch_async()
        except Exception as exc:  # Twilio unreachable: ask again next time
            log.warning("phone: could not ask Twilio about a call (%s)", type(exc).__name__)
            return False
        status = str(live.status or "")
        if status not in ENDED_STATUSES:
            return False
        await end_call(app, call.call_sid, status)
        return True


async def sweep_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the desk's): the sweep asks Twilio about phone calls."""
    if app[SETTINGS].ivr_enabled:
        app[SWEEP].checks[CHANNEL] = CallCheck(app)
    yield
