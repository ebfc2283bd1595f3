"""The desk inside the server: built once the database, the router and the hub are up;
it hears the hub (endings, chat) and writes them on the contact's case."""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select

from cases.models import ContactSession
from cases.timeline import record_event
from contacts.desk import CHAT_FIELD, Desk
from contacts.intake_limits import IntakeLimits
from contacts.tracking import Tracking
from contacts.vocabulary import Vocabulary
from queues.service import ROUTER
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


async def desk_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the database's, the router's and the hub's)."""
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

    async def hear(event: HubEvent) -> None:
        # The hub calls listeners in tasks of its own (never a socket's handler) and lets
        # them finish before it closes.
        try:
            if isinstance(event, SessionEnded):
                await desk.end(event.session_id, event.reason)
            elif isinstance(event, ChatPosted):
                await _chat(app, event)
        except Exception:
            log.exception("contacts: could not record a %s", type(event).__name__)

    app[HUB].add_listener(hear)
    yield


async def _chat(app: web.Application, event: ChatPosted) -> None:
    sealed = app[DATA_KEY].seal(event.text, CHAT_FIELD)
    async with app[DB]() as session, session.begin():
        case_id = await session.scalar(
            select(ContactSession.case_id).where(ContactSession.id == event.session_id)
        )
        if case_id is None:
            return
        await record_event(
            session,
            key=f"chat:{event.session_id}:{secrets.token_hex(8)}",
            kind="chat.message",
            at=app[CLOCK](),
            session_id=event.session_id,
            case_id=case_id,
            data={"from": event.side, "sealed": base64.b64encode(sealed).decode()},
        )
