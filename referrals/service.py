"""Referrals in domain words: make one, see the ones you may, move one along, escalate.

Every change checks first, then writes the referral, its update and a
timeline event on the case in one transaction, then audits. A place's
accounts see only what was sent to the places their scope covers
(:class:`places.scope.Scope`); the centre's officers see the referrals of the
cases they may read (:func:`cases.casework.can_read`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from attachments.models import Attachment
from audit.log import AuditLog
from cases.casework import can_read, clean_text
from cases.models import Case, Complainant, ContactSession
from cases.sessions import NAME_FIELD, PHONE_FIELD
from cases.timeline import record_event
from cases.tracking_code import display
from locations.latest import newest_place
from officers.models import Officer
from places.directory import Directory
from places.model import RECEIVERS
from places.scope import Scope
from recordings.models import Recording
from referrals.models import Referral, ReferralUpdate
from referrals.states import CLOSED, NEXT, TIME_COLUMN, Status, Urgency, may_move
from safecall.endpoint import FIELD, STAFF
from safecall.refusals import Conflict, Invalid, NotAllowed, NotFound
from sealing.data_key import DataKey

REASON_FIELD = "referral.reason"
WHERE_FIELD = "referral.location"
SHARED_FIELD = "referral.shared"
NOTE_FIELD = "referral.note"
MAX_REASON = 2000
MAX_NOTE = 2000
RECENT = timedelta(hours=24)
"""Closed referrals stay on a place's list this long."""


@dataclass(frozen=True)
class Where:
    latitude: float
    longitude: float
    accuracy: float | None = None
    at: datetime | None = None

    def public(self) -> dict[str, Any]:
        return {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "accuracy": self.accuracy,
            "at": None if self.at is None else self.at.isoformat(),
        }


@dataclass(frozen=True)
class Asked:
    """A referral as the officer asked for it (checked by :meth:`Referrals.create`)."""

    case_id: int
    place: str
    urgency: str
    reason: str
    session_id: str | None = None
    location: Where | None = None
    live_location: bool = False
    share_name: bool = False
    share_phone: bool = False
    evidence: Sequence[dict[str, str]] = ()


def _not_found() -> NotFound:
    return NotFound("referral_not_found", "There is no such referral you can see.")


