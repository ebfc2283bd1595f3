"""Figures of missing and found children over a period (``GET /api/reports/children``).

Reports *made* in the period, per district: missing, found; children recovered in the period
(a missing report closed by a handover: reunited, placed in care or referred; or closed as
returned home) and reunited;
the time from a missing report to the child's recovery (median and 90th percentile, over the
missing reports of the period already recovered); and the share of the period's missing
reports told to the national agency within two hours. Supervisors and admins; audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from cases.reports import parse_period
from children.models import ChildReport
from officers.auth import current_officer
from referrals.reports import PeriodQuery, Timing, timing
from safecall.endpoint import MANAGERS, endpoint
from safecall.errors import read_query
from safecall.state import AUDIT, DB, client_address

RECOVERED = ("reunited", "placed_in_care", "referred", "returned")
"""A missing child recovered: handed over after a match, or came home."""
NO_DISTRICT = "unknown"


class NationalShare(BaseModel):
    missing: int = Field(description="Missing reports made in the period.")
    within_two_hours: int
    late: int
    not_reported: int
    share_within_two_hours: float | None


class ChildrenFigures(BaseModel):
    start: str
    end: str
    by_district: list[dict[str, Any]] = Field(
        description="Per district: missing, found (made in the period), recovered, reunited "
        "(closed in the period)."
    )
    totals: dict[str, int]
    report_to_recovery: Timing
    national: NationalShare


@endpoint(
    "Children's figures over a period: missing, found, recovered and reunited per district; "
    "report to recovery (median, p90); the share of national reports made within two hours.",
    roles=MANAGERS,
    query=PeriodQuery,
    response=ChildrenFigures,
    errors=["invalid_date", "date_range_reversed", "date_range_too_long"],
    tags=["reports"],
)
async def figures(request: web.Request) -> web.Response:
    query = read_query(request, PeriodQuery)
    period = parse_period(query.start, query.end)
    made = [ChildReport.created_at >= period.starts, ChildReport.created_at < period.ends]
    closed = [ChildReport.closed_at >= period.starts, ChildReport.closed_at < period.ends]
    rows: dict[str, dict[str, int]] = {}

    def add(district: str | None, what: str, count: int) -> None:
        counts = rows.setdefault(
            district or NO_DISTRICT, {"missing": 0, "found": 0, "recovered": 0, "reunited": 0}
        )
        counts[what] += count

    async with request.app[DB]() as session:
        for district, kind, count in await session.execute(
            select(ChildReport.district, ChildReport.kind, func.count())
            .where(*made)
            .group_by(ChildReport.district, ChildReport.kind)
        ):
            add(district, kind, count)
        for district, outcome, count in await session.execute(
            select(ChildReport.district, ChildReport.outcome, func.count())
            .where(*closed, ChildReport.kind == "missing", ChildReport.outcome.in_(RECOVERED))
            .group_by(ChildReport.district, ChildReport.outcome)
        ):
            add(district, "recovered", count)
            if outcome == "reunited":
                add(district, "reunited", count)
        durations = [
            (end - start).total_seconds()
            for start, end in await session.execute(
                select(ChildReport.created_at, ChildReport.closed_at).where(
                    *made,
                    ChildReport.kind == "missing",
                    ChildReport.outcome.in_(RECOVERED),
                    ChildReport.closed_at.is_not(None),
                )
            )
            if isinstance(end, datetime)
        ]
        told = list(
            await session.execute(
                select(ChildReport.national_due_at, ChildReport.national_reported_at).where(
                    *made, ChildReport.kind == "missing"
                )
            )
        )
    within = sum(1 for due, at in told if at is not None and due is not None and at <= due)
    not_reported = sum(1 for _, at in told if at is None)
    out = ChildrenFigures(
        start=period.first.isoformat(),
        end=period.last.isoformat(),
        by_district=[{"district": d, **counts} for d, counts in sorted(rows.items())],
        totals={
            what: sum(c[what] for c in rows.values())
            for what in ("missing", "found", "recovered", "reunited")
        },
        report_to_recovery=timing(durations),
        national=NationalShare(
            missing=len(told),
            within_two_hours=within,
            late=len(told) - within - not_reported,
            not_reported=not_reported,
            share_within_two_hours=round(within / len(told), 4) if told else None,
        ),
    )
    officer = current_officer(request)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="report.children",
        object_type="report",
        object_id=None,
        address=client_address(request),
        detail={"from": out.start, "to": out.end},
    )
    return web.json_response(out.model_dump(), headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/reports/children", figures)
