"""A phone call passed to another officer mid-call (issue 12, behaviour 2, the phone leg).

The desk answers a transfer on any channel the same way (a leg of the new officer's own,
a fresh officer token bound to her: tests/contacts/test_transfer.py); for a phone call the
media bridge holds her side and offers whichever officer page takes the officer seat. Here
B's page takes the seat while A's is still on: A's is let go (``replaced``), the bridge
offers B a new leg, and the caller and B hear each other. No browser (aiortc pages).
"""

from __future__ import annotations

import asyncio
from typing import Any

from media.routes import BRIDGES
from tests.media.conftest import bridged
from tests.media.test_bridge import (
    caller_heard_by_officer,
    officer_heard_by_caller,
    officer_joins,
    open_call,
    pytestmark,  # noqa: F401 (twilio's client warnings)
)


async def test_a_phone_call_taken_over_by_another_officer_goes_on_with_her(
    server: Any, incoming_call: Any, officer_cookie: Any
) -> None:
    session_id, call = await open_call(server, incoming_call)
    first = await officer_joins(server, await officer_cookie(), session_id)
    caller = await bridged(server.server.app, call, session_id)
    async with asyncio.timeout(10):
        await first.connected.wait()

    second = await officer_joins(server, await officer_cookie(), session_id)
    refused = await first.wait_for(lambda m: m["type"] == "error")
    assert refused["code"] == "replaced"
    async with asyncio.timeout(10):
        await second.connected.wait()
    assert not caller.closed.is_set()  # she stayed on the line throughout
    (bridge,) = server.server.app[BRIDGES]
    assert bridge.legs == 2
    assert await caller_heard_by_officer(caller, second) >= 0.9
    assert await officer_heard_by_caller(caller, second) >= 0.9
    await call.hang_up()
    await second.wait_for(lambda m: m["type"] == "session-ended")
    await second.leave()
    await first.leave()
