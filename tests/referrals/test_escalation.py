"""An emergency referral nobody acknowledges escalates on time, once, to the district's duty
supervisor and to the centre's wallboard; an acknowledged one, or a routine one, never does.

The app's clock is a FakeClock: the escalation loop runs every 50 ms in real time, and the
referral becomes due only when the test moves the clock past the limit (120 s).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import TimelineEvent
from referrals.service_key import ESCALATION, REFERRALS, EscalationConfig
from safecall.app import create_app
from safecall.settings import Settings
from signaling.console_feed import FEED_CONFIG
from tests.calls.test_push import FAST, open_stream
from tests.referrals.conftest import DPO, GULBERG, INSIDE_GULBERG, Login, open_case
from tests.support import FakeClock


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> web.Application:
    app = create_app(settings, clock=clock)
    app[ESCALATION] = EscalationConfig(every=0.05)
    app[FEED_CONFIG] = dataclasses.replace(app[FEED_CONFIG], **FAST)
    return app


async def _refer(officer: TestClient[Any, Any], urgency: str) -> dict[str, Any]:
    case = await open_case(officer)
    response = await officer.post(
        "/api/referrals",
        json={
            "case_id": case["id"],
            "place": GULBERG,
            "urgency": urgency,
            "reason": "She whispered that he is back.",
            "location": INSIDE_GULBERG,
        },
    )
    assert response.status == 201
    return dict(await response.json())


async def _escalated_at(client: TestClient[Any, Any], referral_id: str) -> str:
    async with asyncio.timeout(5):
        while True:
            seen = await (await client.get(f"/api/field/referrals/{referral_id}")).json()
            if seen["escalated_at"] is not None:
                return str(seen["escalated_at"])
            await asyncio.sleep(0.05)


async def test_an_unacknowledged_emergency_escalates_on_time(
    app: web.Application,
    login_as: Login,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
) -> None:
    officer, _ = await login_as("officer")
    supervisor, _ = await login_as("supervisor")
    district, _ = await login_as("station", place=DPO, lines=[])
    station, _ = await login_as("station", place=GULBERG, lines=[])
    emergency = await _refer(officer, "emergency")
    routine = await _refer(officer, "routine")
    acknowledged = await _refer(officer, "emergency")
    assert (await station.post(f"/api/field/referrals/{acknowledged['id']}/acknowledge")).ok

    clock.advance(119)
    assert await app[REFERRALS].escalate_due() == []  # one second early: nothing

    board = await open_stream(supervisor, "/api/wallboard/events")
    first = await board.until("alarms")
    assert not [a for a in first["alarms"] if a["kind"] == "referral_unacknowledged"]

    clock.advance(2)  # now 121 s: the loop escalates it by itself
    at = await _escalated_at(district, emergency["id"])
    assert at == clock().isoformat()
    alarms = await board.until(
        "alarms", lambda d: any(a["kind"] == "referral_unacknowledged" for a in d["alarms"])
    )
    raised = [a for a in alarms["alarms"] if a["kind"] == "referral_unacknowledged"]
    assert [a["referral_id"] for a in raised] == [emergency["id"]]
    assert "Gulberg police station" in raised[0]["message"]

    # The district's duty supervisor sees it flagged on the list.
    listed = await (await district.get("/api/field/referrals")).json()
    flagged = {r["id"]: r["escalated_at"] for r in listed["referrals"]}
    assert flagged[emergency["id"]] == at and flagged[routine["id"]] is None
    assert flagged[acknowledged["id"]] is None

    # Once: more time and more loops escalate nothing again.
    clock.advance(600)
    assert await app[REFERRALS].escalate_due() == []
    async with db() as session:
        count = await session.scalar(
            select(func.count()).where(TimelineEvent.kind == "referral.escalated")
        )
    assert count == 1

    # Acknowledged at last: the alarm leaves the wallboard.
    assert (await station.post(f"/api/field/referrals/{emergency['id']}/acknowledge")).ok
    await board.until(
        "alarms", lambda d: not any(a["kind"] == "referral_unacknowledged" for a in d["alarms"])
    )
    board.response.close()
