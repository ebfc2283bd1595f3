"""The referral service of the app, and its background escalation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from places.routes import PLACES
from referrals.service import Referrals
from safecall.background import Periodic
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, SETTINGS
from signaling.console_feed import ALARM_SOURCES

REFERRALS = web.AppKey("referrals", Referrals)


@dataclass(frozen=True)
class EscalationConfig:
    every: float = 5.0
    """Seconds between looks for emergencies nobody acknowledged."""


ESCALATION = web.AppKey("referral_escalation", EscalationConfig)


async def referrals_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the database's): the service, the escalation loop, and
    the wallboard's alarm for escalated emergencies still unacknowledged."""
    service = Referrals(
        db=app[DB],
        data_key=app[DATA_KEY],
        directory=app[PLACES],
        audit=app[AUDIT],
        clock=app[CLOCK],
        escalate_after=app[SETTINGS].referral_escalate_seconds,
    )
    app[REFERRALS] = service

    async def alarm() -> list[dict[str, object]]:
        now = app[CLOCK]()
        raised: list[dict[str, object]] = []
        for referral in await service.unacknowledged_escalations():
            place = app[PLACES].get(referral.place)
            minutes = max(1, round((now - referral.created_at).total_seconds() / 60))
            raised.append(
                {
                    "kind": "referral_unacknowledged",
                    "referral_id": referral.id,
                    "place": referral.place,
                    "message": f"Emergency referral to {place.name if place else referral.place} "
                    f"not acknowledged for {minutes} minute{'s' if minutes != 1 else ''}.",
                }
            )
        return raised

    app[ALARM_SOURCES].append(alarm)
    async with Periodic(
        service.escalate_due,
        every=app[ESCALATION].every,
        name="referral-escalation",
        failure="referral escalation failed; looking again shortly",
        jitter=0.1,
    ):
        yield
