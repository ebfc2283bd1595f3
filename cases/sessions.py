"""Contact sessions: a session opened when she arrives, logged against a new or existing case.

The tracking code is issued when the contact starts, so a dropped call still
leaves her one. Her details (only when she chose to give them) are sealed at
rest; the phone number is also kept as a keyed hash so repeat callers can be
recognised without the number in clear.

Every function runs in the caller's transaction and commits nothing. Ending
a session, answering it and ending a leg happen at most once, also when two
connections try at the same moment: the second is refused with
:class:`~cases.casework.Conflict` (a ``ValueError``).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from cases import tracking_code
from cases.casework import (
    CaseworkError,
    Conflict,
    check_category,
    check_district,
    check_priority,
    check_service_line,
    clean_text,
)
from cases.models import Case, Complainant, ContactSession, ContactStatement, Leg
from cases.timeline import EventRow, record_event, record_events
from cases.vocabulary import LANGUAGES, Channel, Disposition
from sealing.data_key import DataKey, normalise_phone

NAME_FIELD = "complainant.name"
PHONE_FIELD = "complainant.phone"
ADDRESS_FIELD = "complainant.address"
TIMES_FIELD = "complainant.callback_times"
CODE_ATTEMPTS = 8


@dataclass(frozen=True)
class ComplainantDetails:
    """What she chose to tell us about herself; every field optional."""

    name: str | None = None
    phone: str | None = None
    address: str | None = None
    callback_safe: bool = False
    """She said it is safe to call her back."""
    callback_times: str | None = None
    """When it is safe, in her words (e.g. "weekdays 10-12")."""


# --- checking ---------------------------------------------------------------


def _check_channel(channel: str) -> str:
    if channel not in {c.value for c in Channel}:
        raise CaseworkError("unknown_channel", f"Unknown channel {channel!r}.")
    return channel


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise CaseworkError("unknown_language", f"Unknown language {language!r}.")
    return language


def check_phone(phone: str) -> str:
    """The number as given (trimmed) when it has 7 to 15 digits, else :class:`CaseworkError`."""
    cleaned = clean_text(phone, "phone number", 32, "invalid_phone")
    digits = normalise_phone(cleaned).lstrip("+")
    if not 7 <= len(digits) <= 15 or any(c not in "+0123456789 -()" for c in cleaned):
        raise CaseworkError("invalid_phone", "A phone number has 7 to 15 digits.")
    return cleaned


def _check_details(details: ComplainantDetails) -> ComplainantDetails:
    return ComplainantDetails(
        name=None
        if details.name is None
        else clean_text(details.name, "name", 120, "invalid_name"),
        phone=None if details.phone is None else check_phone(details.phone),
        address=(
            None
            if details.address is None
            else clean_text(details.address, "address", 300, "invalid_address", multiline=True)
        ),
        callback_safe=bool(details.callback_safe),
        callback_times=(
            None
            if details.callback_times is None
            else clean_text(details.callback_times, "callback times", 120, "invalid_callback_times")
        ),
    )


def _check_anonymity(anonymous: bool, complainant: ComplainantDetails | None) -> None:
    if anonymous and complainant is not None:
        raise CaseworkError(
            "anonymous_with_details",
            "An anonymous contact cannot carry her name, phone or address; "
            "set anonymous to false if she chose to give them.",
        )


# --- cases ------------------------------------------------------------------


# Hot writes go through the tables (Core), not the mapped classes: the same SQL without
# the ORM's bulk-update machinery (the caller's objects are kept in step by ``_apply``).
_SESSIONS = cast(Table, ContactSession.__table__)
_LEGS = cast(Table, Leg.__table__)
_CODE_TAKEN = select(Case.id).where(Case.tracking_code == bindparam("code"))


async def issue_tracking_code(
    session: AsyncSession, generate: Callable[[], str] = tracking_code.new_code
) -> str:
    """A fresh code no case has yet (drawing again on the rare collision)."""
    for _ in range(CODE_ATTEMPTS):
        code = generate()
        taken = await session.scalar(_CODE_TAKEN, {"code": code})
        if taken is None:
            return code
    raise RuntimeError("could not draw an unused tracking code")


async def open_case(
    session: AsyncSession,
    data_key: DataKey,
    *,
    service_line: str,
    now: datetime,
    language: str = "ur",
    category: str | None = None,
    district: str | None = None,
    anonymous: bool = True,
    complainant: ComplainantDetails | None = None,
    priority: int = 0,
    extra_categories: tuple[str, ...] = (),
    officer_id: int | None = None,
    assigned_officer_id: int | None = None,
) -> Case:
    """A new case with a fresh tracking code (and her sealed details, if given).

    ``officer_id`` is who opened it when an officer did (a walk-in or phone-in).
    Raises :class:`~cases.casework.CaseworkError` before writing anything when
    a value is not acceptable.
    """
    check_service_line(service_line)
    _check_language(language)
    if category is not None:
        check_category(category, extra_categories)
    district = None if district is None else check_district(district)
    check_priority(priority)
    _check_anonymity(anonymous, complainant)
    details = None if complainant is None else _check_details(complainant)
    if details is not None and details.callback_safe and details.phone is None:
        raise CaseworkError("callback_needs_phone", "A callback needs her phone number.")
    return await _new_case(
        session,
        data_key,
        service_line=service_line,
        now=now,
        language=language,
        category=category,
        district=district,
        anonymous=anonymous,
        details=details,
        priority=priority,
        officer_id=officer_id,
        assigned_officer_id=assigned_officer_id,
    )


async def _new_case(
    session: AsyncSession,
    data_key: DataKey,
    *,
    service_line: str,
    now: datetime,
    language: str,
    category: str | None,
    district: str | None,
    anonymous: bool,
    details: ComplainantDetails | None,
    priority: int,
    officer_id: int | None,
    assigned_officer_id: int | None,
    session_id: str | None = None,
    events: list[EventRow] | None = None,
) -> Case:
    """A new case with a fresh code, her details, and its ``case.opened`` event (written
    now, or appended to ``events`` for the caller to write with the others)."""
    case = Case(
        tracking_code=await issue_tracking_code(session),
        service_line=service_line,
        category=category,
        status="new",
        district=district,
        priority=priority,
        anonymous=anonymous,
        assigned_officer_id=assigned_officer_id,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    await session.flush()
    if details is not None:
        _save_details(session, data_key, case, None, details, language, now)
    data: dict[str, Any] = {"service_line": service_line}
    if session_id is not None:
        data["session_id"] = session_id
    opened = _event(
        f"case:{case.id}:opened",
        "case.opened",
        now,
        case_id=case.id,
        officer_id=officer_id,
        data=data,
        complainant_visible=True,
    )
    if events is None:
        await session.flush()
        await record_events(session, [opened])
    else:
        events.append(opened)
    return case


def _event(
    key: str,
    kind: str,
    at: datetime,
    *,
    session_id: str | None = None,
    case_id: int | None = None,
    officer_id: int | None = None,
    data: dict[str, Any] | None = None,
    complainant_visible: bool = False,
) -> EventRow:
    return EventRow(
        key=key,
        kind=kind,
        at=at,
        session_id=session_id,
        case_id=case_id,
        data=dict(data or {}),
        officer_id=officer_id,
        complainant_visible=complainant_visible,
    )


def _save_details(
    session: AsyncSession,
    data_key: DataKey,
    case: Case,
    existing: Complainant | None,
    details: ComplainantDetails,
    language: str,
    now: datetime,
) -> None:
    row = existing or Complainant(case_id=case.id, created_at=now)
    if details.name is not None:
        row.name_sealed = data_key.seal(details.name, NAME_FIELD)
    if details.phone is not None:
        row.phone_sealed = data_key.seal(details.phone, PHONE_FIELD)
        row.phone_hash = data_key.phone_hash(details.phone)
    if details.address is not None:
        row.address_sealed = data_key.seal(details.address, ADDRESS_FIELD)
    row.callback_safe = details.callback_safe
    if details.callback_times is not None:
        row.callback_times_sealed = data_key.seal(details.callback_times, TIMES_FIELD)
    row.language = language
    row.updated_at = now
    if existing is None:
        session.add(row)


async def add_details(
    session: AsyncSession,
    data_key: DataKey,
    case: Case,
    details: ComplainantDetails,
    *,
    language: str,
    now: datetime,
) -> list[str]:
    """What she told about herself while she waited, on the case her contact opened: each
    given field over the case's (sealed); the case is no longer anonymous. The fields."""
    checked = _check_details(details)
    existing = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
    if existing is not None and checked.phone is None and checked.callback_times is None:
        checked = dataclasses.replace(checked, callback_safe=existing.callback_safe)
    _save_details(session, data_key, case, existing, checked, language, now)
    case.anonymous = False
    return _given(checked)


