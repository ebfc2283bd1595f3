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

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from aiohttp import web
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cases.casework import CaseworkError, Conflict
from cases.models import ContactSession
from cases.sessions import ComplainantDetails, check_phone, end_session, open_contact
from ivr.menu import Menu
from ivr.models import NumberMark, PhoneCall
from queues.router import Contact, Refused
from queues.service import ROUTER
from safecall.db import reader
from safecall.state import CLOCK, DATA_KEY, DB, ENGINE, SETTINGS
from signaling.hub import HubClosing, SessionExists
from signaling.routes import HUB

log = logging.getLogger(__name__)

CHANNEL = "phone"
ENDED_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
"""Twilio's final CallStatus values."""


@dataclass(frozen=True)
class Intake:
    """What the menu learned from her."""

    language: str
    line: str
    category: str | None = None
    anonymous: bool = True
    callback_safe: bool = False
    emergency: bool = False
    silent: bool = False


@dataclass(frozen=True)
class Queued:
    call: PhoneCall
    deprioritised: bool
    """Her number was marked irrelevant often: she hears a short notice first."""


def caller_number(raw: str) -> str | None:
    """Her number when Twilio gave a usable one (withheld numbers come as words)."""
    try:
        return check_phone(raw) if raw else None
    except CaseworkError:
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


async def _marks(session: AsyncSession, phone_hash: str | None) -> int:
    if phone_hash is None:
        return 0
    return int(await session.scalar(_MARKS, {"hash": phone_hash}) or 0)


async def queue_call(
    app: web.Application, menu: Menu, *, call_sid: str, caller: str, intake: Intake
) -> Queued:
    """Open her contact and put it in line, once per ``call_sid``.

    The webhook's hot path: one session, one transaction (her marks are read
    in it before anything is written). A repeated webhook is told apart by the
    CallSid's primary key, not by a read first: the loser's transaction,
    contact included, rolls back and the call written first is taken.
    """
    number = caller_number(caller)
    phone_hash = app[DATA_KEY].phone_hash(number) if number else None
    call, marks = await _open(app, call_sid, number, phone_hash, intake)
    if marks is None:  # the same webhook got there first: its call, as it is now
        marks = await marks_on(app, call.phone_hash)
    deprioritised = marks >= menu.prank_marks and not call.emergency
    if call.state == "waiting":
        await _in_line(app, call, deprioritised, menu)
    return Queued(call, deprioritised)


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


async def _open(
    app: web.Application,
    call_sid: str,
    number: str | None,
    phone_hash: str | None,
    intake: Intake,
) -> tuple[PhoneCall, int | None]:
    """Her contact and its ``ivr_calls`` row, with the marks on her number; when this
    CallSid has its call already, that call (and no marks: nothing was written)."""
    now = app[CLOCK]()
    anonymous = intake.anonymous or number is None
    callback_safe = intake.callback_safe and not anonymous
    details = None
    if not anonymous:
        details = ComplainantDetails(phone=number, callback_safe=callback_safe)
    try:
        async with app[DB]() as session, session.begin():
            marks = await _marks(session, phone_hash)
            contact, _ = await open_contact(
                session,
                app[DATA_KEY],
                service_line=intake.line,
                channel=CHANNEL,
                now=now,
                language=intake.language,
                category=intake.category,
                anonymous=anonymous,
                silent=intake.silent,
                complainant=details,
                external_id=call_sid,
                extra_categories=app[SETTINGS].extra_categories,
                queued_at=now,
            )
            call = PhoneCall(
                call_sid=call_sid,
                session_id=contact.id,
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
            session.add(call)
            await session.flush()
            session.expunge(call)
        return call, marks
    except IntegrityError:
        # The same webhook, at the same moment, got there first: take its call.
        found = await find_call(app, call_sid)
        if found is None:
            raise
        return found, None


async def _in_line(app: web.Application, call: PhoneCall, deprioritised: bool, menu: Menu) -> None:
    """The signaling session and the task (both idempotent on the session id).

    A process that is shutting down opens neither: the hold loop's next turn,
    on another process, finds the task unknown and puts her in line there.
    """
    try:
        await app[HUB].open_session(call.session_id)
    except SessionExists:
        pass
    except HubClosing:
        log.info("phone: this process is stopping; the call is put in line on the next turn")
        return
    await app[ROUTER].enqueue(
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
    async with app[DB]() as session, session.begin():
        contact = await session.get(ContactSession, session_id)
        return await _end_contact(session, contact, disposition, app[CLOCK]())


async def _end_contact(
    session: AsyncSession, contact: ContactSession | None, disposition: str, now: datetime
) -> bool:
    if contact is None or contact.ended_at is not None:
        return False
    if contact.answered_at is not None and disposition in ("abandoned", "missed"):
        return False
    try:
        await end_session(session, contact, disposition=disposition, now=now)
    except Conflict:
        return False
    return True


async def leave_line(app: web.Application, session_id: str) -> None:
    """Take the task out of line (a callback task is made when she said it is safe)."""
    try:
        await app[ROUTER].cancel(session_id)
    except Refused:
        pass  # answered, or already out of line


_SESSIONS = cast(Table, ContactSession.__table__)
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
    contact = None
    if found["contact_id"] is not None:
        contact = ContactSession(
            id=found["contact_id"],
            arrived_at=found["contact_arrived_at"],
            answered_at=found["contact_answered_at"],
            ended_at=found["contact_ended_at"],
        )
    if contact is not None and contact.answered_at is not None:
        disposition = "answered"
    elif call.direction == "callback":  # unanswered: rung again later
        disposition = "missed"
    else:
        disposition = "abandoned"
        await leave_line(app, call.session_id)
    async with app[DB]() as session, session.begin():
        await _end_contact(session, contact, disposition, app[CLOCK]())
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
    await _in_line(app, call, deprioritised, menu)
