"""The desk's open contacts as the line needs them after Redis lost it (contacts/reopen.py):
an emergency phone call goes back in line as an emergency, a waiting chat with its first
arrival, one in conversation to its officer; what never went through the line stays out."""

from __future__ import annotations

from typing import Any

from contacts.service import REOPEN
from ivr.calls import queue_call
from ivr.progress import Intake
from ivr.twiml import MENU
from queues.service import ROUTER
from safecall.state import ROUTING


async def test_open_contacts_are_listed_with_what_the_line_needs(
    client: Any, login_as: Any
) -> None:
    app = client.server.app
    emergency = await queue_call(
        app,
        app[MENU],
        call_sid="CA" + "e" * 32,
        caller="+923001234567",
        intake=Intake("ur", "women", emergency=True, callback_safe=True, anonymous=False),
    )
    response = await client.post("/api/contacts", json={"service_line": "women", "channel": "chat"})
    chat = (await response.json())["session_id"]
    officer, row = await login_as("officer", lines=["women"])
    await officer.post("/api/queues/me/state", json={"state": "available"})
    me = await (await officer.get("/api/queues/me")).json()
    taken = me["offer"]["task_id"]  # the emergency comes first
    assert taken == emergency.call.session_id
    assert (await officer.post(f"/api/queues/offers/{taken}/accept")).status == 200
    assert (await officer.post(f"/api/contacts/{taken}/answer")).status == 200

    found = {c.id: c for c in await app[REOPEN].open_in_line()}
    held = found[taken]
    assert held.officer_id == row.id and held.emergency and held.callback_safe
    task = app[ROUTER].restored_task(held.contact())
    assert task.priority == app[ROUTING].emergency_priority and task.callback_safe
    waiting = found[chat]
    assert waiting.officer_id is None and not waiting.emergency
    assert waiting.contact().arrived == waiting.arrived_at