def add_statement(
    data_key: DataKey, row: ContactStatement, details: ComplainantDetails, now: datetime
) -> None:
    """Her statement on a contact that named an earlier case, with ``details`` added to what
    she said before on it (still for an officer to confirm)."""
    checked = _check_details(details)
    if checked.name is not None:
        row.name_sealed = data_key.seal(checked.name, NAME_FIELD)
    if checked.phone is not None:
        row.phone_sealed = data_key.seal(checked.phone, PHONE_FIELD)
        row.callback_safe = checked.callback_safe
    if checked.callback_times is not None:
        row.callback_times_sealed = data_key.seal(checked.callback_times, TIMES_FIELD)
    row.created_at = now


def new_statement(
    data_key: DataKey, session_id: str, case_id: int, details: ComplainantDetails, now: datetime
) -> ContactStatement:
    """A contact's first statement about herself (see :func:`open_contact`)."""
    return _statement(data_key, session_id, case_id, _check_details(details), now)


def _given(details: ComplainantDetails) -> list[str]:
    """Which details were given (their names only: the values stay sealed)."""
    fields = [("name", details.name), ("phone", details.phone), ("address", details.address)]
    given = [name for name, value in fields if value is not None]
    given += ["callback_safe"] if details.callback_safe else []
    return given + (["callback_times"] if details.callback_times is not None else [])


