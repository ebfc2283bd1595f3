"""The desk inside the server: built once the database, the router and the hub are up;
it hears the hub (endings, chat) and writes them on the contact's case."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from cases.models import ContactSession
from cases.timeline import record_event
from contacts import reopen
from contacts.desk import CHAT_FIELD, Desk
from contacts.intake_limits import IntakeLimits
from contacts.sweep import Sweep
from contacts.tracking import Tracking
from contacts.vocabulary import Vocabulary
from queues.events import Kind
from queues.service import RECOVERY, ROUTER
from safecall.background import Periodic, describe
from safecall.errors import OUTAGES, is_outage
from safecall.ratelimit import InProcessTrackingLimiter, RedisTrackingLimiter, TrackingLimiter
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, ENGINE, REDIS
from signaling.console_feed import ALARM_SOURCES
from signaling.events import ChatPosted, HubEvent, SessionEnded
from signaling.routes import HUB

log = logging.getLogger(__name__)

DESK = web.AppKey("contact_desk", Desk)
VOCABULARY = web.AppKey("vocabulary", Vocabulary)
TRACKING = web.AppKey("tracking", Tracking)
TRACKING_LIMITER: web.AppKey[TrackingLimiter] = web.AppKey("tracking_limiter")
"""The tracking limiter; set it before the app starts to replace the default (tests)."""


INTAKE_LIMITS = web.AppKey("intake_limits", IntakeLimits)


async def intake_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the shared Redis client's): the intake limits, shared
    by every process through Redis when there is one; their alarm on the wallboard."""
    limits = IntakeLimits.shared(app[REDIS]) if REDIS in app else IntakeLimits()
    app[INTAKE_LIMITS] = limits

    async def alarm() -> list[dict[str, object]]:
        tripped = await limits.tripped()
        if tripped is None:
            return []
        message = (
            f"Web contacts are being limited: {tripped.refused} refused in the last "
            "5 minutes (a flood of fake contacts?). Those refused are told to call 15."
        )
        return [{"kind": "intake_limited", "refused": tripped.refused, "message": message}]

    app[ALARM_SOURCES].append(alarm)
    yield


async def tracking_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the database's and the shared Redis client's): the
    tracking service, its limits shared by every process through Redis when there is one."""
    limiter = app.get(TRACKING_LIMITER)
    if limiter is None:
        limiter = RedisTrackingLimiter(app[REDIS]) if REDIS in app else InProcessTrackingLimiter()
        app[TRACKING_LIMITER] = limiter
    app[TRACKING] = Tracking(app[DB], limiter, app[AUDIT], app[CLOCK])
    yield


SWEEP = web.AppKey("contacts_sweep", Sweep)
SWEEP_SECONDS = 5.0
RETRIED: tuple[type[BaseException], ...] = (*OUTAGES, DBAPIError)
RETRY_FOR = 300.0
"""Seconds an ending or a chat message is tried again while the database is down (then the
sweep ends the contact from the session's own ending)."""


async def desk_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the database's, the router's and the hub's): the desk;
    what the hub and the router report (endings, chat, contacts nobody answered in time)
    written on the contact's case, tried again while the database is down; the sweep."""
    desk = Desk(
        db=app[DB],
        engine=app[ENGINE],
        data_key=app[DATA_KEY],
        hub=app[HUB],
        router=app[ROUTER],
        clock=app[CLOCK],
        vocabulary=app[VOCABULARY],
        audit=app[AUDIT],
    )
    app[DESK] = desk
    sweep = Sweep(desk)
    app[SWEEP] = sweep

    async def hear(event: HubEvent) -> None:
        # The hub calls listeners in tasks of its own (never a socket's handler), one
        # session's events in order, and lets them finish before it closes.
        if isinstance(event, SessionEnded):
            await _durably(lambda: desk.end(event.session_id, event.reason), "an ending")
        elif isinstance(event, ChatPosted):
            at = app[CLOCK]()
            await _durably(lambda: _chat(app, event, at), "a chat message")

    app[HUB].add_listener(hear)
    recovery = app.get(RECOVERY)
    if recovery is not None:  # Redis lost the line: the live calls first, then the line
        hub = app[HUB]
        recovery.steps.append(hub.restore)
        recovery.steps.append(lambda: reopen.put_back(desk, recovery))
        sweep.paused = recovery.settling
    missed = asyncio.create_task(_missed(app, desk), name="contacts-missed")
    async with Periodic(
        sweep.step,
        every=SWEEP_SECONDS,
        jitter=0.2,
        name="contacts-sweep",
        failure="contacts: the sweep failed; trying again",
    ):
        yield
    missed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await missed


async def _durably(step: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``step``; while the database (or Redis) is down, again and again, backing off."""
    loop = asyncio.get_running_loop()
    give_up, delay = loop.time() + RETRY_FOR, 0.25
    while True:
        try:
            await step()
            return
        except Exception as exc:
            if not isinstance(exc, RETRIED) and not is_outage(exc):
                log.error("contacts: could not record %s (%s)", what, describe(exc))
                return
            # each write is named once: trying it again is safe
            if loop.time() >= give_up:
                log.error("contacts: could not record %s (%s); the sweep will", what, describe(exc))
                return
            log.warning("contacts: could not record %s yet (%s); trying again", what, describe(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _missed(app: web.Application, desk: Desk) -> None:
    """A browser contact nobody answered before its time in line ran out ends ``missed``,
    and her page is told (her signaling session ends)."""
    listener = app[ROUTER].listen()
    try:
        async for event in listener:
            session_id = event.session_id
            if event.kind != Kind.MISSED or session_id is None or event.task_id != session_id:
                continue  # a callback ring's task is the phone's business

            async def end(session_id: str = session_id) -> None:
                await desk.end_missed(session_id)

            await _durably(end, "a missed contact")
    finally:
        listener.close()


async def _chat(app: web.Application, event: ChatPosted, at: datetime) -> None:
    """The message on her timeline, sealed, once (named by the sender's side and seq)."""
    sealed = app[DATA_KEY].seal(event.text, CHAT_FIELD)
    async with app[DB]() as session, session.begin():
        case_id = await session.scalar(
            select(ContactSession.case_id).where(ContactSession.id == event.session_id)
        )
        if case_id is None:
            return
        await record_event(
            session,
            key=f"chat:{event.session_id}:{event.side}:{event.seq}",
            kind="chat.message",
            at=at,
            session_id=event.session_id,
            case_id=case_id,
            data={"from": event.side, "sealed": base64.b64encode(sealed).decode()},
        )
