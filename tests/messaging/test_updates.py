"""Keeping her informed, as she chose: each case step becomes one short message in her
language, held until her safe time, never naming the police unless she allowed it, never
sent when she chose none, and stopped by STOP (SMS), or from /track with her PIN. Sent
through the emulated Twilio Messaging with the real twilio client; receipts come back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.casework import set_pin
from cases.models import Case
from messaging.routes import MESSENGER
from messaging.texts import Texts
from tests.messaging.conftest import TEMPLATE
from tests.messaging.support import Browser, officer
from tests.support import FakeClock
from tests.twilio.fixtures import HttpsApp

HER = "+923001112233"
TEXTS = Texts.load()


@pytest.fixture
async def centre(
    texting: HttpsApp, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> AsyncIterator[Browser]:
    browser = await officer(texting, db, clock)
    yield browser
    await browser.close()


async def _case(centre: Browser, clock: FakeClock) -> int:
    """A case opened (and assigned) a minute before she makes her choice."""
    status, case = await centre.call("POST", "/api/cases", json={"service_line": "women"})
    assert status == 201, case
    clock.advance(60)
    return int(case["id"])


async def _status(centre: Browser, case_id: int, status: str, **fields: Any) -> None:
    code, body = await centre.call(
        "POST", f"/api/cases/{case_id}/status", json={"status": status, **fields}
    )
    assert code == 200, body


async def _updates(centre: Browser, case_id: int) -> dict[str, Any]:
    code, body = await centre.call("GET", f"/api/cases/{case_id}/updates")
    assert code == 200
    return dict(body)


async def test_an_update_waits_for_her_safe_time_and_speaks_her_language(
    texting: HttpsApp, centre: Browser, clock: FakeClock
) -> None:
    messenger, cloud = texting.app[MESSENGER], texting.cloud
    case_id = await _case(centre, clock)
    code, chosen = await centre.call(
        "PUT",
        f"/api/cases/{case_id}/updates",
        json={
            "channel": "sms",
            "phone": "+92 300 1112233",
            "language": "ur",
            "safe_times": [["10:00", "12:00"]],
        },
    )
    assert code == 200 and chosen["phone"] == "+92••••••••33" and not chosen["stopped"]

    # 09:00 UTC is 14:00 in Karachi: outside her window.
    await _status(centre, case_id, "fir_registered", fir_number="123/26", police_station="Gulberg")
    assert await messenger.write_updates() == 1
    assert await messenger.write_updates() == 0  # once
    assert await messenger.send_due() == 0
    assert cloud.messages == []
    held = (await _updates(centre, case_id))["messages"]
    assert [(m["step"], m["status"]) for m in held] == [("fir_registered", "held")]
    assert held[0]["due_at"] == "2026-11-02T05:00:00+00:00"  # 10:00 the next morning

    clock.advance(20 * 3600 - 60 - 1)  # a second before 10:00 in Karachi (05:00 UTC)
    assert await messenger.send_due() == 0
    clock.advance(1)
    assert await messenger.send_due() == 1
    sent = cloud.messages[-1]
    assert sent["to"] == HER and sent["from"] == texting.settings.twilio_caller_id
    assert sent["body"] == TEXTS.update("fir_registered", "ur", name_police=False)
    assert "پولیس" not in sent["body"] and "ایف آئی آر" not in sent["body"]

    async with asyncio.timeout(5):
        await cloud.messaging.delivered.wait()
    assert (await _updates(centre, case_id))["messages"][0]["status"] == "delivered"
    receipts = [r["MessageStatus"] for r in cloud.messaging.receipts]
    assert receipts == ["sent", "delivered"]


async def test_nothing_is_sent_when_she_chose_none_or_never_chose(
    texting: HttpsApp, centre: Browser, clock: FakeClock
) -> None:
    messenger = texting.app[MESSENGER]
    chose_none, never = await _case(centre, clock), await _case(centre, clock)
    code, _ = await centre.call("PUT", f"/api/cases/{chose_none}/updates", json={"channel": "none"})
    assert code == 200
    for case_id in (chose_none, never):
        await _status(centre, case_id, "under_investigation")
        await _status(centre, case_id, "closed")
    assert await messenger.write_updates() == 0
    assert await messenger.send_due() == 0
    assert texting.cloud.messages == []
    assert (await _updates(centre, never)) == {"choice": None, "messages": []}


async def test_stop_ends_her_updates_and_what_was_waiting(
    texting: HttpsApp, centre: Browser, clock: FakeClock, db: async_sessionmaker[AsyncSession]
) -> None:
    messenger, cloud = texting.app[MESSENGER], texting.cloud
    case_id = await _case(centre, clock)
    await centre.call(
        "PUT",
        f"/api/cases/{case_id}/updates",
        json={"channel": "sms", "phone": HER, "language": "en", "safe_times": [["10:00", "12:00"]]},
    )
    await _status(centre, case_id, "under_investigation")
    assert await messenger.write_updates() == 1  # held until 10:00

    stopped = await cloud.messaging.incoming(HER, "stop ")
    assert stopped.status == 200
    assert cloud.messages[-1]["body"].startswith("You have successfully been unsubscribed")
    updates = await _updates(centre, case_id)
    assert updates["choice"]["stopped"] is True
    assert [m["status"] for m in updates["messages"]] == ["cancelled"]

    await _status(centre, case_id, "closed")
    assert await messenger.write_updates() == 0
    clock.advance(24 * 3600)
    assert await messenger.send_due() == 0
    assert [m["to"] for m in cloud.messages if m.get("direction") == "outbound-api"] == []

    boss = await officer(texting, db, clock, "S-1", role="supervisor")
    day = (clock() - timedelta(days=1)).date().isoformat()
    code, report = await boss.call("GET", f"/api/reports/referrals?from={day}&to={day}")
    await boss.close()
    assert code == 200
    assert report["stopped"] == {"sms_stop": 1}
    assert report["messages"] == {"update": {"cancelled": 1}}


async def test_named_updates_on_whatsapp_and_stopping_them_from_track(
    texting: HttpsApp,
    centre: Browser,
    db: async_sessionmaker[AsyncSession],
    clock: FakeClock,
) -> None:
    messenger, cloud = texting.app[MESSENGER], texting.cloud
    case_id = await _case(centre, clock)
    code, _ = await centre.call(
        "PUT",
        f"/api/cases/{case_id}/updates",
        json={
            "channel": "whatsapp",
            "phone": HER,
            "language": "en",
            "name_police": True,
            "any_time": True,
        },
    )
    assert code == 200
    await _status(centre, case_id, "under_investigation")
    assert await messenger.write_updates() == 1
    assert await messenger.send_due() == 1
    sent = cloud.messages[-1]
    # She has not written on WhatsApp in 24 hours: the approved template carries the text.
    named = TEXTS.update("under_investigation", "en", name_police=True)
    assert sent["to"] == f"whatsapp:{HER}" and sent["body"] == f"Safecall: {named}"
    assert "police" in named

    async with db() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        await set_pin(session, case, pin="4321", now=case.created_at)
        await session.commit()
        code_digits = case.tracking_code
    async with centre.session.post(
        texting.url + "/api/track/updates/stop",
        json={"code": code_digits, "pin": "1111"},
        ssl=texting.client_ssl,
    ) as wrong:
        assert wrong.status == 403 and (await wrong.json())["error"]["code"] == "pin_wrong"
    async with centre.session.post(
        texting.url + "/api/track/updates/stop",
        json={"code": code_digits, "pin": "4321"},
        ssl=texting.client_ssl,
    ) as right:
        assert (await right.json()) == {"stopped": True}
    await _status(centre, case_id, "closed")
    assert await messenger.write_updates() == 0
    assert TEMPLATE in {r.params.get("ContentSid", [""])[-1] for r in cloud.requests}


async def test_her_choice_is_checked(texting: HttpsApp, centre: Browser, clock: FakeClock) -> None:
    case_id = await _case(centre, clock)
    for body, code in (
        ({"channel": "sms"}, "phone_required"),
        ({"channel": "sms", "phone": "03001112233", "any_time": True}, "invalid_phone"),
        ({"channel": "sms", "phone": HER}, "invalid_safe_times"),
        (
            {"channel": "sms", "phone": HER, "safe_times": [["12:00", "10:00"]]},
            "invalid_safe_times",
        ),
        (
            {"channel": "sms", "phone": HER, "safe_times": [["25:00", "26:00"]]},
            "invalid_safe_times",
        ),
        (
            {"channel": "sms", "phone": HER, "any_time": True, "safe_times": [["10:00", "11:00"]]},
            "invalid_safe_times",
        ),
        ({"channel": "pigeon"}, "invalid_body"),
    ):
        status, answer = await centre.call("PUT", f"/api/cases/{case_id}/updates", json=body)
        assert status == 400 and answer["error"]["code"] == code, (body, answer)
    assert (await _updates(centre, case_id))["choice"] is None