def _statement(
    data_key: DataKey, session_id: str, case_id: int, details: ComplainantDetails, now: datetime
) -> ContactStatement:
    def seal(value: str | None, field: str) -> bytes | None:
        return None if value is None else data_key.seal(value, field)

    return ContactStatement(
        session_id=session_id,
        case_id=case_id,
        name_sealed=seal(details.name, NAME_FIELD),
        phone_sealed=seal(details.phone, PHONE_FIELD),
        callback_safe=details.callback_safe,
        callback_times_sealed=seal(details.callback_times, TIMES_FIELD),
        created_at=now,
    )


def open_statement(data_key: DataKey, row: ContactStatement) -> ComplainantDetails:
    """A contact's statement in clear (only for an officer who may read its case)."""
    return ComplainantDetails(
        name=data_key.open_optional(row.name_sealed, NAME_FIELD),
        phone=data_key.open_optional(row.phone_sealed, PHONE_FIELD),
        callback_safe=row.callback_safe,
        callback_times=data_key.open_optional(row.callback_times_sealed, TIMES_FIELD),
    )


async def confirm_details(
    session: AsyncSession,
    data_key: DataKey,
    case: Case,
    given: ComplainantDetails,
    fields: list[str],
    *,
    language: str,
    now: datetime,
) -> None:
    """An officer confirmed ``fields`` of what she said: they become her case's details.

    A case named now is no longer anonymous. "Safe to call back" needs a number on
    the case (:class:`~cases.casework.Conflict` ``callback_needs_phone`` otherwise).
    """
    row = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
    taken = ComplainantDetails(
        name=given.name if "name" in fields else None,
        phone=given.phone if "phone" in fields else None,
        callback_safe="callback_safe" in fields and given.callback_safe,
        callback_times=given.callback_times if "callback_times" in fields else None,
    )
    has_phone = taken.phone is not None or (row is not None and row.phone_sealed is not None)
    if taken.callback_safe and not has_phone:
        raise Conflict("callback_needs_phone", "A callback needs her phone number on the case.")
    if not taken.callback_safe and row is not None:
        taken = dataclasses.replace(taken, callback_safe=row.callback_safe)
    _save_details(session, data_key, case, row, taken, language, now)
    if taken.name is not None or taken.phone is not None:
        case.anonymous = False
    case.updated_at = now


def open_details(data_key: DataKey, row: Complainant) -> ComplainantDetails:
    """Her details in clear (only for someone who may read the case)."""
    return ComplainantDetails(
        name=data_key.open_optional(row.name_sealed, NAME_FIELD),
        phone=data_key.open_optional(row.phone_sealed, PHONE_FIELD),
        address=data_key.open_optional(row.address_sealed, ADDRESS_FIELD),
        callback_safe=row.callback_safe,
        callback_times=data_key.open_optional(row.callback_times_sealed, TIMES_FIELD),
    )


