"""Twilio always gets TwiML (issue 14, D7): with the database unreachable a webhook holds her
and asks again, never a JSON 500 that makes Twilio play its error and hang up."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy.engine import make_url

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
