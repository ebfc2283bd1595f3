"""Reports over a period: the counts a supervisor reads and the province publishes.

``GET /api/reports/summary`` (JSON) and ``GET /api/reports/summary.csv`` give
the same figures. A period is whole UTC days, ``from`` and ``to`` included,
at most 366 of them. Case figures are about the cases *opened* in the period,
by their status now; session figures about the contacts that *arrived* in it.
Every count is a SQL ``GROUP BY`` (the same on SQLite and PostgreSQL), never
rows pulled into Python. Supervisors see their own service lines, admins
every line; each read is audited.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, ContactSession
from cases.vocabulary import CaseStatus, Channel, Disposition, ServiceLine, categories
from officers.auth import current_officer
from safecall.endpoint import ADMIN, MANAGERS, endpoint
from safecall.errors import ApiError, read_query
from safecall.state import AUDIT, DB, SETTINGS, client_address

MAX_DAYS = 366
RESOLVED = (CaseStatus.RESOLVED_BY_RECONCILIATION, CaseStatus.REFERRED, CaseStatus.CLOSED)
NO_CATEGORY = "uncategorised"
NO_DISTRICT = "unknown"
STILL_OPEN = "open"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SummaryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(
        alias="from",
        description="First day of the period, YYYY-MM-DD (UTC), included.",
        json_schema_extra={"format": "date"},
    )
    end: str = Field(
        alias="to",
        description="Last day of the period, YYYY-MM-DD (UTC), included; at most 366 days.",
        json_schema_extra={"format": "date"},
    )
    service_line: ServiceLine | None = Field(
        default=None, description="Only this service line (default: every line you may see)."
    )


class Headline(BaseModel):
    """The figures the province publishes, over the cases opened in the period."""

    complaints_received: int = Field(
        description="Cases opened in the period, whatever happened next."
    )
    resolved: int = Field(
        description=(
            "Of those, the ones dealt with and no longer open with the police here: status "
            "resolved_by_reconciliation, referred or closed. With firs_registered and "
            "under_investigation this accounts for finished work the way the province counts it."
        )
    )
    resolved_by_reconciliation: int = Field(
        description="Of those, the ones now resolved by reconciliation (part of `resolved`)."
    )
    firs_registered: int = Field(
        description=(
            "Of those, cases with an FIR: an FIR number recorded or status fir_registered. A case "
            "keeps its FIR when it moves on, so this overlaps under_investigation and fast_tracked."
        )
    )
    firs_by_offence: dict[str, int] = Field(
        description="firs_registered by case category (offence); `uncategorised` when none was set."
    )
    under_investigation: int = Field(description="Of those, the ones now under investigation.")
    fast_tracked: int = Field(description="Of those, the ones now fast-tracked.")


class CaseCounts(BaseModel):
    """Cases opened in the period, by their values now."""

    total: int
    by_status: dict[str, int] = Field(description="Every status, zeros included.")
    by_category: dict[str, int] = Field(
        description="Every configured category, zeros included; `uncategorised` when none was set."
    )
    by_service_line: dict[str, int] = Field(description="Every line in the report, zeros included.")
    by_district: dict[str, int] = Field(description="Districts with cases; `unknown` when not set.")


class SessionCounts(BaseModel):
    """Contacts (sessions) that arrived in the period, on the lines in the report."""

    total: int
    by_channel: dict[str, int] = Field(description="By the channel she first used, zeros included.")
    by_disposition: dict[str, int] = Field(
        description="Every disposition, zeros included; `open` for sessions not ended yet."
    )
    average_wait_seconds: float | None = Field(
        description="Mean wait of the sessions with a recorded wait; null when there are none."
    )


class Summary(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: date = Field(alias="from", description="First day of the period (UTC).")
    end: date = Field(alias="to", description="Last day of the period (UTC).")
    service_lines: list[str] = Field(description="The service lines these figures cover.")
    headline: Headline
    cases: CaseCounts
    sessions: SessionCounts


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``first`` to ``last``, both included."""

    first: date
    last: date

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first, time(), UTC)

    @property
    def ends(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)


def parse_period(start: str, end: str) -> Period:
    """The period, or a 400 with a code saying what is wrong."""
    first = _day("from", start)
    last = _day("to", end)
    if first > last:
        raise ApiError(400, "date_range_reversed", "'from' must be on or before 'to'.")
    if (last - first).days + 1 > MAX_DAYS:
        raise ApiError(
            400, "date_range_too_long", f"A report covers at most {MAX_DAYS} days; ask for less."
        )
    return Period(first, last)


def _day(name: str, text: str) -> date:
    try:
        if _DAY.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ApiError(400, "invalid_date", f"'{name}' must be a real date written YYYY-MM-DD.")


