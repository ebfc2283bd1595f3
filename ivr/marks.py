"""Irrelevant and prank calls: an officer marks a phone contact; a supervisor may clear the marks.

Only the officer who handled the call marks it (or a supervisor of its line, or an
admin): a mark pushes a number's later calls down the line, so a curious officer
must not be able to do that to any caller (:func:`may_mark`).

A mark is kept against the calling number's keyed hash (never the number).
A number with ``prank_marks`` marks not cleared is put lower in line and
hears a short notice first (:func:`ivr.calls.queue_call`); the emergency
choice keeps its priority, and no number is ever refused.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cases.models import ContactSession, Leg
from ivr import calls
from ivr.models import NumberMark, PhoneCall
from ivr.twiml import MENU
from officers.auth import current_officer
from officers.models import Officer
from safecall.endpoint import ADMIN, MANAGERS, STAFF, SUPERVISOR, endpoint
from safecall.errors import ApiError
from safecall.state import AUDIT, CLOCK, DB, client_address

TAGS = ["phone"]


class MarkOut(BaseModel):
    session_id: str
    marks: int = Field(description="Marks on the calling number that count (not cleared).")
    deprioritised: bool = Field(description="Its next calls go lower in line (not emergencies).")


class ClearedOut(BaseModel):
    session_id: str
    cleared: int = Field(description="Marks cleared on the calling number.")


def may_mark(officer: Officer, contact: ContactSession, handlers: set[int]) -> bool:
    """Whether ``officer`` may mark (or clear) this contact: the officer who handled it
    (answered it, or took a leg of it), a supervisor of its service line, or an admin."""
    if officer.role == ADMIN:
        return True
    if officer.role == SUPERVISOR and contact.service_line in officer.lines:
        return True
    return officer.id in handlers


async def _number_of(request: web.Request, officer: Officer) -> tuple[str, str]:
    """The contact's id and calling number's hash, once ``officer`` may mark it."""
    session_id = request.match_info["session_id"]
    async with request.app[DB]() as session:
        phone_hash = await session.scalar(
            select(PhoneCall.phone_hash).where(
                PhoneCall.session_id == session_id, PhoneCall.direction == "inbound"
            )
        )
        contact = await session.get(ContactSession, session_id) if phone_hash else None
        if phone_hash is None or contact is None:
            raise ApiError(
                404,
                "no_calling_number",
                "This contact is not a phone call with a known number; nothing to mark.",
            )
        legs = await session.scalars(
            select(Leg.officer_id).where(Leg.session_id == session_id, Leg.officer_id.is_not(None))
        )
        handlers = {h for h in (contact.officer_id, *legs) if h is not None}
    if not may_mark(officer, contact, handlers):
        raise ApiError(
            403,
            "not_handling_officer",
            "Only the officer who handled this call, or a supervisor of its line, may mark it.",
        )
    return session_id, phone_hash


@endpoint(
    "Mark a phone contact irrelevant (a prank or a wrong number): counts against its number. "
    "Only the officer who handled the call, a supervisor of its line, or an admin.",
    roles=STAFF,
    response=MarkOut,
    errors=["no_calling_number", "not_handling_officer"],
    tags=TAGS,
)
async def mark_irrelevant(request: web.Request) -> web.Response:
    officer = current_officer(request)
    session_id, phone_hash = await _number_of(request, officer)
    app = request.app
    try:
        async with app[DB]() as session, session.begin():
            session.add(
                NumberMark(
                    phone_hash=phone_hash,
                    session_id=session_id,
                    officer_id=officer.id,
                    at=app[CLOCK](),
                )
            )
    except IntegrityError:
        pass  # marked already: one mark per contact
    else:
        await app[AUDIT].record(
            actor_kind="officer",
            officer_id=officer.id,
            action="session.mark_irrelevant",
            object_type="session",
            object_id=session_id,
            address=client_address(request),
        )
    count = await calls.marks_on(app, phone_hash)
    body = MarkOut(session_id=session_id, marks=count, deprioritised=count >= app[MENU].prank_marks)
    return web.json_response(body.model_dump())


@endpoint(
    "Supervisor of the call's line (or admin): clear the irrelevant marks on a phone "
    "contact's number (it is no longer deprioritised).",
    roles=MANAGERS,
    response=ClearedOut,
    errors=["no_calling_number", "not_handling_officer"],
    tags=TAGS,
)
async def clear_marks(request: web.Request) -> web.Response:
    officer = current_officer(request)
    session_id, phone_hash = await _number_of(request, officer)
    app = request.app
    async with app[DB]() as session, session.begin():
        result = await session.execute(
            update(NumberMark)
            .where(NumberMark.phone_hash == phone_hash, NumberMark.cleared_at.is_(None))
            .values(cleared_at=app[CLOCK](), cleared_by=officer.id)
            .returning(NumberMark.id)
            .execution_options(synchronize_session=False)
        )
        cleared = len(result.all())
    await app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="session.clear_marks",
        object_type="session",
        object_id=session_id,
        address=client_address(request),
        detail={"cleared": cleared},
    )
    return web.json_response(ClearedOut(session_id=session_id, cleared=cleared).model_dump())


def setup(app: web.Application) -> None:
    app.router.add_post("/api/phone/contacts/{session_id}/irrelevant", mark_irrelevant)
    app.router.add_post("/api/phone/contacts/{session_id}/clear-marks", clear_marks)
