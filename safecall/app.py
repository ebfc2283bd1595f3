"""The app factory: one explicit place where routes, middlewares and resources meet.

:func:`create_app` reads top to bottom: the settings and the words the server
speaks (checked against each other: a mistake stops it before it serves),
the routes of each package, then the lifespan (:data:`LIFESPAN`): what starts,
in which order; aiohttp stops them in the reverse order.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

import attachments.store
import cases.api
import cases.reports
import children.routes
import contacts.routes
import contacts.service
import contacts.tracking_routes
import ivr.bridge
import ivr.callback_retries
import ivr.callbacks
import ivr.calls
import ivr.routes
import ivr.signature
import ivr.twilio_api
import ivr.video_leg
import locations.api
import media.routes
import messaging.inbound
import messaging.routes
import officers.routes
import places.routes
import queues.api
import queues.service
import recordings.routes
import recordings.service
import referrals.routes
import referrals.service_key
import replies.api
import signaling.console_feed
import signaling.intake
import signaling.place_in_line
import signaling.routes
from audit.log import AuditLog
from cases.vocabulary import load_districts
from contacts.vocabulary import Vocabulary
from officers.auth import auth_middleware
from queues import config as routing_config
from safecall import app_shell, health, network_probe, pages, response_headers
from safecall.db import create_engine, session_factory, utcnow
from safecall.errors import error_middleware
from safecall.redis_client import redis_client
from safecall.settings import Settings
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, ENGINE, REDIS, ROUTING, SETTINGS
from sealing.data_key import DataKey

Context = Callable[[web.Application], AsyncIterator[None]]


def create_app(settings: Settings, clock: Callable[[], datetime] = utcnow) -> web.Application:
    """The whole server. Resources open on startup and close on cleanup."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware],
        client_max_size=256 * 1024,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[DATA_KEY] = DataKey.load(settings.data_key_file)
    app[ROUTING] = routing_config.load(settings.routing_file)
    app[contacts.service.VOCABULARY] = Vocabulary.build(
        routing_lines=app[ROUTING].lines,
        districts=load_districts(settings.districts_file),
        extra_categories=settings.extra_categories,
    )

    response_headers.setup(app)
    health.setup(app)
    officers.routes.setup(app)
    cases.api.setup(app)
    cases.reports.setup(app)
    contacts.tracking_routes.setup(app)
    contacts.routes.setup(app)
    queues.api.setup(app)
    signaling.routes.setup(app)
    signaling.intake.setup(app)
    signaling.console_feed.setup(app)
    ivr.routes.setup(app)  # checks its menu against the vocabulary
    media.routes.setup(app)
    recordings.routes.setup(app)
    locations.api.setup(app)
    replies.api.setup(app)
    places.routes.setup(app)  # the directory of places, checked against the districts
    attachments.store.setup(app)
    referrals.routes.setup(app)
    children.routes.setup(app)  # missing and found children, matching, alerts, figures
    messaging.routes.setup(app)  # her updates (the texts are checked now)
    messaging.inbound.setup(app)
    pages.setup(app)
    app_shell.setup(app)  # the installable app: manifest, service worker, offline page
    network_probe.setup(app)  # her page times it when her browser does not say

    app.cleanup_ctx.extend(LIFESPAN)
    app.on_shutdown.append(signaling.console_feed.end_feeds)
    app.on_shutdown.append(signaling.routes.drain)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    """The database engine, its sessions and the audit log."""
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url)
    app[ENGINE] = engine
    app[DB] = session_factory(engine)
    app[AUDIT] = AuditLog(app[DB], settings.audit_key_file, clock=app[CLOCK])
    yield
    await app[AUDIT].close()
    await engine.dispose()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    """One shared Redis client for small things (readiness, single-use tokens)."""
    url = app[SETTINGS].redis_url
    if url is None:
        yield
        return
    client = redis_client(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5)
    app[REDIS] = client
    yield
    await client.aclose()


LIFESPAN: list[Context] = [
    _database,  # the engine, sessions, the audit log
    _redis,  # the shared Redis client (when SAFECALL_REDIS_URL is set)
    queues.service.router_context,  # the routing engine and its timeline writer
    signaling.routes.hub_context,  # the signaling hub: sessions, relay, the cross-node bus
    contacts.service.desk_context,  # the contact desk: hears the hub's endings and chat; sweeps
    ivr.calls.sweep_context,  # the sweep asks Twilio whether a phone call is still live
    ivr.calls.later_context,  # a hang-up Twilio told during an outage, tried again
    contacts.service.tracking_context,  # tracking by code, its limits (shared in Redis)
    contacts.service.intake_context,  # how many web contacts may start (shared in Redis)
    signaling.place_in_line.feed_context,  # her place in line, pushed to her page
    signaling.console_feed.feeds_context,  # the consoles' and the wallboard's feeds
    ivr.signature.forgeries_context,  # forged-signature summaries written as windows close
    ivr.twilio_api.client_context,  # Twilio's REST client (when the phone line is on)
    messaging.routes.messenger_context,  # her updates: written from case steps, sent on time
    messaging.inbound.text_context,  # texts to the centre: her side held, answers sent on
    ivr.bridge.listen,  # accepted phone calls moved to the media bridge
    ivr.callback_retries.run,  # unanswered callbacks put back in line
    ivr.callbacks.cancel_rings_context,  # a ring stopped when its officer hangs up
    ivr.video_leg.link_limiter_context,  # the video-link tries limiter, shared in Redis
    media.routes.media_context,  # stream tokens; bridged calls ended at shutdown
    recordings.service.sweeper_context,  # abandoned recordings closed
    referrals.service_key.referrals_context,  # referrals; unacknowledged emergencies escalate
    children.routes.children_context,  # children's reports, matching, the console part, retention
]
"""What starts, in this order (each after what it uses); aiohttp stops them in reverse."""


def settle_heap() -> None:
    """For a serving process, once its app has started: what start-up made (modules, the
    menu, compiled statements: about 160,000 objects) is put out of the garbage
    collector's reach, so that a full collection no longer walks it; that walk took
    about 90 ms, a stall of every webhook and call in the process. Not done by the app
    itself: a test process starts hundreds of apps, and each collection here costs it
    about 80 ms."""
    gc.collect()
    gc.freeze()
