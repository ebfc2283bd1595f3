"""Live feeds for the console pages, pushed as Server-Sent Events.

``GET /api/console/events`` (any officer) carries her own state, the offer
ringing for her (with its expiry) and the queue figures; ``GET
/api/wallboard/events`` (supervisors and admins) carries every service line's
figures, the alarms and every officer's state. Both send everything at once
when they open, then each part again whenever it changes: they follow the
routing engine's events (:meth:`queues.router.Router.listen`, every event of
every process), and look again on a short timer for what changes with time
alone (a wrap-up ending, the longest wait growing).

Each message is a whole part (``event: me``, ``figures``, ``lines``,
``officers``, ``alarms``), never a difference: a page that reconnects
(``EventSource`` does it by itself; ``Last-Event-ID`` is not needed) starts
again from the snapshot every connection begins with. A comment line is sent
every ``heartbeat`` seconds so proxies and the page can tell the stream lives;
the login is checked again every ``recheck`` seconds, and a stream whose login
has ended says ``event: logout`` and closes. Nothing here names a complainant.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select

from officers.auth import COOKIE, current_officer, officer_for_token
from officers.models import Officer as OfficerRow
from queues.api import officer_state
from queues.events import Event, Kind
from queues.router import Listener, Router
from queues.service import ROUTER
from queues.stats import LineStats
from safecall.endpoint import MANAGERS, STAFF, endpoint
from safecall.state import CLOCK, DB

log = logging.getLogger(__name__)

Part = dict[str, Any]
Parts = Callable[[], Awaitable[dict[str, Part]]]

_STOP = Event(id="feed-stop", kind="feed_stop", at=0.0)
"""Put in a feed's listener to end it (the server is stopping)."""
_ALERTS_KEPT = 50
_ALERT_SECONDS = 3600.0
"""Supervisor alerts older than this leave the wallboard."""


@dataclass(frozen=True)
class FeedConfig:
    heartbeat: float = 15.0
    """Seconds of silence before a comment line is sent."""
    recheck: float = 30.0
    """Seconds between checks that the login still holds."""
    console_tick: float = 5.0
    """Seconds between looks at an officer's state without an event (a wrap-up ends)."""
    wallboard_tick: float = 1.0
    """Seconds between looks at the wallboard without an event (waits grow)."""
    console_settle: float = 0.0
    """Seconds to let a burst of events pass before an officer's console looks (an offer
    should ring at once; her part is cheap and the figures are shared)."""
    wallboard_settle: float = 0.05
    """The same for the wallboard, which shows every officer."""
    write_timeout: float = 10.0
    """A page that takes no data for this long is disconnected."""
    retry_ms: int = 2000
    """How long ``EventSource`` waits before it reconnects."""


class Figures:
    """The routing engine's figures per line, worked out once for every feed of this process.

    Worked out again only after a routing event (or when the second changes, as waits
    grow): a burst that wakes a hundred consoles costs one computation, not a hundred.
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self.generation = 0
        self._key: tuple[int, int] | None = None
        self._lines: list[LineStats] = []
        router.store.on_events(self._changed)  # after the router's own sink: stats are fresh

    def _changed(self, events: Sequence[Event]) -> None:
        self.generation += 1

    def lines(self) -> list[LineStats]:
        key = (self.generation, int(self.router.clock().timestamp()))
        if key != self._key:
            self._key, self._lines = key, self.router.stats()
        return self._lines


FEED_CONFIG = web.AppKey("console_feed_config", FeedConfig)
FIGURES = web.AppKey("console_feed_figures", Figures)
FEEDS: web.AppKey[set[Listener]] = web.AppKey("console_feeds")
ALERTS: web.AppKey[deque[dict[str, Any]]] = web.AppKey("console_feed_alerts")
AlarmSource = Callable[[], Awaitable[list[dict[str, Any]]]]
ALARM_SOURCES: web.AppKey[list[AlarmSource]] = web.AppKey("console_feed_alarm_sources")
"""More alarms for the wallboard, from the packages that raise them (the intake limits):
each source gives ``{"kind", "message", ...}`` dicts."""
ConsolePart = Callable[[int], Awaitable[dict[str, Part]]]
CONSOLE_PARTS: web.AppKey[list[ConsolePart]] = web.AppKey("console_feed_parts")
"""More parts for an officer's console, from the packages that have something for her (the
children's alerts and candidates): each source is given her id and returns named parts."""


