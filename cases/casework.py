"""Work on a case: status, category, district, priority, assignment, notes, links, PIN.

Every change here checks everything first, then writes, then records a
timeline event, all in the caller's transaction (nothing is committed here):
a refused change raises before anything is written. Refusals are
:class:`CaseworkError` (bad input), :class:`Conflict` (the case's current
state forbids it) or :class:`NotAllowed` (the actor's role forbids it), the
shared kinds of :mod:`safecall.refusals`: a stable ``code`` and a sentence.

Who may see a case is decided here too (:func:`can_read`, :func:`readable_by`),
so the API, reports and recordings apply the same rule.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, false, or_, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, CaseNote, ContactSession, TimelineEvent
from cases.timeline import record_event
from cases.vocabulary import CaseStatus, ServiceLine, categories, eligible
from officers.models import Officer
from safecall.refusals import Conflict, Invalid, NotAllowed
from sealing.data_key import DataKey

SEXUAL_VIOLENCE = "sexual_violence"
MANAGER_ROLES = frozenset({"supervisor", "admin"})
NOTE_FIELD = "case.note"
MAX_NOTE = 10_000
PRIORITIES = range(0, 10)
"""Case priority: 0 (normal) to 9 (most urgent)."""

_PINS = PasswordHasher()
_PIN = re.compile(r"^[0-9]{4,8}$")


CaseworkError = Invalid
"""A change refused because of what was asked (refusals are mapped to HTTP in one place)."""

__all__ = ["CaseworkError", "Conflict", "NotAllowed"]


# --- who may see a case -----------------------------------------------------


def can_read(officer: Officer, case: Case) -> bool:
    """Admins see every case; the assigned officer sees hers.

    Otherwise an officer or supervisor sees the cases of the service lines she
    is on, except sexual-violence cases, which only supervisors of the line see.
    """
    if officer.role == "admin" or case.assigned_officer_id == officer.id:
        return True
    if case.service_line not in officer.lines:
        return False
    return case.category != SEXUAL_VIOLENCE or officer.role == "supervisor"


def readable_by(officer: Officer) -> ColumnElement[bool]:
    """:func:`can_read` as a SQL condition on ``Case``."""
    if officer.role == "admin":
        return true()
    lines = [line for line in officer.lines if isinstance(line, str)]
    on_line: ColumnElement[bool] = Case.service_line.in_(lines) if lines else false()
    if officer.role != "supervisor":
        on_line = and_(on_line, or_(Case.category.is_(None), Case.category != SEXUAL_VIOLENCE))
    return or_(Case.assigned_officer_id == officer.id, on_line)


# --- checking values --------------------------------------------------------


def clean_text(value: str, field: str, longest: int, code: str, *, multiline: bool = False) -> str:
    """``value`` stripped; a :class:`CaseworkError` with ``code`` when empty, too long,
    or holding characters a database cannot store (NUL, lone surrogates) or control
    characters (line breaks and tabs are allowed when ``multiline``)."""
    cleaned = value.strip()
    if not cleaned or len(cleaned) > longest:
        raise CaseworkError(code, f"The {field} must be 1 to {longest} characters.")
    allowed = "\t\n\r" if multiline else ""
    if any(
        (ord(c) < 32 and c not in allowed) or 0xD800 <= ord(c) <= 0xDFFF or c == "\x7f"
        for c in cleaned
    ):
        raise CaseworkError(code, f"The {field} contains characters that cannot be stored.")
    return cleaned


def check_service_line(line: str) -> str:
    if line not in {s.value for s in ServiceLine}:
        raise CaseworkError("unknown_service_line", f"Unknown service line {line!r}.")
    return line


def check_category(category: str, extra: tuple[str, ...] = ()) -> str:
    """A known category (built-in or configured), else :class:`CaseworkError`."""
    if category not in categories(extra):
        raise CaseworkError("unknown_category", f"Unknown category {category!r}.")
    return category


def check_district(district: str) -> str:
    return clean_text(district, "district", 64, "invalid_district")


def check_priority(priority: int) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in PRIORITIES:
        raise CaseworkError("invalid_priority", "The priority must be a whole number from 0 to 9.")
    return priority


def _event_key(case: Case, kind: str) -> str:
    return f"case:{case.id}:{kind}:{secrets.token_hex(8)}"


def _touch(case: Case, now: datetime) -> None:
    case.updated_at = now


# --- changes ----------------------------------------------------------------


async def change_status(
    session: AsyncSession,
    case: Case,
    *,
    status: str,
    actor: Officer,
    now: datetime,
    fir_number: str | None = None,
    police_station: str | None = None,
) -> None:
    """Move the case to ``status``.

    ``fir_registered`` needs the FIR number and police station (and only it
    takes them). ``closed`` sets ``closed_at``. A closed case stays closed,
    except that a supervisor or admin may reopen it to ``in_progress``. Nothing
    moves back to ``new``. The event is complainant-visible; she is shown only
    its coarse wording.
    """
    if status not in {s.value for s in CaseStatus}:
        raise CaseworkError("unknown_status", f"Unknown status {status!r}.")
    if status == CaseStatus.FIR_REGISTERED:
        if not fir_number or not police_station:
            raise CaseworkError(
                "fir_details_required",
                "Registering an FIR needs the FIR number and the police station.",
            )
        fir_number = clean_text(fir_number, "FIR number", 40, "invalid_fir_number")
        police_station = clean_text(police_station, "police station", 80, "invalid_police_station")
    elif fir_number is not None or police_station is not None:
        raise CaseworkError(
            "fir_details_unexpected",
            "An FIR number and police station go only with the status fir_registered.",
        )
    current = case.status
    if current == CaseStatus.CLOSED:
        if status != CaseStatus.IN_PROGRESS:
            raise Conflict("case_closed", "This case is closed; it can only be reopened.")
        if actor.role not in MANAGER_ROLES:
            raise Conflict("case_closed", "This case is closed; only a supervisor can reopen it.")
    elif status == current:
        raise Conflict("status_unchanged", f"The case already has the status {status}.")
    if status == CaseStatus.NEW:
        raise Conflict("status_not_new", "A case that has been worked on cannot go back to new.")

    case.status = status
    if status == CaseStatus.FIR_REGISTERED:
        case.fir_number = fir_number
        case.police_station = police_station
    case.closed_at = now if status == CaseStatus.CLOSED else None
    _touch(case, now)
    await record_event(
        session,
        key=_event_key(case, "status"),
        kind="case.status",
        at=now,
        case_id=case.id,
        officer_id=actor.id,
        data={"from": current, "to": status},
        complainant_visible=True,
    )


async def set_category(
    session: AsyncSession,
    case: Case,
    *,
    category: str | None,
    actor: Officer,
    now: datetime,
    extra_categories: tuple[str, ...] = (),
) -> None:
    """Set (or clear, with ``None``) the category; it must be a known one."""
    if category is not None:
        check_category(category, extra_categories)
    await _set(session, case, "category", category, actor, now)


async def set_district(
    session: AsyncSession, case: Case, *, district: str | None, actor: Officer, now: datetime
) -> None:
    """Set (or clear, with ``None``) the district (1 to 64 characters)."""
    await _set(
        session,
        case,
        "district",
        None if district is None else check_district(district),
        actor,
        now,
    )


async def set_priority(
    session: AsyncSession, case: Case, *, priority: int, actor: Officer, now: datetime
) -> None:
    """Set the priority, 0 (normal) to 9 (most urgent)."""
    await _set(session, case, "priority", check_priority(priority), actor, now)


async def assign_officer(
    session: AsyncSession,
    case: Case,
    *,
    officer_id: int | None,
    actor: Officer,
    now: datetime,
    female_only: Mapping[str, bool],
) -> None:
    """Assign the case to an officer (or unassign it, with ``None``).

    An officer may take a case only when no one holds it (assign it to herself)
    and may unassign only herself: taking a colleague's case is for a supervisor.
    Supervisors and admins may assign anyone. The assignee must be an
    enabled officer who may answer the case's service line
    (:func:`check_assignee`; ``female_only`` is the routing file's ``[lines]``).
    """
    if officer_id is not None:
        if actor.role not in MANAGER_ROLES and officer_id != actor.id:
            raise NotAllowed("assign_forbidden", "You can assign a case only to yourself.")
        if actor.role not in MANAGER_ROLES and case.assigned_officer_id not in (None, actor.id):
            raise NotAllowed(
                "assign_forbidden",
                "Another officer holds this case; ask a supervisor to reassign it.",
            )
        assignee = await session.get(Officer, officer_id)
        if assignee is None or assignee.disabled:
            raise CaseworkError("unknown_officer", f"There is no active officer {officer_id}.")
        check_assignee(assignee, case.service_line, female_only)
    elif actor.role not in MANAGER_ROLES and case.assigned_officer_id not in (None, actor.id):
        raise NotAllowed("assign_forbidden", "Only a supervisor can unassign another officer.")
    await _set(session, case, "assigned_officer_id", officer_id, actor, now)


@dataclass(frozen=True)
class _Seat:
    gender: str
    lines: Collection[str]


def check_assignee(assignee: Officer, line: str, female_only: Mapping[str, bool]) -> None:
    """The assignee may hold a case of ``line``: she is on it (admins are on every line) and
    :func:`cases.vocabulary.eligible` holds (a female-only line's cases go only to female
    officers); :class:`CaseworkError` ``assignee_not_eligible`` otherwise."""
    on_line = assignee.role == "admin" or line in assignee.lines
    if not on_line:
        raise CaseworkError(
            "assignee_not_eligible", "That officer is not on this case's service line."
        )
    if not eligible(_Seat(assignee.gender, (line,)), line, female_only[line]):
        raise CaseworkError(
            "assignee_not_eligible",
            "Cases on this service line go only to female officers.",
        )


async def _set(
    session: AsyncSession, case: Case, field: str, value: Any, actor: Officer, now: datetime
) -> None:
    old = getattr(case, field)
    if old == value:
        return
    setattr(case, field, value)
    _touch(case, now)
    await record_event(
        session,
        key=_event_key(case, field),
        kind="case.updated",
        at=now,
        case_id=case.id,
        officer_id=actor.id,
        data={"field": field, "from": old, "to": value},
    )


async def add_note(
    session: AsyncSession,
    data_key: DataKey,
    case: Case,
    *,
    text: str,
    actor: Officer,
    now: datetime,
) -> CaseNote:
    """Add a note (sealed at rest as field ``case.note``); its event is not complainant-visible."""
    body = clean_text(text, "note", MAX_NOTE, "invalid_note", multiline=True)
    note = CaseNote(
        case_id=case.id,
        officer_id=actor.id,
        body_sealed=data_key.seal(body, NOTE_FIELD),
        created_at=now,
    )
    session.add(note)
    await session.flush()
    _touch(case, now)
    await record_event(
        session,
        key=_event_key(case, "note"),
        kind="case.note",
        at=now,
        case_id=case.id,
        officer_id=actor.id,
        data={"note_id": note.id},
    )
    return note


def open_note(data_key: DataKey, note: CaseNote) -> str:
    """A note's text (only for someone who may read the case)."""
    return data_key.open(note.body_sealed, NOTE_FIELD)


async def link_session(
    session: AsyncSession,
    contact_session: ContactSession,
    case: Case,
    *,
    now: datetime,
    actor: Officer | None = None,
) -> int:
    """Log the session against ``case`` instead of its current one; returns the old case id.

    The session's own events move with it; both cases get an event.
    """
    previous = contact_session.case_id
    if previous == case.id:
        raise Conflict("already_linked", "The session is already logged against that case.")
    contact_session.case_id = case.id
    await session.flush()
    await session.execute(
        update(TimelineEvent)
        .where(TimelineEvent.session_id == contact_session.id, TimelineEvent.case_id == previous)
        .values(case_id=case.id)
        .execution_options(synchronize_session=False)
    )
    officer_id = actor.id if actor else None
    await record_event(
        session,
        key=f"case:{previous}:session_moved:{contact_session.id}:{case.id}:{secrets.token_hex(4)}",
        kind="case.session_moved",
        at=now,
        case_id=previous,
        officer_id=officer_id,
        data={"session_id": contact_session.id, "to_case_id": case.id},
    )
    await record_event(
        session,
        key=f"case:{case.id}:session_linked:{contact_session.id}:{secrets.token_hex(4)}",
        kind="case.session_linked",
        at=now,
        case_id=case.id,
        officer_id=officer_id,
        data={"session_id": contact_session.id, "from_case_id": previous},
    )
    _touch(case, now)
    return previous


def hash_pin(pin: str) -> str:
    """A PIN (4 to 8 digits) as its argon2 hash (blocking: off the event loop)."""
    if not isinstance(pin, str) or not _PIN.match(pin):
        raise CaseworkError("invalid_pin", "A PIN is 4 to 8 digits.")
    return _PINS.hash(pin)


async def set_pin(
    session: AsyncSession,
    case: Case,
    *,
    pin: str | None = None,
    pin_hash: str | None = None,
    now: datetime,
) -> None:
    """Set the PIN that unlocks her timeline: 4 to 8 digits, stored as an argon2 hash (give
    ``pin``, or its ``pin_hash`` made off the event loop by :func:`hash_pin`).

    Replaces any earlier PIN; whether that is allowed is the caller's decision.
    """
    if pin_hash is None:
        pin_hash = hash_pin(pin or "")
    case.pin_hash = pin_hash
    _touch(case, now)
    await record_event(
        session,
        key=_event_key(case, "pin"),
        kind="case.pin_set",
        at=now,
        case_id=case.id,
        complainant_visible=True,
    )


def check_pin(case: Case, pin: str) -> bool:
    """True when ``pin`` matches the case's PIN (False when none is set)."""
    if case.pin_hash is None or not isinstance(pin, str) or not _PIN.match(pin):
        return False
    try:
        return _PINS.verify(case.pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False