async def find_case_by_code(session: AsyncSession, code: str) -> Case | None:
    """The case with this tracking code (spaces and dashes allowed), if any."""
    digits = tracking_code.normalise(code)
    if digits is None or not tracking_code.is_valid(digits):
        return None
    return await session.scalar(select(Case).where(Case.tracking_code == digits))


# --- sessions ---------------------------------------------------------------


async def open_contact(
    session: AsyncSession,
    data_key: DataKey,
    *,
    service_line: str,
    channel: str,
    now: datetime,
    language: str = "ur",
    category: str | None = None,
    district: str | None = None,
    anonymous: bool = True,
    silent: bool = False,
    tracking_code: str | None = None,
    complainant: ComplainantDetails | None = None,
    priority: int = 0,
    external_id: str | None = None,
    extra_categories: tuple[str, ...] = (),
    queued_at: datetime | None = None,
) -> tuple[ContactSession, Case]:
    """She arrived: a session with its first leg, logged against a case.

    With a valid ``tracking_code`` of a known case, the session is linked to
    that case, and the case itself is not changed: her details, if given, are
    kept as this contact's sealed statement (:class:`ContactStatement`) for an
    officer to confirm, since the one holding her phone may hold her code too.
    Otherwise, a new case
    is opened with a fresh code; when a code was given but matched nothing,
    the new case's timeline notes it. The returned case's ``tracking_code``
    tells the caller which happened; whether to tell *her* is the caller's
    decision (never reveal whether some code exists).

    Details with ``anonymous=True`` are refused (``CaseworkError``, code
    ``anonymous_with_details``): anonymous means anonymous.
    ``external_id`` is the first leg's outside id (e.g. a Twilio CallSid);
    ``queued_at`` is written with the session when she is put in line at once
    (as :func:`record_times` would, without a second statement).
    """
    check_service_line(service_line)
    _check_channel(channel)
    _check_language(language)
    if category is not None:
        check_category(category, extra_categories)
    district = None if district is None else check_district(district)
    check_priority(priority)
    _check_anonymity(anonymous, complainant)
    details = None if complainant is None else _check_details(complainant)
    if external_id is not None and not 1 <= len(external_id) <= 64:
        raise CaseworkError("invalid_external_id", "An external id is 1 to 64 characters.")

    session_id = secrets.token_hex(16)
    events: list[EventRow] = []
    case = None if tracking_code is None else await find_case_by_code(session, tracking_code)
    statement = None
    if case is not None:
        # A public request never changes an existing case: what she says about herself
        # now is her statement on this contact, for an officer to confirm.
        if details is not None:
            statement = _statement(data_key, session_id, case.id, details, now)
            events.append(
                _event(
                    f"session:{session_id}:statement",
                    "contact.statement",
                    now,
                    session_id=session_id,
                    case_id=case.id,
                    data={"given": _given(details)},
                )
            )
        events.append(
            _event(
                f"session:{session_id}:linked",
                "case.linked",
                now,
                case_id=case.id,
                data={"session_id": session_id},
                complainant_visible=True,
            )
        )
    else:
        if details is not None and details.callback_safe and details.phone is None:
            raise CaseworkError("callback_needs_phone", "A callback needs her phone number.")
        case = await _new_case(
            session,
            data_key,
            service_line=service_line,
            now=now,
            language=language,
            category=category,
            district=district,
            anonymous=anonymous,
            details=details,
            priority=priority,
            officer_id=None,
            assigned_officer_id=None,
            session_id=session_id,
            events=events,
        )
        if tracking_code is not None:
            well_formed = tracking_code_is_well_formed(tracking_code)
            events.append(
                _event(
                    f"session:{session_id}:code_unmatched",
                    "case.code_unmatched",
                    now,
                    case_id=case.id,
                    data={"session_id": session_id, "well_formed": well_formed},
                )
            )

    contact = ContactSession(
        id=session_id,
        case_id=case.id,
        service_line=service_line,
        channel=channel,
        language=language,
        anonymous=anonymous,
        silent=silent,
        arrived_at=now,
        queued_at=queued_at,
    )
    session.add(contact)
    session.add(
        Leg(session_id=session_id, channel=channel, external_id=external_id, started_at=now)
    )
    if statement is not None:
        session.add(statement)
    events.append(
        _event(
            f"session:{session_id}:arrived",
            "contact.arrived",
            now,
            session_id=session_id,
            case_id=case.id,
            data={
                "channel": channel,
                "service_line": service_line,
                "language": language,
                "silent": silent,
            },
        )
    )
    # One flush (her details, the session, its leg: the unit of work orders them by
    # their foreign keys), then the events in one statement.
    await session.flush()
    await record_events(session, events)
    return contact, case