# --- the stream --------------------------------------------------------------------------


class EventStream:
    """One page's ``text/event-stream``: numbered events and keep-alive comments."""

    def __init__(self, request: web.Request, config: FeedConfig) -> None:
        self.request = request
        self.config = config
        self.response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # nginx: pass each event on at once
                "X-Content-Type-Options": "nosniff",
            }
        )
        self.count = 0
        self.last_write = time.monotonic()

    async def open(self) -> None:
        await self.response.prepare(self.request)
        await self._write(f"retry: {self.config.retry_ms}\n\n")

    async def send(self, event: str, data: Mapping[str, Any]) -> None:
        self.count += 1
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        await self._write(f"id: {self.count}\nevent: {event}\ndata: {text}\n\n")

    async def comment(self, text: str) -> None:
        await self._write(f": {text}\n\n")

    @property
    def gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()

    async def _write(self, text: str) -> None:
        async with asyncio.timeout(self.config.write_timeout):
            await self.response.write(text.encode())
        self.last_write = time.monotonic()


async def _still_allowed(request: web.Request, roles: frozenset[str], *, default: bool) -> bool:
    """Whether the stream's login still holds with one of ``roles`` (``default`` when the
    database cannot say: a database blip does not end every console's stream)."""
    token = request.cookies.get(COOKIE, "")
    try:
        async with request.app[DB]() as session:
            officer = await officer_for_token(session, token, request.app[CLOCK]())
    except Exception:
        log.warning("console feed: could not check a login; checking again later")
        return default
    return officer is not None and officer.role in roles


async def _serve(
    request: web.Request,
    roles: frozenset[str],
    tick: float,
    settle: float,
    parts: Parts,
    on_event: Callable[[Event], Mapping[str, Any] | None] | None = None,
) -> web.StreamResponse:
    """Send ``parts()`` at once, then each part again when it changes, until the page goes."""
    app = request.app
    config = app[FEED_CONFIG]
    stream = EventStream(request, config)
    listener = app[ROUTER].listen()
    app[FEEDS].add(listener)
    shown: dict[str, str] = {}
    checked = time.monotonic()
    try:
        await stream.open()
        while not stream.gone:
            for name, data in (await parts()).items():
                # The server's clock moves on; only a change in what she sees is news.
                seen = {key: value for key, value in data.items() if key != "server_time"}
                text = json.dumps(seen, sort_keys=True)
                if shown.get(name) != text:
                    shown[name] = text
                    await stream.send(name, data)
            events = await _next_events(listener, tick, settle)
            if _STOP in events:
                break
            if on_event is not None:
                for event in events:
                    notice = on_event(event)
                    if notice is not None:
                        await stream.send(event.kind, notice)
            now = time.monotonic()
            if now - checked >= config.recheck:
                checked = now
                if not await _still_allowed(request, roles, default=True):
                    await stream.send("logout", {"message": "Your login has ended; log in again."})
                    break
            if now - stream.last_write >= config.heartbeat:
                await stream.comment("keep-alive")
    except (ConnectionError, TimeoutError):
        pass  # the page went away or stopped reading
    except Exception:
        # Ends this stream only; the page reconnects and starts again from a snapshot.
        log.exception("console feed: a stream failed")
    finally:
        app[FEEDS].discard(listener)
        listener.close()
    return stream.response


