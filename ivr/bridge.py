"""When an officer accepts a waiting phone call, the live call moves to the media bridge.

A background task of the app hears the router's ``accepted`` events. For a
task whose session has a waiting phone call it takes the call (a database
claim, so one process acts even when every process hears the event) and asks
Twilio to run ``<Connect><Stream>`` on it (:func:`ivr.twilio_api.connect_to_bridge`).
When Twilio cannot be reached, the claim is given back: the hold loop's next
turn (:func:`ivr.webhooks.wait`) connects her instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ivr import calls, twilio_api
from queues.events import Event, Kind
from queues.router import CALLBACK_SUFFIX
from queues.service import ROUTER
from safecall.state import SETTINGS

log = logging.getLogger(__name__)


async def bridge(app: web.Application, session_id: str) -> bool:
    """Move the session's waiting call to the bridge; False when there was none to move
    (or the database could not say: the hold loop's next turn connects her)."""
    try:
        call_sid = await calls.claim_bridge(app, session_id)
    except Exception as exc:  # every accept is heard here, a chat's too: never unobserved
        log.warning(
            "phone: could not look for a call to bridge (%s); the hold loop will", _kind(exc)
        )
        return False
    if call_sid is None:
        return False
    try:
        call = await calls.find_call(app, call_sid)
        await twilio_api.connect_to_bridge(
            app,
            call_sid,
            session_id,
            lang=call.language if call else None,
            line=call.line if call else None,
        )
    except Exception:
        log.exception("phone: could not move an accepted call to the bridge; the hold loop will")
        await calls.set_state(app, call_sid, "waiting", was="bridging")
        return False
    await calls.set_state(app, call_sid, "bridged", was="bridging")
    return True


def _kind(exc: BaseException) -> str:
    return type(exc).__name__


def _accepted_call(event: Event) -> str | None:
    if event.kind != Kind.ACCEPTED or not event.task_id or event.task_id.endswith(CALLBACK_SUFFIX):
        return None
    return event.session_id or event.task_id


async def listen(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the router's and the hub's)."""
    if not app[SETTINGS].ivr_enabled:
        yield
        return
    listener = app[ROUTER].listen()
    running: set[asyncio.Task[bool]] = set()

    async def follow() -> None:
        async for event in listener:
            session_id = _accepted_call(event)
            if session_id is not None:
                task = asyncio.create_task(bridge(app, session_id))
                running.add(task)
                task.add_done_callback(running.discard)

    loop = asyncio.create_task(follow(), name="ivr-bridge-listener")
    try:
        yield
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        listener.close()
        if running:
            await asyncio.wait(running, timeout=10)