def tracking_code_is_well_formed(code: str) -> bool:
    digits = tracking_code.normalise(code)
    return digits is not None and tracking_code.is_valid(digits)


async def record_times(
    session: AsyncSession,
    contact_session: ContactSession,
    *,
    queued_at: datetime | None = None,
    offered_at: datetime | None = None,
) -> None:
    """Note when the session was queued and (last) offered to an officer."""
    values: dict[str, Any] = {}
    if queued_at is not None:
        values["queued_at"] = queued_at
    if offered_at is not None:
        values["offered_at"] = offered_at
    if values:
        await _update_open_session(session, contact_session, values)


async def mark_answered(
    session: AsyncSession,
    contact_session: ContactSession,
    *,
    officer_id: int,
    answered_at: datetime,
    queued_at: datetime | None = None,
    offered_at: datetime | None = None,
) -> None:
    """An officer answered. Once only: a second answer, or one after the end, is a
    :class:`~cases.casework.Conflict`. Open legs without an officer get hers."""
    values: dict[str, Any] = {"officer_id": officer_id, "answered_at": answered_at}
    if queued_at is not None:
        values["queued_at"] = queued_at
    if offered_at is not None:
        values["offered_at"] = offered_at
    await _update_open_session(session, contact_session, values, _SESSIONS.c.answered_at.is_(None))
    await session.execute(
        update(_LEGS)
        .where(
            _LEGS.c.session_id == contact_session.id,
            _LEGS.c.ended_at.is_(None),
            _LEGS.c.officer_id.is_(None),
        )
        .values(officer_id=officer_id)
    )
    await record_event(
        session,
        key=f"session:{contact_session.id}:answered",
        kind="contact.answered",
        at=answered_at,
        session_id=contact_session.id,
        case_id=contact_session.case_id,
        officer_id=officer_id,
    )


_NEEDS_ANSWER = {Disposition.ANSWERED, Disposition.DROPPED}
_NEEDS_NO_ANSWER = {Disposition.ABANDONED, Disposition.MISSED}