class Referrals:
    def __init__(
        self,
        *,
        db: async_sessionmaker[AsyncSession],
        data_key: DataKey,
        directory: Directory,
        audit: AuditLog,
        clock: Callable[[], datetime],
        escalate_after: float,
    ) -> None:
        self.db = db
        self.data_key = data_key
        self.directory = directory
        self.audit = audit
        self.clock = clock
        self.escalate_after = timedelta(seconds=escalate_after)

    # --- the centre refers ---------------------------------------------------------------

    async def create(self, officer: Officer, asked: Asked) -> Referral:
        place = self.directory.get(asked.place)
        if place is None or place.kind not in RECEIVERS:
            raise Invalid("unknown_place", "Choose the station or institution from the list.")
        try:
            urgency = Urgency(asked.urgency)
        except ValueError:
            raise Invalid("invalid_urgency", "Urgency is emergency, today or routine.") from None
        reason = clean_text(asked.reason, "reason", MAX_REASON, "invalid_reason", multiline=True)
        now = self.clock()
        async with self.db() as session, session.begin():
            case = await session.get(Case, asked.case_id)
            if case is None or not can_read(officer, case):
                raise NotFound("case_not_found", "There is no case with that id that you can see.")
            if place.lines and case.service_line not in place.lines:
                raise Invalid(
                    "place_not_for_line",
                    f"{place.name} does not take {case.service_line}-line cases.",
                )
            contact = await self._contact(session, case, asked.session_id)
            shared = await self._shared(session, case, asked)
            evidence = await self._evidence(session, case, asked.evidence)
            where = asked.location
            if where is None and contact is not None:
                where = await self.latest_location(session, contact.id)
            referral = Referral(
                id=secrets.token_hex(16),
                case_id=case.id,
                session_id=None if contact is None else contact.id,
                place=place.code,
                district=place.district,
                urgency=urgency.value,
                status=Status.SENT.value,
                reason_sealed=self.data_key.seal(reason, REASON_FIELD),
                location_sealed=None if where is None else self._seal_where(where),
                live_location=bool(asked.live_location and contact is not None),
                share_name=asked.share_name,
                share_phone=asked.share_phone,
                shared_sealed=shared,
                evidence=evidence,
                created_by=officer.id,
                created_at=now,
                updated_at=now,
            )
            session.add(referral)
            await session.flush()
            session.add(
                ReferralUpdate(
                    referral_id=referral.id,
                    status=Status.SENT.value,
                    officer_id=officer.id,
                    at=now,
                    attachments=[],
                )
            )
            await record_event(
                session,
                key=f"referral:{referral.id}:sent",
                kind="referral.sent",
                at=now,
                case_id=case.id,
                session_id=referral.session_id,
                officer_id=officer.id,
                data={"referral_id": referral.id, "place": place.code, "urgency": urgency.value},
            )
        await self._audit(officer, "referral.create", referral, place=place.code)
        return referral

    async def _contact(
        self, session: AsyncSession, case: Case, session_id: str | None
    ) -> ContactSession | None:
        if session_id is None:
            return None
        contact = await session.get(ContactSession, session_id)
        if contact is None or contact.case_id != case.id:
            raise Invalid("contact_not_of_case", "That contact is not logged against this case.")
        return contact

    async def _shared(self, session: AsyncSession, case: Case, asked: Asked) -> bytes | None:
        if not (asked.share_name or asked.share_phone):
            return None
        if case.anonymous:
            raise Invalid(
                "anonymous_stays_anonymous",
                "She chose to stay anonymous: her name and number are never shared.",
            )
        person = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
        shared: dict[str, str] = {}
        if asked.share_name:
            name = (
                None
                if person is None
                else self.data_key.open_optional(person.name_sealed, NAME_FIELD)
            )
            if name is None:
                raise Invalid("no_name_to_share", "The case holds no name to share.")
            shared["name"] = name
        if asked.share_phone:
            phone = (
                None
                if person is None
                else self.data_key.open_optional(person.phone_sealed, PHONE_FIELD)
            )
            if phone is None:
                raise Invalid("no_phone_to_share", "The case holds no number to share.")
            shared["phone"] = phone
        return self.data_key.seal(json.dumps(shared), SHARED_FIELD)

    async def _evidence(
        self, session: AsyncSession, case: Case, chosen: Sequence[dict[str, str]]
    ) -> list[dict[str, Any]]:
        kept: list[dict[str, Any]] = []
        for item in chosen[:20]:
            kind, item_id = item.get("kind"), str(item.get("id", ""))
            row: Recording | Attachment | None = None
            if kind == "recording":
                row = await session.get(Recording, item_id)
            elif kind == "attachment":
                row = await session.get(Attachment, item_id)
            if row is None or row.case_id != case.id:
                raise Invalid("unknown_evidence", "Choose evidence from this case's own list.")
            kept.append({"kind": kind, "id": item_id, "sha256": row.sha256})
        return kept

    # --- who sees what --------------------------------------------------------------------

    def scope(self, officer: Officer) -> Scope | None:
        return Scope.of(officer.role, officer.place, self.directory)

    def may_see(self, officer: Officer, referral: Referral, case: Case) -> bool:
        if officer.role in STAFF:
            return can_read(officer, case)
        if officer.role in FIELD:
            if referral.unit_officer_id == officer.id:
                return True
            scope = self.scope(officer)
            place = self.directory.get(referral.place)
            return scope is not None and place is not None and scope.covers(place)
        return False

    async def get(
        self, session: AsyncSession, officer: Officer, referral_id: str
    ) -> tuple[Referral, Case]:
        referral = await session.get(Referral, referral_id) if len(referral_id) <= 32 else None
        case = None if referral is None else await session.get(Case, referral.case_id)
        if referral is None or case is None or not self.may_see(officer, referral, case):
            raise _not_found()
        return referral, case

    async def for_place(self, officer: Officer) -> list[Referral]:
        """What a place's account works on: open referrals of its scope, and those closed in
        the last day; emergencies first, then the oldest."""
        scope = self.scope(officer)
        if scope is None:
            raise NotAllowed("no_place", "Your account has no place; ask an administrator.")
        since = self.clock() - RECENT
        async with self.db() as session:
            rows = await session.scalars(
                select(Referral).where(
                    (Referral.place.in_(scope.codes(self.directory)))
                    | (Referral.unit_officer_id == officer.id),
                    (Referral.closed_at.is_(None)) | (Referral.closed_at >= since),
                )
            )
            found = list(rows)
        rank = {Urgency.EMERGENCY: 0, Urgency.TODAY: 1, Urgency.ROUTINE: 2}
        return sorted(
            found,
            key=lambda r: (r.closed_at is not None, rank.get(Urgency(r.urgency), 3), r.created_at),
        )

    async def of_case(self, officer: Officer, case_id: int) -> list[Referral]:
        async with self.db() as session:
            case = await session.get(Case, case_id)
            if case is None or not can_read(officer, case):
                raise NotFound("case_not_found", "There is no case with that id that you can see.")
            rows = await session.scalars(
                select(Referral).where(Referral.case_id == case_id).order_by(Referral.created_at)
            )
            return list(rows)

    # --- the place works it ----------------------------------------------------------------

    async def acknowledge(self, officer: Officer, referral_id: str) -> Referral:
        return await self.move(officer, referral_id, Status.ACKNOWLEDGED)

    async def dispatch(
        self, officer: Officer, referral_id: str, unit: str, unit_officer_id: int | None
    ) -> Referral:
        unit = clean_text(unit, "unit", 60, "invalid_unit")
        return await self.move(
            officer,
            referral_id,
            Status.DISPATCHED,
            unit=unit,
            unit_officer_id=unit_officer_id,
        )

    async def move(
        self,
        officer: Officer,
        referral_id: str,
        to: Status,
        *,
        note: str | None = None,
        attachments: Sequence[str] = (),
        unit: str | None = None,
        unit_officer_id: int | None = None,
    ) -> Referral:
        """Move a referral one step (``NEXT``); the step, its time, its update and a timeline
        event, all at once. A place's accounts move what was sent to them; only the centre
        withdraws."""
        if (to is Status.WITHDRAWN) != (officer.role in STAFF):
            raise NotAllowed(
                "not_your_step",
                "Only the centre withdraws a referral; only the place it went to works it.",
            )
        text = None
        if note is not None and note.strip():
            text = clean_text(note, "note", MAX_NOTE, "invalid_note", multiline=True)
        now = self.clock()
        async with self.db() as session, session.begin():
            referral, case = await self.get(session, officer, referral_id)
            current = referral.status
            if not may_move(current, to):
                raise Conflict(
                    "not_now",
                    f"This referral is {current.replace('_', ' ')}; it cannot become "
                    f"{to.value.replace('_', ' ')} now.",
                )
            if unit_officer_id is not None:
                await self._check_unit(session, referral, unit_officer_id)
            for attachment_id in attachments:
                found = await session.get(Attachment, attachment_id)
                if found is None or found.referral_id != referral.id:
                    raise Invalid("unknown_photo", "Attach only photos sent for this referral.")
            values: dict[str, Any] = {"status": to.value, "updated_at": now}
            column = TIME_COLUMN.get(to)
            if column is not None:
                values[column] = now
            if to is Status.ACKNOWLEDGED:
                values["acknowledged_by"] = officer.id
            if unit is not None:
                values["unit"], values["unit_officer_id"] = unit, unit_officer_id
            # The status in the WHERE: of two officers pressing at once, one moves it.
            moved = await session.execute(
                update(Referral)
                .where(Referral.id == referral.id, Referral.status == current)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("not_now", "Someone else has just moved this referral; look again.")
            for name, value in values.items():
                setattr(referral, name, value)
            session.add(
                ReferralUpdate(
                    referral_id=referral.id,
                    status=to.value,
                    note_sealed=None if text is None else self.data_key.seal(text, NOTE_FIELD),
                    officer_id=officer.id,
                    at=now,
                    attachments=list(attachments),
                )
            )
            await record_event(
                session,
                key=f"referral:{referral.id}:{to.value}",
                kind=f"referral.{to.value}",
                at=now,
                case_id=case.id,
                session_id=referral.session_id,
                officer_id=officer.id,
                data={"referral_id": referral.id, "place": referral.place, "from": current},
            )
        await self._audit(officer, f"referral.{to.value}", referral)
        return referral

    async def _check_unit(
        self, session: AsyncSession, referral: Referral, unit_officer_id: int
    ) -> None:
        unit = await session.get(Officer, unit_officer_id)
        place = self.directory.get(referral.place)
        scope = None if unit is None else Scope.of(unit.role, unit.place, self.directory)
        if (
            unit is None
            or unit.disabled
            or scope is None
            or place is None
            or not (scope.covers(place) or unit.place == place.code)
        ):
            raise Invalid(
                "unknown_unit_officer", "The unit's officer must be an account of this place."
            )

    # --- escalation --------------------------------------------------------------------------

    async def escalate_due(self) -> list[Referral]:
        """Emergencies still unacknowledged past the limit go to the supervisors, once each
        (a process racing another escalates each one once: the NULL is in the WHERE)."""
        now = self.clock()
        due_before = now - self.escalate_after
        async with self.db() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(Referral).where(
                        Referral.urgency == Urgency.EMERGENCY.value,
                        Referral.status == Status.SENT.value,
                        Referral.escalated_at.is_(None),
                        Referral.created_at <= due_before,
                    )
                )
            )
            escalated = []
            for referral in rows:
                done = await session.execute(
                    update(Referral)
                    .where(Referral.id == referral.id, Referral.escalated_at.is_(None))
                    .values(escalated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if done.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                referral.escalated_at = now
                escalated.append(referral)
                await record_event(
                    session,
                    key=f"referral:{referral.id}:escalated",
                    kind="referral.escalated",
                    at=now,
                    case_id=referral.case_id,
                    session_id=referral.session_id,
                    data={
                        "referral_id": referral.id,
                        "place": referral.place,
                        "after_seconds": round((now - referral.created_at).total_seconds()),
                    },
                )
        for referral in escalated:
            await self.audit.record(
                actor_kind="system",
                officer_id=None,
                action="referral.escalated",
                object_type="referral",
                object_id=referral.id,
                address=None,
                detail={"place": referral.place, "district": referral.district},
            )
        return escalated

    async def unacknowledged_escalations(self) -> list[Referral]:
        async with self.db() as session:
            rows = await session.scalars(
                select(Referral)
                .where(Referral.escalated_at.is_not(None), Referral.status == Status.SENT.value)
                .order_by(Referral.created_at)
                .limit(50)
            )
            return list(rows)

    # --- reading what was sealed ---------------------------------------------------------------

    def _seal_where(self, where: Where) -> bytes:
        shared = {"latitude": where.latitude, "longitude": where.longitude}
        if where.accuracy is not None:
            shared["accuracy"] = where.accuracy
        return self.data_key.seal(json.dumps(shared), WHERE_FIELD)

    async def latest_location(self, session: AsyncSession, session_id: str) -> Where | None:
        """Her newest location on a contact (the one at intake, or a later one she shared)."""
        place = await newest_place(session, self.data_key, session_id)
        if place is None:
            return None
        return Where(place.latitude, place.longitude, place.accuracy, place.at)

    async def location(self, session: AsyncSession, referral: Referral) -> Where | None:
        """Where she is, as the place may see it: while the referral is open, her newest
        location when she shares it live, else the one sent with it."""
        if Status(referral.status) in CLOSED:
            return None
        if referral.live_location and referral.session_id is not None:
            live = await self.latest_location(session, referral.session_id)
            if live is not None:
                return live
        if referral.location_sealed is None:
            return None
        opened = json.loads(self.data_key.open(referral.location_sealed, WHERE_FIELD))
        return Where(opened["latitude"], opened["longitude"], opened.get("accuracy"))

    async def view(
        self, session: AsyncSession, referral: Referral, case: Case, *, full: bool
    ) -> dict[str, Any]:
        """A referral as the pages show it; ``full`` adds what is sealed (one referral read,
        audited by the caller)."""
        place = self.directory.get(referral.place)
        out: dict[str, Any] = {
            "id": referral.id,
            "case_id": case.id,
            "tracking_code": display(case.tracking_code),
            "service_line": case.service_line,
            "place": referral.place,
            "place_name": place.name if place is not None else referral.place,
            "district": referral.district,
            "urgency": referral.urgency,
            "status": referral.status,
            "unit": referral.unit,
            "created_at": referral.created_at.isoformat(),
            "acknowledged_at": _iso(referral.acknowledged_at),
            "dispatched_at": _iso(referral.dispatched_at),
            "on_scene_at": _iso(referral.on_scene_at),
            "closed_at": _iso(referral.closed_at),
            "escalated_at": _iso(referral.escalated_at),
            "live_location": referral.live_location,
            "next": sorted(s.value for s in NEXT[Status(referral.status)]),
        }
        if not full:
            return out
        where = await self.location(session, referral)
        shared = None
        if referral.shared_sealed is not None:
            shared = json.loads(self.data_key.open(referral.shared_sealed, SHARED_FIELD))
        updates = await session.scalars(
            select(ReferralUpdate)
            .where(ReferralUpdate.referral_id == referral.id)
            .order_by(ReferralUpdate.at, ReferralUpdate.id)
        )
        out.update(
            reason=self.data_key.open(referral.reason_sealed, REASON_FIELD),
            location=None if where is None else where.public(),
            shared=shared,
            evidence=list(referral.evidence),
            language=await self._language(session, referral),
            updates=[
                {
                    "status": u.status,
                    "at": u.at.isoformat(),
                    "note": self.data_key.open_optional(u.note_sealed, NOTE_FIELD),
                    "attachments": list(u.attachments),
                }
                for u in updates
            ],
        )
        return out

    async def _language(self, session: AsyncSession, referral: Referral) -> str | None:
        if referral.session_id is None:
            return None
        contact = await session.get(ContactSession, referral.session_id)
        return None if contact is None else contact.language

    async def _audit(
        self, officer: Officer, action: str, referral: Referral, **detail: Any
    ) -> None:
        await self.audit.record(
            actor_kind="officer",
            officer_id=officer.id,
            action=action,
            object_type="referral",
            object_id=referral.id,
            address=None,
            detail={"case_id": referral.case_id, **detail},
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