async def _next_events(listener: Listener, tick: float, settle: float) -> list[Event]:
    """The events of the next burst (waiting up to ``tick`` for the first); [] on a tick."""
    try:
        async with asyncio.timeout(tick):
            first = await listener.next()
    except TimeoutError:
        return []
    if first is not _STOP:
        await asyncio.sleep(settle)
    events = [first]
    while not listener.queue.empty():
        events.append(listener.queue.get_nowait())
    return events


# --- what the parts hold -----------------------------------------------------------------


def queue_figures(lines: list[LineStats]) -> Part:
    """What an officer's console shows of the queues: waiting and expected wait per line."""
    return {
        "lines": [
            {
                "line": line.line,
                "waiting": line.waiting,
                "estimated_wait": _seconds(line.estimated_wait),
                "staffed": line.staffed,
                "alarm": line.alarm,
            }
            for line in lines
        ]
    }


def line_figures(router: Router, stats: list[LineStats]) -> Part:
    """The wallboard's figures per service line."""
    lines = []
    for line in stats:
        lines.append(
            {
                "line": line.line,
                "female_only": router.config.female_only(line.line),
                "waiting": line.waiting,
                "longest_wait": _seconds(line.longest_wait),
                "estimated_wait": _seconds(line.estimated_wait),
                "staffed": line.staffed,
                "officers": dict(line.officers),
                "answered": line.answered,
                "abandoned": line.abandoned,
                "missed": line.missed,
                "service_level": line.service_level,
                "abandonment_rate": line.abandonment_rate,
                "average_wait": _seconds(line.average_wait),
                "alarm": line.alarm,
            }
        )
    return {
        "lines": lines,
        "service_level_seconds": router.config.service_level,
        "window_seconds": router.config.stats_window,
    }


def alarms(router: Router, stats: list[LineStats], alerts: deque[dict[str, Any]]) -> Part:
    """Lines where tasks wait with nobody present who may answer them; recent alerts."""
    now = router.clock().timestamp()
    raised: list[dict[str, Any]] = []
    for line in stats:
        if line.alarm:
            who = "female officer" if router.config.female_only(line.line) else "officer"
            raised.append(
                {
                    "kind": "nobody_eligible",
                    "line": line.line,
                    "waiting": line.waiting,
                    "message": f"{line.line.capitalize()} line: {line.waiting} waiting, and no "
                    f"{who} of this line is on duty.",
                }
            )
    recent = [alert for alert in alerts if now - alert["at"] <= _ALERT_SECONDS]
    return {"alarms": raised, "alerts": list(reversed(recent))}


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value)


# --- the officer's console ---------------------------------------------------------------


@endpoint(
    "Her console's live feed (Server-Sent Events): `me` (presence, state, the offer ringing "
    "with its expiry, contacts held), `figures` (waiting per line), `children` (alerts "
    "waiting for her, candidates for the reports she filed), `page` (a supervisor calls "
    "her), `logout`; all at once on connect, then on every change.",
    roles=STAFF,
    content_type="text/event-stream",
    tags=["queues"],
)
async def console_events(request: web.Request) -> web.StreamResponse:
    router = request.app[ROUTER]
    officer_id = current_officer(request).id

    async def parts() -> dict[str, Part]:
        figures = queue_figures(request.app[FIGURES].lines())
        found: dict[str, Part] = {"me": officer_state(router, officer_id), "figures": figures}
        for source in request.app[CONSOLE_PARTS]:
            found.update(await source(officer_id))
        return found

    def paged(event: Event) -> Mapping[str, Any] | None:
        if event.kind == Kind.PAGE and event.officer_id == officer_id:
            return {"message": "A supervisor asks you to come to the queue.", "at": event.at}
        return None

    config = request.app[FEED_CONFIG]
    return await _serve(request, STAFF, config.console_tick, config.console_settle, parts, paged)


# --- the wallboard -----------------------------------------------------------------------


