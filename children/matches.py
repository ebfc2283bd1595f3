"""Matching a new report against the open reports of the other kind, and what officers do
with the candidates: confirm or reject each (audited), then hand the child over.

Scoring is :mod:`children.matching`'s (names across scripts, parents, ages, heights, gender,
place against time, languages, marks, clothing, photos). Each process keeps one
:class:`~children.matching.Registry` per kind of the open reports, brought up to date from
the database before each ranking (only the reports it has not seen are opened), so reports
filed on another process are matched too.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from cases.casework import change_status, clean_text
from cases.models import Case
from cases.timeline import record_event
from children.matching import Candidate, Description, Registry
from children.models import ChildAlert, ChildAlertRecipient, ChildMatch, ChildReport, Reunification
from children.photos import photo_hashes
from children.schemas import HandoverIn, iso
from children.service import CLOSED, FOUND, MATCHED, MISSING, OPEN, Children
from officers.models import Officer
from places.model import INSTITUTIONS
from safecall.refusals import Conflict, Invalid, NotFound

TOP = 5
MIN_SCORE = 0.3
"""Candidates scoring less are not put before an officer."""
PROPOSED, CONFIRMED, REJECTED = "proposed", "confirmed", "rejected"
HANDOVER_FIELD = "child.handover"
CHECKS_TO_REUNITE = ("guardian_id_seen", "relation_confirmed", "child_recognises")


def describe(report: ChildReport, details: dict[str, Any], hashes: list[int]) -> Description:
    place = details.get("where") or {}
    lat, lon = place.get("latitude"), place.get("longitude")
    return Description(
        report_id=report.id,
        kind="missing" if report.kind == MISSING else "found",
        names=tuple(details.get("names") or ()),
        parent_names=tuple(details.get("parent_names") or ()),
        age_min=report.age_min,
        age_max=report.age_max,
        gender="girl" if report.gender == "girl" else "boy" if report.gender == "boy" else None,
        height_min_cm=report.height_min_cm,
        height_max_cm=report.height_max_cm,
        place=None if lat is None or lon is None else (float(lat), float(lon)),
        district=report.district,
        at=report.seen_at,
        languages=tuple(details.get("languages") or ()),
        marks=details.get("marks") or "",
        clothing=details.get("clothing") or "",
        photo_hashes=tuple(hashes),
    )


class Matches:
    def __init__(self, service: Children) -> None:
        self.service = service
        self._registries = {MISSING: Registry(), FOUND: Registry()}
        self._known: dict[str, set[str]] = {MISSING: set(), FOUND: set()}
        self._lock = asyncio.Lock()

    # --- the registry of open reports ------------------------------------------------------

    async def _sync(self, kind: str) -> Registry:
        """The registry of ``kind``, holding exactly the open reports the database has now."""
        registry, known = self._registries[kind], self._known[kind]
        async with self.service.db() as session:
            now_open = set(
                await session.scalars(
                    select(ChildReport.id).where(
                        ChildReport.kind == kind, ChildReport.status == OPEN
                    )
                )
            )
            for gone in known - now_open:
                registry.remove(gone)
            new = sorted(now_open - known)
            for start in range(0, len(new), 500):
                ids = new[start : start + 500]
                rows = await session.scalars(select(ChildReport).where(ChildReport.id.in_(ids)))
                hashes = await photo_hashes(session, ids)
                for row in rows:
                    details = self.service.open_details(row)
                    registry.add(describe(row, details, hashes.get(row.id, [])))
        self._known[kind] = now_open
        return registry

    def forget(self, *report_ids: str) -> None:
        """Reports that changed (a photo added, closed): read again on the next ranking."""
        for kind in (MISSING, FOUND):
            for report_id in report_ids:
                if report_id in self._known[kind]:
                    self._registries[kind].remove(report_id)
                    self._known[kind].discard(report_id)

    async def propose(self, report_id: str) -> list[ChildMatch]:
        """Rank a report against the open reports of the other kind and store the candidates
        worth an officer's look (score at least :data:`MIN_SCORE`, at most :data:`TOP`)."""
        self.forget(report_id)
        async with self._lock:
            async with self.service.db() as session:
                report = await session.get(ChildReport, report_id)
                if report is None or report.status != OPEN:
                    return []
                hashes = await photo_hashes(session, [report.id])
                new = describe(report, self.service.open_details(report), hashes.get(report.id, []))
            other = FOUND if report.kind == MISSING else MISSING
            registry = await self._sync(other)
            ranked = await asyncio.to_thread(registry.rank, new, TOP)
        try:
            return await self._store(report, ranked)
        except IntegrityError:  # the same pair proposed by another process just now
            return []

    async def _store(self, report: ChildReport, ranked: list[Candidate]) -> list[ChildMatch]:
        now = self.service.clock()
        made: list[ChildMatch] = []
        async with self.service.db() as session, session.begin():
            for candidate in ranked:
                if candidate.score < MIN_SCORE:
                    continue
                pair = (
                    (report.id, candidate.report_id)
                    if report.kind == MISSING
                    else (candidate.report_id, report.id)
                )
                existing = await session.scalar(
                    select(ChildMatch).where(
                        ChildMatch.missing_id == pair[0], ChildMatch.found_id == pair[1]
                    )
                )
                if existing is not None:
                    if existing.status == PROPOSED:
                        existing.score = float(candidate.score)
                        existing.reasons = list(candidate.reasons)
                    continue
                match = ChildMatch(
                    missing_id=pair[0],
                    found_id=pair[1],
                    score=float(candidate.score),
                    reasons=list(candidate.reasons),
                    status=PROPOSED,
                    created_at=now,
                )
                session.add(match)
                made.append(match)
            await session.flush()
        return made

    # --- what officers see and decide -------------------------------------------------------

    async def of_report(self, officer: Officer, report_id: str) -> list[dict[str, Any]]:
        async with self.service.db() as session:
            report = await self.service.get(session, officer, report_id)
            side = ChildMatch.missing_id if report.kind == MISSING else ChildMatch.found_id
            rows = await session.scalars(
                select(ChildMatch).where(side == report.id).order_by(ChildMatch.score.desc())
            )
            listed = [self.view(m, report.id) for m in rows]
        await self.service.audit.record(
            actor_kind="officer",
            officer_id=officer.id,
            action="child.candidates.read",
            object_type="child_report",
            object_id=report_id,
            detail={"count": len(listed)},
        )
        return listed

    @staticmethod
    def view(match: ChildMatch, seen_from: str | None = None) -> dict[str, Any]:
        other = match.found_id if seen_from == match.missing_id else match.missing_id
        return {
            "id": match.id,
            "missing_id": match.missing_id,
            "found_id": match.found_id,
            "other_id": other,
            "score": round(match.score, 3),
            "reasons": list(match.reasons),
            "status": match.status,
            "created_at": match.created_at.isoformat(),
            "decided_at": iso(match.decided_at),
        }

    async def decide(self, officer: Officer, match_id: int, *, confirm: bool) -> dict[str, Any]:
        now = self.service.clock()
        async with self.service.db() as session, session.begin():
            match = await session.get(ChildMatch, match_id)
            if match is None:
                raise NotFound("match_not_found", "There is no such candidate.")
            missing = await self.service.get(session, officer, match.missing_id)
            found = await self.service.get(session, officer, match.found_id)
            if match.status != PROPOSED:
                raise Conflict("not_now", f"This candidate was already {match.status}.")
            if confirm and (missing.status != OPEN or found.status != OPEN):
                raise Conflict(
                    "not_now", "One of the two reports is already matched or closed; look again."
                )
            # The statuses in the WHERE: of two officers confirming at once (this candidate,
            # or another of the same child), one does.
            decided = await session.execute(
                update(ChildMatch)
                .where(ChildMatch.id == match.id, ChildMatch.status == PROPOSED)
                .values(
                    status=CONFIRMED if confirm else REJECTED, decided_by=officer.id, decided_at=now
                )
                .execution_options(synchronize_session=False)
            )
            if decided.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("not_now", "Someone has just decided this candidate; look again.")
            if confirm:
                moved = await session.execute(
                    update(ChildReport)
                    .where(ChildReport.id.in_([missing.id, found.id]), ChildReport.status == OPEN)
                    .values(status=MATCHED)
                    .execution_options(synchronize_session=False)
                )
                if moved.rowcount != 2:  # type: ignore[attr-defined]
                    raise Conflict(
                        "not_now", "One of the two reports has just been matched; look again."
                    )
            await session.refresh(match)
            if missing.case_id is not None:
                await record_event(
                    session,
                    key=f"child:match:{match.id}:{match.status}",
                    kind=f"child.match_{match.status}",
                    at=now,
                    case_id=missing.case_id,
                    officer_id=officer.id,
                    data={"missing_id": missing.id, "found_id": found.id},
                )
            out = self.view(match)
        if confirm:
            self.forget(missing.id, found.id)
        await self.service.audit.record(
            actor_kind="officer",
            officer_id=officer.id,
            action="child.match.confirm" if confirm else "child.match.reject",
            object_type="child_match",
            object_id=str(match_id),
            detail={"missing_id": out["missing_id"], "found_id": out["found_id"]},
        )
        return out

    async def hand_over(self, officer: Officer, match_id: int, asked: HandoverIn) -> dict[str, Any]:
        """Close a confirmed match: the checklist checked, the handover recorded, both reports
        and the case closed with the outcome, all at once (a refusal writes nothing)."""
        now = self.service.clock()
        at = asked.at or now
        if at > now + timedelta(minutes=5):
            raise Invalid("handover_in_future", "The handover time is in the future.")
        where = clean_text(asked.place, "place of handover", 200, "invalid_handover")
        present = [
            clean_text(o, "officer present", 120, "invalid_handover") for o in asked.officers
        ]
        if not present:
            raise Invalid("invalid_handover", "Name the officers present at the handover.")
        note = None
        if asked.note is not None and asked.note.strip():
            note = clean_text(asked.note, "note", 1000, "invalid_handover", multiline=True)
        checks = asked.checklist
        async with self.service.db() as session, session.begin():
            match = await session.get(ChildMatch, match_id)
            if match is None:
                raise NotFound("match_not_found", "There is no such candidate.")
            missing = await self.service.get(session, officer, match.missing_id)
            found = await self.service.get(session, officer, match.found_id)
            if match.status != CONFIRMED or missing.status != MATCHED or found.status != MATCHED:
                raise Conflict("not_confirmed", "Only a confirmed match still open is handed over.")
            guardian = None
            care_place = None
            if asked.outcome == "reunited":
                if missing.abuse_suspected or not checks.no_safeguarding_concern:
                    raise Conflict(
                        "child_protection_path",
                        "There is a safeguarding concern (abuse at home suspected): the child "
                        "is not handed home; place the child in care or refer to child "
                        "protection.",
                    )
                lacking = [c for c in CHECKS_TO_REUNITE if not getattr(checks, c)]
                if lacking:
                    raise Invalid(
                        "checklist_incomplete",
                        "Before the handover: "
                        + ", ".join(c.replace("_", " ") for c in lacking)
                        + ".",
                    )
                custody = self.service.directory.get(found.custody_place or "")
                needs_cpo = (
                    missing.runaway
                    or missing.abduction_suspected
                    or (custody is not None and custody.kind in INSTITUTIONS)
                )
                if needs_cpo and not checks.child_protection_officer_present:
                    raise Invalid(
                        "child_protection_officer_required",
                        "A child protection officer must be present for this handover (a "
                        "runaway, a suspected abduction, or a child in an institution's care).",
                    )
                if asked.guardian_name is None or not asked.guardian_name.strip():
                    raise Invalid("guardian_required", "Name the guardian the child goes to.")
                guardian = clean_text(asked.guardian_name, "guardian", 120, "invalid_handover")
            else:
                if asked.care_place is None:
                    raise Invalid("care_place_required", "Choose the institution from the list.")
                place = self.service.directory.get(asked.care_place)
                if place is None or place.kind not in INSTITUTIONS:
                    raise Invalid("unknown_place", "Choose the institution from the list.")
                care_place = place.code
            record = {
                "place": where,
                "officers": present,
                "guardian": guardian,
                "care_place": care_place,
                "note": note,
            }
            session.add(
                Reunification(
                    match_id=match.id,
                    checklist=checks.model_dump(),
                    outcome=asked.outcome,
                    handed_over_at=at,
                    handover_sealed=self.service.data_key.seal(
                        json.dumps(record, ensure_ascii=False), HANDOVER_FIELD
                    ),
                    recorded_by=officer.id,
                    recorded_at=now,
                )
            )
            closing = await session.execute(
                update(ChildReport)
                .where(ChildReport.id.in_([missing.id, found.id]), ChildReport.status == MATCHED)
                .values(status=CLOSED, outcome=asked.outcome, closed_at=now)
                .execution_options(synchronize_session=False)
            )
            if closing.rowcount != 2:  # type: ignore[attr-defined]
                raise Conflict("not_confirmed", "This handover has just been recorded; look again.")
            for case_id in sorted({c for c in (missing.case_id, found.case_id) if c is not None}):
                case = await session.get(Case, case_id)
                if case is None:
                    continue
                await record_event(
                    session,
                    key=f"child:match:{match.id}:handover:{case_id}",
                    kind="child.handed_over",
                    at=now,
                    case_id=case_id,
                    officer_id=officer.id,
                    data={"outcome": asked.outcome, "missing_id": missing.id, "found_id": found.id},
                )
                if case.status != "closed":
                    await change_status(session, case, status="closed", actor=officer, now=now)
            out = {
                "match": self.view(match),
                "outcome": asked.outcome,
                "handed_over_at": at.isoformat(),
                "missing_id": missing.id,
                "found_id": found.id,
            }
        self.forget(missing.id, found.id)
        await self.service.audit.record(
            actor_kind="officer",
            officer_id=officer.id,
            action="child.handover",
            object_type="child_match",
            object_id=str(match_id),
            detail={"outcome": asked.outcome, "missing_id": out["missing_id"]},
        )
        return out

    # --- the console ------------------------------------------------------------------------

    async def console_part(self, officer_id: int) -> dict[str, Any]:
        """What her console shows of the children: alerts waiting for her acknowledgement and
        the candidates proposed for reports she filed."""
        async with self.service.db() as session:
            waiting = await session.execute(
                select(ChildAlert.id, ChildAlert.report_id, ChildAlert.reason)
                .join(ChildAlertRecipient, ChildAlertRecipient.alert_id == ChildAlert.id)
                .join(ChildReport, ChildReport.id == ChildAlert.report_id)
                .where(
                    ChildAlertRecipient.officer_id == officer_id,
                    ChildAlertRecipient.acknowledged_at.is_(None),
                    ChildReport.status != CLOSED,
                )
                .order_by(ChildAlert.id.desc())
                .limit(10)
            )
            alerts = [{"id": a, "report_id": r, "reason": why} for a, r, why in waiting]
            mine = select(ChildReport.id).where(
                ChildReport.created_by == officer_id, ChildReport.status == OPEN
            )
            rows = await session.scalars(
                select(ChildMatch)
                .where(
                    ChildMatch.status == PROPOSED,
                    or_(ChildMatch.missing_id.in_(mine), ChildMatch.found_id.in_(mine)),
                )
                .order_by(ChildMatch.id.desc())
                .limit(10)
            )
            candidates = [self.view(m) for m in rows]
        return {"alerts": alerts, "candidates": candidates}


MATCHES = web.AppKey("children_matches", Matches)