async def end_session(
    session: AsyncSession,
    contact_session: ContactSession,
    *,
    disposition: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    """The contact ended: its disposition, wait and talk seconds; open legs end too.

    Dispositions come from :class:`~cases.vocabulary.Disposition`. ``answered``
    and ``dropped`` need an answered session, ``abandoned`` and ``missed`` one
    never answered; ``failed`` needs the ``reason`` (and only it takes one).
    Wait is from arrival to answer (or to the end when never answered); talk
    is from answer to end (0 when never answered). Exactly once: ending an
    ended session raises :class:`~cases.casework.Conflict`.
    """
    if disposition not in {d.value for d in Disposition}:
        raise CaseworkError("unknown_disposition", f"Unknown disposition {disposition!r}.")
    if disposition == Disposition.FAILED:
        if reason is None:
            raise CaseworkError("reason_required", "A failed session needs the reason.")
        reason = clean_text(reason, "reason", 200, "invalid_reason")
    elif reason is not None:
        raise CaseworkError("reason_unexpected", "Only a failed session takes a reason.")

    condition = None
    if disposition in _NEEDS_ANSWER:
        condition = _SESSIONS.c.answered_at.is_not(None)
    elif disposition in _NEEDS_NO_ANSWER:
        condition = _SESSIONS.c.answered_at.is_(None)
    values: dict[str, Any] = {"ended_at": now, "disposition": disposition, "failure_reason": reason}
    # The times, written with the end when the object already knows them (arrival never
    # changes, an answer is written once); checked against the row the update returns.
    known = inspect(contact_session).dict
    if known.get("arrived_at") is not None:
        answered = None if disposition in _NEEDS_NO_ANSWER else known.get("answered_at")
        values.update(_timing(known["arrived_at"], answered, now))
    case_id, arrived_at, answered_at = await _update_open_session(
        session, contact_session, values, condition
    )
    timing = _timing(arrived_at, answered_at, now)
    if any(values.get(name) != value for name, value in timing.items()):
        await session.execute(
            update(_SESSIONS).where(_SESSIONS.c.id == contact_session.id).values(**timing)
        )
        _apply(contact_session, timing)
    await session.execute(
        update(_LEGS)
        .where(_LEGS.c.session_id == contact_session.id, _LEGS.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    await record_event(
        session,
        key=f"session:{contact_session.id}:ended",
        kind="contact.ended",
        at=now,
        session_id=contact_session.id,
        case_id=case_id,
        data={"disposition": disposition, **timing},
    )


def _timing(arrived_at: datetime, answered_at: datetime | None, now: datetime) -> dict[str, float]:
    """Wait (arrival to answer, or to the end) and talk (answer to end) seconds."""
    wait = ((answered_at or now) - arrived_at).total_seconds()
    talk = 0.0 if answered_at is None else (now - answered_at).total_seconds()
    return {"wait_seconds": max(wait, 0.0), "talk_seconds": max(talk, 0.0)}


async def add_leg(
    session: AsyncSession,
    contact_session: ContactSession,
    *,
    channel: str,
    started_at: datetime,
    officer_id: int | None = None,
    external_id: str | None = None,
) -> Leg:
    """A new media path for an open session (a chat turning into a video call)."""
    _check_channel(channel)
    if external_id is not None and not 1 <= len(external_id) <= 64:
        raise CaseworkError("invalid_external_id", "An external id is 1 to 64 characters.")
    ended = await session.scalar(
        select(ContactSession.ended_at).where(ContactSession.id == contact_session.id)
    )
    if ended is not None:
        raise Conflict("session_ended", "The session has ended.")
    leg = Leg(
        session_id=contact_session.id,
        channel=channel,
        officer_id=officer_id,
        external_id=external_id,
        started_at=started_at,
    )
    session.add(leg)
    await session.flush()
    await record_event(
        session,
        key=f"leg:{leg.id}:started",
        kind="leg.started",
        at=started_at,
        session_id=contact_session.id,
        officer_id=officer_id,
        data={"leg_id": leg.id, "channel": channel},
    )
    return leg


async def end_leg(session: AsyncSession, leg: Leg, *, ended_at: datetime) -> None:
    """The leg's media path closed. Once only (:class:`~cases.casework.Conflict` after)."""
    done = (
        await session.execute(
            update(Leg)
            .where(Leg.id == leg.id, Leg.ended_at.is_(None))
            .values(ended_at=ended_at)
            .returning(Leg.id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if done is None:
        raise Conflict("leg_ended", "The leg has already ended.")
    set_committed_value(leg, "ended_at", ended_at)
    await record_event(
        session,
        key=f"leg:{leg.id}:ended",
        kind="leg.ended",
        at=ended_at,
        session_id=leg.session_id,
        data={"leg_id": leg.id},
    )


async def _update_open_session(
    session: AsyncSession,
    contact_session: ContactSession,
    values: dict[str, Any],
    condition: Any = None,
) -> tuple[int, datetime, datetime | None]:
    """Update a session that has not ended (the write comes first, so two
    connections racing cannot both succeed); refuse with a reason otherwise."""
    await session.flush()
    statement = update(_SESSIONS).where(
        _SESSIONS.c.id == contact_session.id, _SESSIONS.c.ended_at.is_(None)
    )
    if condition is not None:
        statement = statement.where(condition)
    row = (
        await session.execute(
            statement.values(**values).returning(
                _SESSIONS.c.case_id, _SESSIONS.c.arrived_at, _SESSIONS.c.answered_at
            )
        )
    ).first()
    if row is None:
        state = (
            await session.execute(
                select(ContactSession.ended_at, ContactSession.answered_at).where(
                    ContactSession.id == contact_session.id
                )
            )
        ).first()
        if state is None:
            raise CaseworkError("session_not_found", "There is no such session.")
        if state.ended_at is not None:
            raise Conflict("session_ended", "The session has already ended.")
        if state.answered_at is not None:
            raise Conflict("session_answered", "The session was answered.")
        raise Conflict("session_not_answered", "The session was never answered.")
    _apply(contact_session, values)
    return row.case_id, row.arrived_at, row.answered_at


def _apply(contact_session: ContactSession, values: dict[str, Any]) -> None:
    # The row was updated in SQL; mirror it on the caller's object without
    # marking it changed (it may belong to another session, or to none).
    for name, value in values.items():
        set_committed_value(contact_session, name, value)
