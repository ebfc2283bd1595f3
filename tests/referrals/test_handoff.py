"""A phone call handed over to the 15 control by conference, and the officer leaving.

The emulated Twilio carries her call (a line held open), rings the control's number
through the Calls resource, plays the briefing to whoever answers, and runs the
conference room; the app moves her call into the room and ends her contact
``transferred``. Transfer and an unanswered control are checked too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case, ContactSession
from contacts import request as contact
from contacts.service import DESK, VOCABULARY
from safecall.db import utcnow
from safecall.settings import Settings
from tests.messaging.support import Browser, officer, until
from tests.twilio.call import Call
from tests.twilio.cloud import TwilioCloud
from tests.twilio.fixtures import HttpsApp, serve_https
from tests.twilio.fixtures import twilio_cloud as twilio_cloud  # the fixture

CONTROL = "+924299990015"
HOLD = '<Response><Pause length="600"/></Response>'


@pytest.fixture
async def phone_app(
    settings: Settings, twilio_cloud: TwilioCloud, tmp_path: Path
) -> AsyncIterator[HttpsApp]:
    async with serve_https(settings, twilio_cloud, tmp_path) as served:
        yield served


@pytest.fixture
async def browsers() -> AsyncIterator[list[Browser]]:
    opened: list[Browser] = []
    yield opened
    await asyncio.gather(*(b.close() for b in opened))


async def _on_the_phone(
    served: HttpsApp, db: async_sessionmaker[AsyncSession], browsers: list[Browser]
) -> tuple[Call, Browser, str, str]:
    """Her live call (the line held by the network) and the officer holding its contact."""
    browser = await officer(served, db, utcnow, badge="C-PH")
    browsers.append(browser)
    her = await served.cloud.incoming_call(from_="+923007778899", twiml=HOLD)
    await until(lambda: _true(her.answered))
    asked = contact.contact_request(
        served.app[VOCABULARY],
        line="women",
        channel="phone",
        language="ur",
        external_id=her.sid,
        emergency=True,
        district="lahore",
    )
    opened = await served.app[DESK].open(asked, queue=False, answered_by=browser.officer_id)
    async with db() as session:
        case = await session.get(Case, opened.case_id)
        assert case is not None
        code = case.tracking_code
    return her, browser, opened.session_id, code


async def _true(value: bool) -> bool:
    return value


async def _status(browser: Browser, handoff_id: str) -> str:
    code, body = await browser.call("GET", f"/api/phone/handoffs/{handoff_id}")
    assert code == 200
    return str(body["status"])


async def _disposition(db: async_sessionmaker[AsyncSession], session_id: str) -> str | None:
    async with db() as session:
        found = await session.get(ContactSession, session_id)
        return None if found is None else found.disposition


async def test_conferenced_to_the_control_and_the_officer_leaves(
    phone_app: HttpsApp, db: async_sessionmaker[AsyncSession], browsers: list[Browser]
) -> None:
    cloud = phone_app.cloud
    her, browser, session_id, code = await _on_the_phone(phone_app, db, browsers)
    status, started = await browser.call(
        "POST",
        f"/api/phone/contacts/{session_id}/handoff",
        json={"to": "control", "mode": "conference"},
    )
    assert status == 201, started
    assert started["status"] == "calling"
    handoff_id = started["id"]

    control = await cloud.next_outbound()
    assert control.to == CONTROL and control.from_ == phone_app.settings.twilio_caller_id
    early = await browser.call("POST", f"/api/phone/handoffs/{handoff_id}/join")
    assert early[0] == 409 and early[1]["error"]["code"] == "not_waiting"
    await control.answer()
    digits = " ".join(code)
    heard = await control.wait_for(lambda h: any(digits in x.value for x in h))
    assert any("Emergency. Women line. District lahore." in x.value for x in heard)
    await until(lambda: _is(browser, handoff_id, "waiting"))
    # She is still with the officer: not in the room yet.
    assert her.conference is None and await _disposition(db, session_id) is None

    status, joined = await browser.call("POST", f"/api/phone/handoffs/{handoff_id}/join")
    assert status == 200, joined
    room = cloud.conferences.rooms[f"safecall-handoff-{handoff_id}"]
    await until(lambda: _true(room.together(her.sid, control.sid)))
    assert her.conference == room.name
    await until(lambda: _is(browser, handoff_id, "joined"))
    assert await _disposition(db, session_id) == "transferred"  # the officer has left

    await control.hang_up()
    assert await her.wait_ended() == "completed"  # the room ended with the control leaving
    assert room.status == "completed"
    events = [e for e, _ in room.history]
    assert events[:4] == [
        "participant-join",
        "conference-start",
        "participant-join",
        "participant-leave",
    ]


async def _is(browser: Browser, handoff_id: str, wanted: str) -> bool:
    return await _status(browser, handoff_id) == wanted


async def test_a_transfer_moves_her_at_once(
    phone_app: HttpsApp, db: async_sessionmaker[AsyncSession], browsers: list[Browser]
) -> None:
    cloud = phone_app.cloud
    her, browser, session_id, _ = await _on_the_phone(phone_app, db, browsers)
    status, started = await browser.call(
        "POST",
        f"/api/phone/contacts/{session_id}/handoff",
        json={"to": "lahore-ps-gulberg", "mode": "transfer"},
    )
    assert status == 201, started
    assert await _disposition(db, session_id) == "transferred"
    await until(lambda: _true(her.conference is not None))
    station = await cloud.next_outbound()
    assert station.to == "+924299990201"
    await station.answer()
    room = cloud.conferences.rooms[f"safecall-handoff-{started['id']}"]
    await until(lambda: _true(room.together(her.sid, station.sid)))
    await her.hang_up()
    await station.wait_ended()


async def test_an_unanswered_control_leaves_her_with_the_officer(
    phone_app: HttpsApp, db: async_sessionmaker[AsyncSession], browsers: list[Browser]
) -> None:
    cloud = phone_app.cloud
    her, browser, session_id, _ = await _on_the_phone(phone_app, db, browsers)
    _, started = await browser.call(
        "POST",
        f"/api/phone/contacts/{session_id}/handoff",
        json={"to": "control", "mode": "conference"},
    )
    control = await cloud.next_outbound()
    await control.decline("no-answer")
    await until(lambda: _is(browser, started["id"], "failed"))
    refused = await browser.call("POST", f"/api/phone/handoffs/{started['id']}/join")
    assert refused[0] == 409
    assert her.conference is None and not her.ending
    assert await _disposition(db, session_id) is None
    for body, code in (
        ({"to": "lahore-shelter", "mode": "conference"}, "unknown_place"),
        ({"to": "control", "mode": "whisper"}, "invalid_body"),
    ):
        answer = await browser.call("POST", f"/api/phone/contacts/{session_id}/handoff", json=body)
        assert answer[0] == 400 and answer[1]["error"]["code"] == code
    other = await officer(phone_app, db, utcnow, "C-X")
    browsers.append(other)
    answer = await other.call(
        "POST",
        f"/api/phone/contacts/{session_id}/handoff",
        json={"to": "control", "mode": "conference"},
    )
    assert answer[0] == 409 and answer[1]["error"]["code"] == "not_yours"
    await her.hang_up()
