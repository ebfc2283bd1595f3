"""Figures of referrals and of her updates over a period (``GET /api/reports/referrals``).

Referrals *made* in the period: how many went to each place and how they ended (or where
they stand), how long places took to acknowledge and to be on scene (median and 90th
percentile, over the referrals that got there), and how many emergencies escalated.
Messages *created* in the period: by purpose and status (sent and delivered, failed, still
held, cancelled); choices stopped in the period, by how she stopped them. Counts are
``GROUP BY``s in the database; the durations are read as the two times of each referral
that has both (a percentile is not the same function on SQLite and PostgreSQL) and worked
out here. Supervisors and admins; each read is audited.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.reports import parse_period
from messaging.models import OutboundMessage, UpdateChoice
from officers.auth import current_officer
from places.routes import PLACES
from referrals.models import Referral
from safecall.endpoint import MANAGERS, endpoint
from safecall.errors import read_query
from safecall.state import AUDIT, DB, client_address


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: str = Field(alias="from", description="First day, YYYY-MM-DD (UTC).")
    end: str = Field(alias="to", description="Last day, YYYY-MM-DD (UTC), at most 366 days on.")


class Timing(BaseModel):
    count: int = Field(description="Referrals that got there.")
    median_seconds: float | None
    p90_seconds: float | None


class ReferralFigures(BaseModel):
    start: str
    end: str
    referrals: int
    by_place: list[dict[str, Any]] = Field(
        description="Per place: its code and name, and counts by status (where each stands)."
    )
    by_urgency: dict[str, int]
    escalated: int
    time_to_acknowledge: Timing
    time_to_on_scene: Timing
    messages: dict[str, dict[str, int]] = Field(
        description="Messages created in the period: purpose -> status -> count."
    )
    stopped: dict[str, int] = Field(description="Choices stopped in the period, by how.")


def timing(seconds: list[float]) -> Timing:
    """Median and 90th percentile (nearest rank) of ``seconds``."""
    if not seconds:
        return Timing(count=0, median_seconds=None, p90_seconds=None)
    ordered = sorted(seconds)
    rank = max(1, -(-9 * len(ordered) // 10))  # ceil(0.9 n)
    return Timing(
        count=len(ordered),
        median_seconds=round(statistics.median(ordered), 1),
        p90_seconds=round(ordered[rank - 1], 1),
    )


async def _durations(
    session: AsyncSession, made: list[ColumnElement[bool]], end: Any
) -> list[float]:
    rows = await session.execute(select(Referral.created_at, end).where(*made, end.is_not(None)))
    return [(later - at).total_seconds() for at, later in rows if isinstance(later, datetime)]


@endpoint(
    "Referral figures over a period: by place and outcome, time to acknowledge and to on-scene "
    "(median, p90), escalations; her updates sent, failed and stopped.",
    roles=MANAGERS,
    query=PeriodQuery,
    response=ReferralFigures,
    errors=["invalid_date", "date_range_reversed", "date_range_too_long"],
    tags=["reports"],
)
async def figures(request: web.Request) -> web.Response:
    query = read_query(request, PeriodQuery)
    period = parse_period(query.start, query.end)
    directory = request.app[PLACES]
    made = [Referral.created_at >= period.starts, Referral.created_at < period.ends]
    async with request.app[DB]() as session:
        places: dict[str, dict[str, int]] = {}
        for place, status, count in await session.execute(
            select(Referral.place, Referral.status, func.count())
            .where(*made)
            .group_by(Referral.place, Referral.status)
        ):
            places.setdefault(place, {})[status] = count
        urgency = dict(
            (u, c)
            for u, c in await session.execute(
                select(Referral.urgency, func.count()).where(*made).group_by(Referral.urgency)
            )
        )
        escalated = await session.scalar(
            select(func.count()).where(*made, Referral.escalated_at.is_not(None))
        )
        to_ack = await _durations(session, made, Referral.acknowledged_at)
        to_scene = await _durations(session, made, Referral.on_scene_at)
        messages: dict[str, dict[str, int]] = {}
        for purpose, status, count in await session.execute(
            select(OutboundMessage.purpose, OutboundMessage.status, func.count())
            .where(
                OutboundMessage.created_at >= period.starts,
                OutboundMessage.created_at < period.ends,
            )
            .group_by(OutboundMessage.purpose, OutboundMessage.status)
        ):
            messages.setdefault(purpose, {})[status] = count
        stopped = dict(
            (via or "unknown", count)
            for via, count in await session.execute(
                select(UpdateChoice.stopped_via, func.count())
                .where(
                    UpdateChoice.stopped_at >= period.starts,
                    UpdateChoice.stopped_at < period.ends,
                )
                .group_by(UpdateChoice.stopped_via)
            )
        )
    by_place = [
        {
            "place": code,
            "name": found.name if (found := directory.get(code)) else code,
            "total": sum(counts.values()),
            "statuses": counts,
        }
        for code, counts in sorted(places.items())
    ]
    out = ReferralFigures(
        start=period.first.isoformat(),
        end=period.last.isoformat(),
        referrals=sum(p["total"] for p in by_place),
        by_place=by_place,
        by_urgency=urgency,
        escalated=int(escalated or 0),
        time_to_acknowledge=timing(to_ack),
        time_to_on_scene=timing(to_scene),
        messages=messages,
        stopped=stopped,
    )
    officer = current_officer(request)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="report.referrals",
        object_type="report",
        object_id=None,
        address=client_address(request),
        detail={"from": out.start, "to": out.end},
    )
    return web.json_response(out.model_dump(), headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/reports/referrals", figures)