async def summarise(
    session: AsyncSession, period: Period, lines: list[str], extra_categories: tuple[str, ...]
) -> Summary:
    """Every figure of the report, counted by the database."""
    opened = [
        Case.created_at >= period.starts,
        Case.created_at < period.ends,
        Case.service_line.in_(lines),
    ]
    by_status = await _count_by(session, Case.status, opened)
    total = sum(by_status.values())
    has_fir = or_(
        and_(Case.fir_number.is_not(None), Case.fir_number != ""),
        Case.status == CaseStatus.FIR_REGISTERED,
    )
    firs = await _count_by(session, Case.category, [*opened, has_fir])
    arrived = [
        ContactSession.arrived_at >= period.starts,
        ContactSession.arrived_at < period.ends,
        ContactSession.service_line.in_(lines),
    ]
    by_channel = await _count_by(session, ContactSession.channel, arrived)
    wait = (
        await session.execute(select(func.avg(ContactSession.wait_seconds)).where(*arrived))
    ).scalar_one()

    status_counts = _with_zeros(by_status, [s.value for s in CaseStatus])
    return Summary(
        start=period.first,
        end=period.last,
        service_lines=lines,
        headline=Headline(
            complaints_received=total,
            resolved=sum(status_counts[s] for s in RESOLVED),
            resolved_by_reconciliation=status_counts[CaseStatus.RESOLVED_BY_RECONCILIATION],
            firs_registered=sum(firs.values()),
            firs_by_offence=_named(firs, NO_CATEGORY),
            under_investigation=status_counts[CaseStatus.UNDER_INVESTIGATION],
            fast_tracked=status_counts[CaseStatus.FAST_TRACKED],
        ),
        cases=CaseCounts(
            total=total,
            by_status=status_counts,
            by_category=_with_zeros(
                _named(await _count_by(session, Case.category, opened), NO_CATEGORY),
                categories(extra_categories),
            ),
            by_service_line=_with_zeros(await _count_by(session, Case.service_line, opened), lines),
            by_district=_named(await _count_by(session, Case.district, opened), NO_DISTRICT),
        ),
        sessions=SessionCounts(
            total=sum(by_channel.values()),
            by_channel=_with_zeros(by_channel, [c.value for c in Channel]),
            by_disposition=_with_zeros(
                _named(await _count_by(session, ContactSession.disposition, arrived), STILL_OPEN),
                [d.value for d in Disposition],
            ),
            average_wait_seconds=None if wait is None else round(float(wait), 1),
        ),
    )


async def _count_by(
    session: AsyncSession, column: Any, where: Iterable[ColumnElement[bool]]
) -> dict[str | None, int]:
    rows = await session.execute(
        select(column, func.count()).where(*where).group_by(column).order_by(column)
    )
    return {value: count for value, count in rows}


def _named(counts: dict[str | None, int], none: str) -> dict[str, int]:
    """Counts keyed by name; rows without a value go under ``none``."""
    named: dict[str, int] = {}
    for value, count in counts.items():
        key = none if value in (None, "") else str(value)
        named[key] = named.get(key, 0) + count
    return named


def _with_zeros(counts: dict[Any, int], known: Iterable[str]) -> dict[str, int]:
    """Every known value (zero when absent), then any other value the data holds."""
    result = {str(k): 0 for k in known}
    for value, count in counts.items():
        result[str(value)] = result.get(str(value), 0) + count
    return result


def csv_rows(summary: Summary) -> Iterator[tuple[str, str, str]]:
    """The report as (dimension, value, count) rows; ``average_wait_seconds`` is a number of
    seconds (empty when unknown) in the count column."""
    head = summary.headline
    for name in Headline.model_fields:
        if name != "firs_by_offence":
            yield "headline", name, str(getattr(head, name))
    yield from _rows("firs_by_offence", head.firs_by_offence)
    cases = summary.cases
    yield "cases", "total", str(cases.total)
    yield from _rows("status", cases.by_status)
    yield from _rows("category", cases.by_category)
    yield from _rows("service_line", cases.by_service_line)
    yield from _rows("district", cases.by_district)
    sessions = summary.sessions
    yield "sessions", "total", str(sessions.total)
    yield from _rows("session_channel", sessions.by_channel)
    yield from _rows("session_disposition", sessions.by_disposition)
    wait = sessions.average_wait_seconds
    yield "sessions", "average_wait_seconds", "" if wait is None else str(wait)


def _rows(dimension: str, counts: dict[str, int]) -> Iterator[tuple[str, str, str]]:
    for value, count in counts.items():
        yield dimension, _cell(value), str(count)


def _cell(text: str) -> str:
    # A district typed as "=HYPERLINK(...)" must not become a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def _report(request: web.Request, form: str) -> tuple[Summary, Period]:
    query = read_query(request, SummaryQuery)
    period = parse_period(query.start, query.end)
    officer = current_officer(request)
    allowed = [line.value for line in ServiceLine]
    if officer.role != ADMIN:
        allowed = [line for line in allowed if line in officer.lines]
    if query.service_line is not None:
        if query.service_line not in allowed:
            raise ApiError(
                403,
                "service_line_forbidden",
                "You may read reports only for your own service lines.",
            )
        allowed = [query.service_line.value]
    async with request.app[DB]() as session:
        summary = await summarise(session, period, allowed, request.app[SETTINGS].extra_categories)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="report.read",
        object_type="report",
        object_id="summary",
        address=client_address(request),
        detail={
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "service_lines": allowed,
            "format": form,
        },
    )
    return summary, period


_ERRORS = ["invalid_date", "date_range_reversed", "date_range_too_long", "service_line_forbidden"]


@endpoint(
    "Counts over a period: by status, category, service line, channel, district; headline figures.",
    roles=MANAGERS,
    query=SummaryQuery,
    response=Summary,
    errors=_ERRORS,
    tags=["reports"],
)
async def summary_json(request: web.Request) -> web.Response:
    summary, _ = await _report(request, "json")
    return web.json_response(
        summary.model_dump(mode="json", by_alias=True), headers={"Cache-Control": "no-store"}
    )


@endpoint(
    "The same figures as CSV: one row per (dimension, value, count).",
    roles=MANAGERS,
    query=SummaryQuery,
    errors=_ERRORS,
    content_type="text/csv",
    tags=["reports"],
)
async def summary_csv(request: web.Request) -> web.Response:
    summary, period = await _report(request, "csv")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("dimension", "value", "count"))
    writer.writerows(csv_rows(summary))
    name = f"safecall-summary-{period.first}-{period.last}.csv"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/reports/summary", summary_json)
    app.router.add_get("/api/reports/summary.csv", summary_csv)
