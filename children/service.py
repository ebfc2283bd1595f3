"""Reports of missing and found children in domain words: file one, see the ones you may,
record the national report, photos.

Every report checks everything first, then writes the report (and, for a missing child,
the case's category and priority, a timeline event and any alert) in one transaction,
then audits; matching runs after it (:mod:`children.candidates`). The centre's officers on
the child line see every report; a station's or an institution's accounts see what their
place filed and the missing reports alerted to it (:mod:`places.scope`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.log import AuditLog
from cases.casework import can_read, clean_text
from cases.models import Case, ContactSession
from cases.sessions import open_case
from cases.timeline import record_event
from cases.vocabulary import Districts, ServiceLine
from children.models import ChildAlert, ChildAlertRecipient, ChildMatch, ChildReport
from children.schemas import ChildIn, FoundIn, MissingIn, WhereIn, iso
from officers.models import Officer
from places.directory import Directory
from places.scope import Scope
from safecall.endpoint import ADMIN, FIELD, STAFF
from safecall.refusals import Conflict, Invalid, NotAllowed, NotFound
from sealing.data_key import DataKey, normalise_phone

DETAILS_FIELD = "child.details"
GUARDIAN_FIELD = "child.guardian"
CHILD_PHONE_FIELD = "child.phone"
NATIONAL_WITHIN = timedelta(hours=2)
"""The Zainab Alert Act: the national agency is told within two hours."""
HIGH_PRIORITY = 8
CHILD_CATEGORIES = ("missing_child", "runaway_child", "vulnerable_child")
OPEN, MATCHED, CLOSED = "open", "matched", "closed"
CLOSE_OUTCOMES = ("returned", "withdrawn")
"""How a report closes without a match (a handover closes with reunited, placed in care or
referred)."""
MISSING, FOUND = "missing", "found"


@dataclass(frozen=True)
class ChildrenConfig:
    alert_age: int = 12
    alert_radius_km: float = 0.0
    search_days: int = 90


def _not_found() -> NotFound:
    return NotFound("report_not_found", "There is no such report you can see.")


def on_child_line(officer: Officer) -> bool:
    return officer.role == ADMIN or (
        officer.role in STAFF and ServiceLine.CHILD.value in officer.lines
    )


class Children:
    def __init__(
        self,
        *,
        db: async_sessionmaker[AsyncSession],
        data_key: DataKey,
        directory: Directory,
        districts: Districts,
        audit: AuditLog,
        clock: Callable[[], datetime],
        config: ChildrenConfig,
    ) -> None:
        self.db = db
        self.data_key = data_key
        self.directory = directory
        self.districts = districts
        self.audit = audit
        self.clock = clock
        self.config = config

    # --- checking what was asked ----------------------------------------------------------

    def _check_child(self, child: ChildIn, *, name_required: bool) -> dict[str, Any]:
        names = [clean_text(n, "name", 80, "invalid_name") for n in child.names]
        if name_required and not names:
            raise Invalid("name_required", "Give the child's name (in Urdu or in Latin letters).")
        parents = [clean_text(n, "parent's name", 80, "invalid_name") for n in child.parent_names]
        age_min, age_max = _range(child.age, child.age_min, child.age_max, "invalid_age", "age")
        h_min, h_max = _range(
            child.height_cm, child.height_min_cm, child.height_max_cm, "invalid_height", "height"
        )
        text: dict[str, Any] = {}
        for field, longest in (
            ("build", 60),
            ("complexion", 60),
            ("hair", 60),
            ("clothing", 500),
            ("marks", 500),
            ("medical_needs", 500),
        ):
            value = getattr(child, field)
            text[field] = _optional(value, field.replace("_", " "), longest, f"invalid_{field}")
        languages = [clean_text(v, "language", 40, "invalid_language") for v in child.languages]
        return {
            "names": names,
            "parent_names": parents,
            "age_min": age_min,
            "age_max": age_max,
            "gender": child.gender,
            "height_min_cm": h_min,
            "height_max_cm": h_max,
            "languages": languages,
            **text,
        }

    def _check_where(self, where: WhereIn, now: datetime) -> tuple[str | None, dict[str, Any]]:
        if where.at > now + timedelta(minutes=5):
            raise Invalid("seen_in_future", "The time last seen (or found) is in the future.")
        if where.at < now - timedelta(days=366 * 18):
            raise Invalid("seen_too_long_ago", "The time is more than eighteen years ago.")
        if (where.latitude is None) != (where.longitude is None):
            raise Invalid("invalid_location", "Give both latitude and longitude, or neither.")
        district = None
        if where.district is not None and where.district.strip():
            district = self.districts.parse(where.district)
        elif where.latitude is not None and where.longitude is not None:
            district = self.directory.district_at(where.latitude, where.longitude)
        place = {
            "area": _optional(where.area, "area", 200, "invalid_area"),
            "latitude": where.latitude,
            "longitude": where.longitude,
        }
        return district, place

    def _check_case_line(self, officer: Officer) -> None:
        if not on_child_line(officer):
            raise NotAllowed("not_on_child_line", "Only officers of the child line file this.")

    async def _case_for(
        self,
        session: AsyncSession,
        officer: Officer,
        case_id: int | None,
        session_id: str | None,
    ) -> tuple[Case | None, ContactSession | None]:
        contact = None
        if session_id is not None:
            contact = await session.get(ContactSession, session_id)
            if contact is None:
                raise NotFound("contact_not_found", "There is no such contact.")
            if case_id is not None and case_id != contact.case_id:
                raise Invalid("contact_not_of_case", "That contact is not logged on this case.")
            case_id = contact.case_id
        if case_id is None:
            return None, contact
        case = await session.get(Case, case_id)
        if case is None or not can_read(officer, case):
            raise NotFound("case_not_found", "There is no case with that id that you can see.")
        return case, contact

    # --- filing -------------------------------------------------------------------------

    async def file_missing(self, officer: Officer, asked: MissingIn) -> ChildReport:
        """A missing child's report on the contact's case (a child-line case is marked
        missing_child with high priority; a women's-line one gets a child-line case of its
        own), the two-hour clock started, and an alert when the rules say so."""
        self._check_case_line(officer)
        now = self.clock()
        child = self._check_child(asked.child, name_required=True)
        district, place = self._check_where(asked.last_seen, now)
        place["with_whom"] = _optional(
            asked.last_seen.with_whom, "with whom", 300, "invalid_with_whom"
        )
        vehicles = _optional(asked.vehicles, "vehicles", 300, "invalid_vehicles")
        guardian = None
        if asked.guardian is not None:
            g = asked.guardian
            guardian = {
                "name": clean_text(g.name, "guardian's name", 120, "invalid_guardian"),
                "phone": _phone(g.phone),
                "id_number": _optional(g.id_number, "identity number", 32, "invalid_guardian"),
                "address": _optional(g.address, "address", 300, "invalid_guardian"),
            }
        child_phone = _phone(asked.child_phone)
        details = {**_described(child), "where": place, "vehicles": vehicles}
        async with self.db() as session, session.begin():
            case, contact = await self._case_for(session, officer, asked.case_id, asked.session_id)
            case = await self._child_case(session, officer, case, district, asked.runaway, now)
            report = ChildReport(
                id=secrets.token_hex(16),
                kind=MISSING,
                status=OPEN,
                case_id=case.id,
                session_id=None if contact is None else contact.id,
                place=None,
                district=district,
                age_min=child["age_min"],
                age_max=child["age_max"],
                gender=child["gender"],
                height_min_cm=child["height_min_cm"],
                height_max_cm=child["height_max_cm"],
                seen_at=asked.last_seen.at,
                details_sealed=self._seal(details, DETAILS_FIELD),
                guardian_sealed=None if guardian is None else self._seal(guardian, GUARDIAN_FIELD),
                guardian_relation=None if asked.guardian is None else asked.guardian.relation,
                child_phone_sealed=self.data_key.seal_optional(child_phone, CHILD_PHONE_FIELD),
                runaway=asked.runaway,
                abduction_suspected=asked.abduction_suspected,
                abuse_suspected=asked.abuse_suspected,
                national_due_at=now + NATIONAL_WITHIN,
                created_by=officer.id,
                created_at=now,
            )
            session.add(report)
            await session.flush()
            await record_event(
                session,
                key=f"child:{report.id}:missing",
                kind="child.missing_reported",
                at=now,
                case_id=case.id,
                session_id=report.session_id,
                officer_id=officer.id,
                data={"report_id": report.id, "district": district},
            )
            from children.alerts import raise_alert

            alert = await raise_alert(self, session, report, details, now)
        await self._audit(officer, "child.report.missing", report, alert=alert is not None)
        return report

    async def _child_case(
        self,
        session: AsyncSession,
        officer: Officer,
        case: Case | None,
        district: str | None,
        runaway: bool,
        now: datetime,
    ) -> Case:
        category = "runaway_child" if runaway else "missing_child"
        if case is None or case.service_line != ServiceLine.CHILD.value:
            if case is not None and case.status == "closed":
                raise Conflict("case_closed", "That case is closed; reopen it first.")
            opened = await open_case(
                session,
                self.data_key,
                service_line=ServiceLine.CHILD.value,
                now=now,
                category=category,
                district=district,
                priority=HIGH_PRIORITY,
                officer_id=officer.id,
                assigned_officer_id=officer.id if officer.role in STAFF else None,
            )
            if case is not None:
                await record_event(
                    session,
                    key=f"case:{case.id}:child_case:{opened.id}",
                    kind="case.child_case_opened",
                    at=now,
                    case_id=case.id,
                    officer_id=officer.id,
                    data={"child_case_id": opened.id},
                )
            return opened
        if case.status == "closed":
            raise Conflict("case_closed", "That case is closed; reopen it first.")
        changed: dict[str, Any] = {}
        if case.category not in CHILD_CATEGORIES:
            changed["category"] = (case.category, category)
            case.category = category
        if case.priority < HIGH_PRIORITY:
            changed["priority"] = (case.priority, HIGH_PRIORITY)
            case.priority = HIGH_PRIORITY
        if case.district is None and district is not None:
            changed["district"] = (None, district)
            case.district = district
        for field, (old, new) in changed.items():
            await record_event(
                session,
                key=f"case:{case.id}:{field}:{secrets.token_hex(8)}",
                kind="case.updated",
                at=now,
                case_id=case.id,
                officer_id=officer.id,
                data={"field": field, "from": old, "to": new},
            )
        case.updated_at = now
        return case

    async def file_found(self, officer: Officer, asked: FoundIn) -> ChildReport:
        """A found child's report: by a station's or an institution's account (of its place),
        or by a centre officer of the child line (on a contact's case, when given)."""
        if officer.role in FIELD:
            scope = Scope.of(officer.role, officer.place, self.directory)
            if scope is None:
                raise NotAllowed("no_place", "Your account has no place; ask an administrator.")
            if asked.case_id is not None or asked.session_id is not None:
                raise Invalid("no_case_for_place", "A place's report is not filed on a case.")
            filed_by_place: str | None = scope.place.code
        else:
            self._check_case_line(officer)
            filed_by_place = None
        now = self.clock()
        child = self._check_child(asked.child, name_required=False)
        district, place = self._check_where(asked.found, now)
        custody: dict[str, Any] | None = None
        custody_place = None
        if asked.custody is not None:
            custody_place = filed_by_place
            if asked.custody.place is not None:
                found_place = self.directory.get(asked.custody.place)
                if found_place is None:
                    raise Invalid("unknown_place", "Choose where the child is from the list.")
                custody_place = found_place.code
            custody = {
                "place": custody_place,
                "contact": _optional(asked.custody.contact, "contact", 120, "invalid_custody"),
                "note": _optional(asked.custody.note, "note", 500, "invalid_custody"),
            }
        elif filed_by_place is not None:
            custody_place = filed_by_place
        says = _optional(asked.child_says, "what the child says", 1000, "invalid_child_says")
        if district is None and filed_by_place is not None:
            district = self.directory.by_code[filed_by_place].district
        details = {**_described(child), "where": place, "child_says": says, "custody": custody}
        async with self.db() as session, session.begin():
            case, contact = None, None
            if filed_by_place is None:
                case, contact = await self._case_for(
                    session, officer, asked.case_id, asked.session_id
                )
            report = ChildReport(
                id=secrets.token_hex(16),
                kind=FOUND,
                status=OPEN,
                case_id=None if case is None else case.id,
                session_id=None if contact is None else contact.id,
                place=filed_by_place,
                district=district,
                age_min=child["age_min"],
                age_max=child["age_max"],
                gender=child["gender"],
                height_min_cm=child["height_min_cm"],
                height_max_cm=child["height_max_cm"],
                seen_at=asked.found.at,
                details_sealed=self._seal(details, DETAILS_FIELD),
                custody_place=custody_place,
                created_by=officer.id,
                created_at=now,
            )
            session.add(report)
            await session.flush()
            if case is not None:
                await record_event(
                    session,
                    key=f"child:{report.id}:found",
                    kind="child.found_reported",
                    at=now,
                    case_id=case.id,
                    officer_id=officer.id,
                    data={"report_id": report.id, "district": district},
                )
        await self._audit(officer, "child.report.found", report, place=filed_by_place)
        return report

    # --- who sees what --------------------------------------------------------------------

    def scope(self, officer: Officer) -> Scope | None:
        return Scope.of(officer.role, officer.place, self.directory)

    async def may_see(self, session: AsyncSession, officer: Officer, report: ChildReport) -> bool:
        if officer.role in STAFF:
            return on_child_line(officer)
        scope = self.scope(officer)
        if scope is None:
            return False
        codes = scope.codes(self.directory)
        if report.place in codes:
            return True
        alerted = await session.scalar(
            select(func.count())
            .select_from(ChildAlertRecipient)
            .join(ChildAlert, ChildAlert.id == ChildAlertRecipient.alert_id)
            .where(ChildAlert.report_id == report.id, ChildAlertRecipient.place.in_(codes))
        )
        if alerted:
            return True
        # A missing report matched with a found one of this place: the place hands the child.
        other = ChildMatch.missing_id if report.kind == MISSING else ChildMatch.found_id
        mine = ChildMatch.found_id if report.kind == MISSING else ChildMatch.missing_id
        matched = await session.scalar(
            select(func.count())
            .select_from(ChildMatch)
            .join(ChildReport, ChildReport.id == mine)
            .where(other == report.id, ChildMatch.status != "rejected")
            .where(ChildReport.place.in_(codes))
        )
        return bool(matched)

    async def get(self, session: AsyncSession, officer: Officer, report_id: str) -> ChildReport:
        report = await session.get(ChildReport, report_id) if len(report_id) <= 32 else None
        if report is None or not await self.may_see(session, officer, report):
            raise _not_found()
        return report

    def visible(self, officer: Officer) -> Any:
        """:meth:`may_see` as a SQL condition on ``ChildReport`` (for lists)."""
        if officer.role in STAFF:
            return (
                ChildReport.id.is_not(None) if on_child_line(officer) else ChildReport.id.is_(None)
            )
        scope = self.scope(officer)
        if scope is None:
            return ChildReport.id.is_(None)
        codes = scope.codes(self.directory)
        alerted = exists().where(
            ChildAlert.report_id == ChildReport.id,
            ChildAlertRecipient.alert_id == ChildAlert.id,
            ChildAlertRecipient.place.in_(codes),
        )
        return or_(ChildReport.place.in_(codes), alerted)

    # --- the national report ---------------------------------------------------------------

    async def record_national(
        self, officer: Officer, report_id: str, at: datetime | None, reference: str | None
    ) -> ChildReport:
        if officer.role not in STAFF:
            raise NotAllowed("not_your_step", "The centre reports to the national agency.")
        now = self.clock()
        when = now if at is None else at
        if when > now + timedelta(minutes=5):
            raise Invalid("reported_in_future", "The time reported is in the future.")
        ref = _optional(reference, "reference", 64, "invalid_reference")
        async with self.db() as session, session.begin():
            report = await self.get(session, officer, report_id)
            if report.kind != MISSING:
                raise Invalid("not_a_missing_report", "Only a missing child is reported.")
            if report.national_reported_at is not None:
                raise Conflict("already_reported", "The national agency was already told.")
            if when < report.created_at - timedelta(minutes=5):
                raise Invalid("reported_before_report", "That time is before the report.")
            report.national_reported_at = when
            report.national_reference = ref
            if report.case_id is not None:
                await record_event(
                    session,
                    key=f"child:{report.id}:national",
                    kind="child.national_reported",
                    at=now,
                    case_id=report.case_id,
                    officer_id=officer.id,
                    data={"report_id": report.id, "at": when.isoformat()},
                )
        await self._audit(officer, "child.national_reported", report)
        return report

    # --- closing without a match ----------------------------------------------------------

    async def close(
        self, officer: Officer, report_id: str, outcome: str, note: str | None
    ) -> ChildReport:
        """Close an open report that no match closed: a missing child who came home
        (``returned``), or a report made in error (``withdrawn``); the note says how."""
        if officer.role not in STAFF:
            raise NotAllowed("not_your_step", "The centre closes a report.")
        if outcome not in CLOSE_OUTCOMES:
            raise Invalid("invalid_outcome", "A report is closed as returned or withdrawn.")
        text = clean_text(note or "", "note", 1000, "invalid_note", multiline=True)
        now = self.clock()
        async with self.db() as session, session.begin():
            report = await self.get(session, officer, report_id)
            if outcome == "returned" and report.kind != MISSING:
                raise Invalid("invalid_outcome", "Only a missing child returns.")
            if report.status != OPEN:
                raise Conflict(
                    "not_now",
                    "Only an open report is closed this way; a matched one is handed over.",
                )
            report.status = CLOSED
            report.outcome = outcome
            report.closed_at = now
            details = self.open_details(report)
            details["closing_note"] = text
            report.details_sealed = self._seal(details, DETAILS_FIELD)
            if report.case_id is not None:
                await record_event(
                    session,
                    key=f"child:{report.id}:closed",
                    kind="child.report_closed",
                    at=now,
                    case_id=report.case_id,
                    officer_id=officer.id,
                    data={"report_id": report.id, "outcome": outcome},
                )
        await self._audit(officer, "child.report.close", report, outcome=outcome)
        return report

    async def national_overdue(self) -> list[str]:
        """Open missing reports past their two hours with no national report, oldest first."""
        async with self.db() as session:
            rows = await session.scalars(
                select(ChildReport.id)
                .where(
                    ChildReport.kind == MISSING,
                    ChildReport.status != CLOSED,
                    ChildReport.national_reported_at.is_(None),
                    ChildReport.national_due_at < self.clock(),
                )
                .order_by(ChildReport.national_due_at)
            )
            return list(rows)

    # --- views ----------------------------------------------------------------------------

    def open_details(self, report: ChildReport) -> dict[str, Any]:
        return dict(json.loads(self.data_key.open(report.details_sealed, DETAILS_FIELD)))

    async def view(
        self,
        session: AsyncSession,
        officer: Officer,
        report: ChildReport,
        *,
        full: bool,
        counted: tuple[set[str], dict[str, int]] | None = None,
    ) -> dict[str, Any]:
        """A report as the pages show it; ``full`` adds what is sealed (audited by the
        caller). ``counted``: the reports with an alert and the candidates waiting per
        report, worked out once for a list."""
        now = self.clock()
        national = None
        if report.kind == MISSING and report.national_due_at is not None:
            done = report.national_reported_at
            national = {
                "due_at": report.national_due_at.isoformat(),
                "reported_at": iso(done),
                "reference": report.national_reference,
                "overdue": done is None and now > report.national_due_at,
                "within_two_hours": None if done is None else done <= report.national_due_at,
            }
        if counted is None:
            counted = await self._counts(session, [report.id])
        alert = report.id in counted[0]
        waiting = counted[1].get(report.id, 0)
        out: dict[str, Any] = {
            "id": report.id,
            "kind": report.kind,
            "status": report.status,
            "outcome": report.outcome,
            "case_id": report.case_id if officer.role in STAFF else None,
            "district": report.district,
            "age_min": report.age_min,
            "age_max": report.age_max,
            "gender": report.gender,
            "seen_at": report.seen_at.isoformat(),
            "created_at": report.created_at.isoformat(),
            "closed_at": iso(report.closed_at),
            "place": report.place,
            "national": national,
            "alert": bool(alert),
            "candidates": int(waiting or 0),
        }
        if not full:
            return out
        details = self.open_details(report)
        out.update(details)
        out.update(
            height_min_cm=report.height_min_cm,
            height_max_cm=report.height_max_cm,
            runaway=report.runaway,
            abduction_suspected=report.abduction_suspected,
            abuse_suspected=report.abuse_suspected,
            custody_place=report.custody_place,
            guardian_relation=report.guardian_relation,
        )
        if officer.role in STAFF:
            guardian = None
            if report.guardian_sealed is not None:
                guardian = json.loads(self.data_key.open(report.guardian_sealed, GUARDIAN_FIELD))
            out["guardian"] = guardian
            out["child_phone"] = self.data_key.open_optional(
                report.child_phone_sealed, CHILD_PHONE_FIELD
            )
            if report.kind == MISSING and report.case_id is not None:
                case = await session.get(Case, report.case_id)
                fir = None if case is None else case.fir_number
                out["fir"] = {
                    "number": fir,
                    "prompt": None
                    if fir
                    else "Register the FIR at once (s.154 CrPC): record its number on the case.",
                }
        from children.photos import photo_list

        out["photos"] = await photo_list(session, report.id)
        return out

    async def listing(
        self,
        officer: Officer,
        *,
        kind: str | None,
        status: str | None,
        district: str | None,
        age: int | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        conditions: list[Any] = [self.visible(officer), ChildReport.hidden_at.is_(None)]
        if kind is not None:
            conditions.append(ChildReport.kind == kind)
        if status is not None:
            conditions.append(ChildReport.status == status)
        if district is not None:
            conditions.append(ChildReport.district == self.districts.parse(district))
        if age is not None:
            conditions.append(
                and_(
                    or_(ChildReport.age_min.is_(None), ChildReport.age_min <= age),
                    or_(ChildReport.age_max.is_(None), ChildReport.age_max >= age),
                )
            )
        if since is not None:
            conditions.append(ChildReport.seen_at >= since)
        if until is not None:
            conditions.append(ChildReport.seen_at < until)
        async with self.db() as session:
            rows = list(
                await session.scalars(
                    select(ChildReport)
                    .where(*conditions)
                    .order_by(ChildReport.created_at.desc(), ChildReport.id)
                    .limit(limit)
                )
            )
            counted = await self._counts(session, [r.id for r in rows])
            listed = [
                await self.view(session, officer, r, full=False, counted=counted) for r in rows
            ]
        await self.audit.record(
            actor_kind="officer",
            officer_id=officer.id,
            action="child.report.search",
            object_type="child_report",
            object_id=None,
            detail={
                "kind": kind,
                "status": status,
                "district": district,
                "age": age,
                "count": len(listed),
            },
        )
        return listed

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    async def _counts(
        session: AsyncSession, report_ids: list[str]
    ) -> tuple[set[str], dict[str, int]]:
        """Which of these reports raised an alert, and how many candidates wait on each."""
        if not report_ids:
            return set(), {}
        alerted = set(
            await session.scalars(
                select(ChildAlert.report_id).where(ChildAlert.report_id.in_(report_ids))
            )
        )
        waiting: dict[str, int] = {}
        for side in (ChildMatch.missing_id, ChildMatch.found_id):
            for report_id, count in await session.execute(
                select(side, func.count())
                .where(side.in_(report_ids), ChildMatch.status == "proposed")
                .group_by(side)
            ):
                waiting[report_id] = waiting.get(report_id, 0) + count
        return alerted, waiting

    def _seal(self, value: dict[str, Any], field: str) -> bytes:
        return self.data_key.seal(json.dumps(value, ensure_ascii=False), field)

    async def _audit(
        self, officer: Officer, action: str, report: ChildReport, **detail: Any
    ) -> None:
        await self.audit.record(
            actor_kind="officer",
            officer_id=officer.id,
            action=action,
            object_type="child_report",
            object_id=report.id,
            detail={"kind": report.kind, "case_id": report.case_id, **detail},
        )


def _range(
    exact: int | None, low: int | None, high: int | None, code: str, what: str
) -> tuple[int | None, int | None]:
    if exact is not None:
        if low is not None or high is not None:
            raise Invalid(code, f"Give the {what}, or a range, not both.")
        return exact, exact
    if low is not None and high is not None and low > high:
        raise Invalid(code, f"The {what} range runs from the smaller to the larger.")
    return low, high


def _optional(value: str | None, field: str, longest: int, code: str) -> str | None:
    if value is None or not value.strip():
        return None
    return clean_text(value, field, longest, code, multiline=True)


def _phone(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    number = normalise_phone(value)
    digits = number.lstrip("+")
    if not 7 <= len(digits) <= 15:
        raise Invalid("invalid_phone", "A phone number has 7 to 15 digits.")
    return number


def _described(child: dict[str, Any]) -> dict[str, Any]:
    """What of the checked child goes in the sealed details (the ranges stay plain)."""
    keep = (
        "names",
        "parent_names",
        "languages",
        "build",
        "complexion",
        "hair",
        "clothing",
        "marks",
        "medical_needs",
    )
    return {k: child[k] for k in keep}
