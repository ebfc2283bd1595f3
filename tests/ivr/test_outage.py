"""Twilio always gets TwiML (issue 14, D7): with the database unreachable a webhook holds her
and asks again, never a JSON 500 that makes Twilio play its error and hang up."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cases.models import ContactSession
from ivr.bridge import bridge
from safecall.app import create_app
from tests.ivr.conftest import PUBLIC_URL, Phone
from tests.support import Cuttable


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_call_during_a_database_outage_holds_and_is_taken_when_it_is_back(
    aiohttp_client: Any, settings: Any, clock: Any
) -> None:
    url = make_url(settings.database_url)
    path = Cuttable(url.host or "127.0.0.1", url.port or 5432)
    port = await path.start()
    through = dataclasses.replace(
        settings, database_url=url.set(port=port).render_as_string(hide_password=False)
    )
    client = await aiohttp_client(create_app(through, clock))
    phone = Phone(client, through)
    assert (await phone.call()).status == 200  # the pool holds a live connection
    await path.cut()
    try:
        reply = await phone.call()
        assert reply.status == 200 and reply.root is not None  # TwiML, not JSON
        again = reply.texts("Redirect")[-1]
        assert again == f"{PUBLIC_URL}/twilio/voice?retry=1"
        assert any(u.endswith("/common/hold.wav") for u in reply.texts("Play"))
        assert not reply.all("Hangup")
        status = await phone.status("completed")  # a status callback, too
        assert status.status == 200 and status.root is not None
    finally:
        await path.restore()
    back = await phone.post(again)
    assert back.status == 200 and back.all("Gather")  # the menu's first question
    await path.cut()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_her_hang_up_during_a_database_outage_still_ends_her_contact(
    aiohttp_client: Any, settings: Any, clock: Any, db: Any
) -> None:
    """Twilio sends a status callback once and never again, whatever it was answered: found
    by the fault suite (``python -m bench faults``), where callers who hung up while the
    database was down stayed open in line. The server keeps trying by itself."""
    url = make_url(settings.database_url)
    path = Cuttable(url.host or "127.0.0.1", url.port or 5432)
    port = await path.start()
    through = dataclasses.replace(
        settings, database_url=url.set(port=port).render_as_string(hide_password=False)
    )
    client = await aiohttp_client(create_app(through, clock))
    phone = Phone(client, through)
    waiting = await phone.press_through("2", "1", "1", "1")  # English, women, anonymous
    assert "/twilio/ivr/wait" in waiting.text  # she is in line
    async with db() as session:
        contact_id = await session.scalar(select(ContactSession.id))
    await path.cut()
    try:
        status = await phone.status("completed")
        assert status.status == 200 and status.root is not None
    finally:
        await path.restore()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30.0
    while True:
        async with db() as session:
            contact = await session.get(ContactSession, contact_id)
            assert contact is not None
            if contact.ended_at is not None:
                break
        assert loop.time() < deadline, "her contact never ended"
        await asyncio.sleep(0.2)
    assert contact.disposition == "abandoned"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_accept_heard_while_the_database_is_down_is_left_to_the_hold_loop(
    aiohttp_client: Any, settings: Any, clock: Any
) -> None:
    """Every accept (a chat's too) is heard by the bridge's listener, which asks the database
    for a waiting call: with the database out of reach it gives up quietly (the hold loop's
    next turn connects a caller) instead of leaving a task's error unobserved (the fault
    suite's SIGTERM run logged "Task exception was never retrieved")."""
    url = make_url(settings.database_url)
    path = Cuttable(url.host or "127.0.0.1", url.port or 5432)
    port = await path.start()
    through = dataclasses.replace(
        settings, database_url=url.set(port=port).render_as_string(hide_password=False)
    )
    client = await aiohttp_client(create_app(through, clock))
    await path.cut()
    try:
        assert await bridge(client.app, "0" * 32) is False
    finally:
        await path.restore()