@endpoint(
    "The wallboard's live feed (Server-Sent Events, supervisors and admins): `lines` "
    "(figures per service line), `alarms` (nobody eligible for waiting contacts; officers "
    "put on break after missed offers), `officers` (every officer's state); all at once on "
    "connect, then on every change.",
    roles=MANAGERS,
    content_type="text/event-stream",
    tags=["queues"],
)
async def wallboard_events(request: web.Request) -> web.StreamResponse:
    app = request.app
    router = app[ROUTER]
    names: dict[int, tuple[str, str]] = {}

    async def officers() -> Part:
        board = router.board
        missing = [oid for oid in board.officers if oid not in names]
        if missing:
            async with app[DB]() as session:
                rows = await session.execute(
                    select(OfficerRow.id, OfficerRow.name, OfficerRow.badge).where(
                        OfficerRow.id.in_(missing)
                    )
                )
                for oid, name, badge in rows:
                    names[oid] = (name, badge)
        now = router.clock().timestamp()
        listed = []
        for officer in board.officers.values():
            name, badge = names.get(officer.id, (f"Officer {officer.id}", ""))
            listed.append(
                {
                    "id": officer.id,
                    "name": name,
                    "badge": badge,
                    "gender": officer.profile.gender,
                    "lines": sorted(officer.profile.lines),
                    "state": str(officer.state(now)),
                    "load": officer.load,
                    "capacity": officer.capacity,
                }
            )
        listed.sort(key=lambda o: (o["state"] == "offline", o["name"], o["id"]))
        return {"officers": listed}

    async def parts() -> dict[str, Part]:
        stats = app[FIGURES].lines()
        raised = alarms(router, stats, app[ALERTS])
        for source in app[ALARM_SOURCES]:
            raised["alarms"] = [*raised["alarms"], *await source()]
        return {
            "lines": line_figures(router, stats),
            "alarms": raised,
            "officers": await officers(),
        }

    config = app[FEED_CONFIG]
    return await _serve(request, MANAGERS, config.wallboard_tick, config.wallboard_settle, parts)


# --- life --------------------------------------------------------------------------------


async def feeds_context(app: web.Application) -> AsyncIterator[None]:
    """The shared figures, and the recent supervisor alerts kept for the wallboard."""
    alerts = app[ALERTS]
    app[FIGURES] = Figures(app[ROUTER])
    names: dict[int, str] = {}
    listener = app[ROUTER].listen()

    async def keep() -> None:
        while True:
            event = await listener.next()
            if event.kind != Kind.SUPERVISOR_ALERT or event.officer_id is None:
                continue
            oid = event.officer_id
            if oid not in names:
                try:
                    async with app[DB]() as session:
                        row = await session.get(OfficerRow, oid)
                except Exception:
                    log.exception("wallboard: could not name an officer")
                    row = None
                names[oid] = row.name if row is not None else f"Officer {oid}"
            missed = event.data.get("missed")
            alerts.append(
                {
                    "kind": str(event.data.get("reason", "alert")),
                    "officer_id": oid,
                    "at": event.at,
                    "message": f"{names[oid]} missed {missed} offers in a row and was put "
                    "on a break.",
                }
            )

    task = asyncio.create_task(keep(), name="wallboard-alerts")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    listener.close()


async def end_feeds(app: web.Application) -> None:
    feeds: set[Listener] = app[FEEDS]
    for listener in list(feeds):
        listener.queue.put_nowait(_STOP)


def setup(app: web.Application) -> None:
    app[FEED_CONFIG] = FeedConfig()
    app[FEEDS] = set()
    app[ALERTS] = deque(maxlen=_ALERTS_KEPT)
    app[ALARM_SOURCES] = []
    app[CONSOLE_PARTS] = []
    app.router.add_get("/api/console/events", console_events)
    app.router.add_get("/api/wallboard/events", wallboard_events)
