"""The queues over HTTP: live statistics, an officer's state and offers, supervisors' moves.

An officer's console learns of offers from the router's events (the signaling
layer pushes them); these endpoints are how she answers, and how a page that
reconnects learns where she stands (``GET /api/queues/me``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from officers.auth import current_officer
from officers.models import Officer as OfficerRow
from queues.model import OfficerProfile, Presence, TaskStatus
from queues.router import Placement, Refused, Router
from queues.service import RECOVERY, ROUTER
from queues.stats import LineStats
from queues.store import Rebuilding
from safecall.endpoint import MANAGERS, STAFF, endpoint
from safecall.errors import ApiError, read_body
from safecall.state import AUDIT, DB, client_address

TAGS = ["queues"]
TASK_ERRORS = ["unknown_task", "ended", "answered", "not_offered", "offer_expired", "not_yours"]


# --- models ------------------------------------------------------------------------------


class WaitingTaskOut(BaseModel):
    task_id: str
    position: int
    waited: float
    priority: int
    channel: str
    status: str
    estimated_wait: float | None


class LineStatsOut(BaseModel):
    line: str
    waiting: int
    longest_wait: float
    estimated_wait: float | None = Field(
        description="Seconds for a new task; null when nobody who may answer is present."
    )
    alarm: bool = Field(description="Tasks wait and no officer who may answer them is present.")
    staffed: int
    officers: dict[str, int]
    answered: int
    abandoned: int
    missed: int
    service_level: float | None
    abandonment_rate: float | None
    average_wait: float | None
    tasks: list[WaitingTaskOut] = Field(
        description="Waiting tasks in order; empty on a line the caller is not on (admins "
        "see every line's)."
    )


class StatsOut(BaseModel):
    lines: list[LineStatsOut]


class OfferOut(BaseModel):
    task_id: str
    line: str
    channel: str
    language: str | None
    category: str | None
    silent: bool
    callback: bool = Field(description="A callback: she asked to be rung back.")
    emergency: bool = Field(
        default=False, description="At the emergency priority (an SOS, the phone menu's)."
    )
    expires: float = Field(description="Seconds since the epoch.")


class MeOut(BaseModel):
    officer_id: int
    presence: str
    state: str
    offer: OfferOut | None
    tasks: list[str] = Field(description="Tasks she holds (session ids).")
    server_time: float = Field(description="The server's clock, seconds since the epoch.")
    confirm: bool = Field(
        default=False,
        description="She is asked whether she is still available (the queues were rebuilt "
        "after a restart and put her offline): POST /api/queues/me/confirm.",
    )


class ColleagueOut(BaseModel):
    officer_id: int
    name: str
    badge: str
    state: str = Field(description="available, busy, wrap_up, offered or break.")
    lines: list[str]
    gender: str = Field(description="A women's-line contact goes only to a female officer.")


class ColleaguesOut(BaseModel):
    officers: list[ColleagueOut]


class StateIn(BaseModel):
    state: Literal["available", "break", "offline"]


class PlacementOut(BaseModel):
    task_id: str
    status: str
    position: int | None
    estimated_wait: float | None
    officer_id: int | None


class TransferIn(BaseModel):
    line: str | None = Field(default=None, max_length=16)
    officer_id: int | None = None


class MoveIn(BaseModel):
    line: str | None = Field(default=None, max_length=16)
    officer_id: int | None = None
    priority: int | None = Field(default=None, ge=0, le=999)
    callback: bool = Field(default=False, description="Move her to a callback (if safe).")


# --- helpers -----------------------------------------------------------------------------


def _router(request: web.Request) -> Router:
    return request.app[ROUTER]


def profile_of(officer: OfficerRow) -> OfficerProfile:
    """The routing profile of an officer row."""
    try:
        return OfficerProfile(
            id=officer.id,
            gender=officer.gender,
            lines=frozenset(officer.lines or ()),
            languages=frozenset(officer.languages or ()),
            skills=dict(officer.skills or {}),
            district=officer.district,
        )
    except ValueError:
        raise ApiError(
            409,
            "profile_invalid",
            "Your officer profile cannot be used for routing; ask an admin to check it.",
        ) from None


def officer_state(router: Router, officer_id: int) -> dict[str, Any]:
    """Her presence, what she is doing, the offer ringing for her, the contacts she holds
    (``GET /api/queues/me`` and the console feed's ``me``)."""
    now = router.clock().timestamp()
    officer = router.officer(officer_id)
    state: dict[str, Any] = {
        "officer_id": officer_id,
        "presence": str(Presence.OFFLINE),
        "state": "offline",
        "offer": None,
        "tasks": [],
        "server_time": now,
        "confirm": officer_id in router.asked,
    }
    if officer is None:
        return state
    task = router.board.tasks.get(officer.offer) if officer.offer else None
    if task is not None and task.status == TaskStatus.OFFERED and task.officer == officer_id:
        state["offer"] = {
            "task_id": task.id,
            "line": task.line,
            "channel": task.channel,
            "language": task.language,
            "category": task.category,
            "silent": task.silent,
            "callback": task.is_callback,
            "emergency": task.priority >= router.config.emergency_priority,
            "expires": task.offer_expires,
        }
    state["tasks"] = sorted(
        t.id
        for t in router.board.tasks.values()
        if t.officer == officer_id and t.status == TaskStatus.ASSIGNED
    )
    state["presence"], state["state"] = str(officer.presence), str(officer.state(now))
    return state


def _placement(placement: Placement) -> web.Response:
    return web.json_response(
        {
            "task_id": placement.task_id,
            "status": placement.status,
            "position": placement.position,
            "estimated_wait": placement.estimated_wait,
            "officer_id": placement.officer_id,
        }
    )


def _line_stats(stats: LineStats, *, shown: bool) -> dict[str, object]:
    return {
        "line": stats.line,
        "waiting": stats.waiting,
        "longest_wait": stats.longest_wait,
        "estimated_wait": stats.estimated_wait,
        "alarm": stats.alarm,
        "staffed": stats.staffed,
        "officers": stats.officers,
        "answered": stats.answered,
        "abandoned": stats.abandoned,
        "missed": stats.missed,
        "service_level": stats.service_level,
        "abandonment_rate": stats.abandonment_rate,
        "average_wait": stats.average_wait,
        "tasks": [
            {
                "task_id": t.task_id,
                "position": t.position,
                "waited": t.waited,
                "priority": t.priority,
                "channel": t.channel,
                "status": t.status,
                "estimated_wait": t.estimated_wait,
            }
            for t in (stats.tasks if shown else ())
        ],
    }


async def _audit(
    request: web.Request, officer_id: int, action: str, task_id: str, **detail: object
) -> None:
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer_id,
        action=action,
        object_type="session",
        object_id=task_id,
        address=client_address(request),
        detail={k: v for k, v in detail.items() if v is not None},
    )


# --- handlers ----------------------------------------------------------------------------


@endpoint(
    "Live statistics per service line, with every waiting task's place on the lines the "
    "caller is on (an officer or a supervisor: her own lines; an admin: every line). "
    "The figures of the other lines come without their tasks.",
    roles=STAFF,
    response=StatsOut,
    tags=TAGS,
)
async def stats(request: web.Request) -> web.Response:
    officer = current_officer(request)
    lines = _router(request).stats(with_tasks=True)
    return web.json_response(
        {"lines": [_line_stats(line, shown=_sees_tasks(officer, line.line)) for line in lines]}
    )


def _sees_tasks(officer: OfficerRow, line: str) -> bool:
    """Whether she may see the waiting tasks' ids of a line: only of her own lines (a
    supervisor's are the lines she supervises), every line for an admin."""
    return officer.role == "admin" or line in officer.lines


@endpoint(
    "Where the logged-in officer stands: presence, state, pending offer, tasks held.",
    roles=STAFF,
    response=MeOut,
    tags=TAGS,
)
async def me(request: web.Request) -> web.Response:
    return web.json_response(officer_state(_router(request), current_officer(request).id))


@endpoint(
    "Go available (also ends wrap-up), on break, or offline. Going away withdraws an offer.",
    roles=STAFF,
    body=StateIn,
    response=MeOut,
    errors=["profile_invalid"],
    tags=TAGS,
)
async def set_state(request: web.Request) -> web.Response:
    body = await read_body(request, StateIn)
    row = current_officer(request)
    router = _router(request)
    profile = profile_of(row)
    await router.register(profile)
    await router.set_presence(row.id, Presence(body.state))
    recovery = request.app.get(RECOVERY)
    if recovery is not None and row.id in router.asked:
        await recovery.confirm(row.id)  # she chose: no longer asked
    return web.json_response(officer_state(router, row.id))


@endpoint(
    "Yes, still here: after the queues were rebuilt (a restart) she is asked whether she is "
    "still available; this puts her back as she was (available or on break). Harmless when "
    "she was not asked.",
    roles=STAFF,
    response=MeOut,
    errors=["profile_invalid", "redis_reset"],
    tags=TAGS,
)
async def confirm_presence(request: web.Request) -> web.Response:
    row = current_officer(request)
    router = _router(request)
    recovery = request.app.get(RECOVERY)
    if recovery is not None:
        if recovery.rebuilding:
            raise Rebuilding()
        before = await recovery.confirm(row.id)
        if before is not None:
            await router.register(profile_of(row))
            await router.set_presence(row.id, before)
    return web.json_response(officer_state(router, row.id))


async def _her_step(
    request: web.Request, step: Callable[[str, int], Awaitable[object]]
) -> web.Response:
    """Run ``step(task_id, officer_id)`` for the logged-in officer; where the task stands."""
    task_id = request.match_info["task_id"]
    await step(task_id, current_officer(request).id)
    return _placement(_router(request).placement(task_id))


@endpoint(
    "Accept the contact offered to you: you are busy with it.",
    roles=STAFF,
    response=PlacementOut,
    errors=TASK_ERRORS,
    tags=TAGS,
)
async def accept(request: web.Request) -> web.Response:
    return await _her_step(request, _router(request).accept)


@endpoint(
    "Decline the contact offered to you: it goes back to its place in line.",
    roles=STAFF,
    response=PlacementOut,
    errors=TASK_ERRORS,
    tags=TAGS,
)
async def decline(request: web.Request) -> web.Response:
    return await _her_step(request, _router(request).decline)


@endpoint(
    "Finish a contact you hold: it ends, your wrap-up starts.",
    roles=STAFF,
    response=PlacementOut,
    errors=TASK_ERRORS,
    tags=TAGS,
)
async def complete(request: web.Request) -> web.Response:
    return await _her_step(request, _router(request).complete)


@endpoint(
    "Pass a contact you hold to another service line or a named officer.",
    roles=STAFF,
    body=TransferIn,
    response=PlacementOut,
    errors=[
        *TASK_ERRORS,
        "unknown_line",
        "unknown_officer",
        "hard_rule",
        "female_only_line",
        "officer_not_free",
    ],
    tags=TAGS,
)
async def transfer(request: web.Request) -> web.Response:
    body = await read_body(request, TransferIn)
    if body.line is None and body.officer_id is None:
        raise ApiError(400, "invalid_body", "Give a line or an officer_id to transfer to.")
    task_id = request.match_info["task_id"]
    officer = current_officer(request)
    placement = await _router(request).transfer(
        task_id, officer.id, line=body.line, to_officer=body.officer_id
    )
    await _audit(
        request, officer.id, "session.transfer", task_id, line=body.line, to=body.officer_id
    )
    return _placement(placement)


@endpoint(
    "Supervisor: move a contact not yet answered (line, officer, priority, or to a callback).",
    roles=MANAGERS,
    body=MoveIn,
    response=PlacementOut,
    errors=[
        *TASK_ERRORS,
        "unknown_line",
        "unknown_officer",
        "hard_rule",
        "female_only_line",
        "officer_not_free",
        "not_callback_safe",
    ],
    tags=TAGS,
)
async def move(request: web.Request) -> web.Response:
    body = await read_body(request, MoveIn)
    task_id = request.match_info["task_id"]
    supervisor = current_officer(request)
    router = _router(request)
    if body.callback:
        if body.line is not None or body.officer_id is not None or body.priority is not None:
            raise ApiError(400, "invalid_body", "A move to a callback takes nothing else.")
        callback = await router.to_callback(task_id, by=supervisor.id)
        placement = router.placement(callback.id)
    elif body.line is None and body.officer_id is None and body.priority is None:
        raise ApiError(400, "invalid_body", "Give a line, an officer_id, a priority or callback.")
    else:
        placement = await router.move(
            task_id,
            by=supervisor.id,
            line=body.line,
            to_officer=body.officer_id,
            priority=body.priority,
        )
    await _audit(
        request,
        supervisor.id,
        "session.move",
        task_id,
        line=body.line,
        to=body.officer_id,
        priority=body.priority,
        callback=body.callback,
    )
    return _placement(placement)


@endpoint(
    "Supervisor: ask an officer, on her console, to come to the queue.",
    roles=MANAGERS,
    status=204,
    errors=["unknown_officer"],
    tags=TAGS,
)
async def page(request: web.Request) -> web.Response:
    try:
        officer_id = int(request.match_info["officer_id"])
    except ValueError:
        raise ApiError(400, "invalid_path", "The officer id must be a whole number.") from None
    try:
        await _router(request).page(officer_id, by=current_officer(request).id)
    except Refused as exc:
        raise ApiError(404, exc.code, "That officer has not been on the queue console.") from None
    return web.Response(status=204)


@endpoint(
    "Officers on duty (not offline) other than you: whom a console may transfer a contact to.",
    roles=STAFF,
    response=ColleaguesOut,
    tags=TAGS,
)
async def colleagues(request: web.Request) -> web.Response:
    router = _router(request)
    me_id = current_officer(request).id
    now = router.clock().timestamp()
    present = {
        o.id: o
        for o in router.board.officers.values()
        if o.presence != Presence.OFFLINE and o.id != me_id
    }
    listed: list[dict[str, Any]] = []
    if present:
        async with request.app[DB]() as session:
            rows = await session.scalars(
                select(OfficerRow).where(OfficerRow.id.in_(present)).order_by(OfficerRow.name)
            )
            for row in rows:
                officer = present[row.id]
                listed.append(
                    {
                        "officer_id": row.id,
                        "name": row.name,
                        "badge": row.badge,
                        "state": str(officer.state(now)),
                        "lines": sorted(officer.profile.lines),
                        "gender": officer.profile.gender,
                    }
                )
    return web.json_response({"officers": listed}, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/queues/officers", colleagues)
    app.router.add_get("/api/queues/stats", stats)
    app.router.add_get("/api/queues/me", me)
    app.router.add_post("/api/queues/me/state", set_state)
    app.router.add_post("/api/queues/me/confirm", confirm_presence)
    app.router.add_post("/api/queues/offers/{task_id}/accept", accept)
    app.router.add_post("/api/queues/offers/{task_id}/decline", decline)
    app.router.add_post("/api/queues/tasks/{task_id}/complete", complete)
    app.router.add_post("/api/queues/tasks/{task_id}/transfer", transfer)
    app.router.add_post("/api/queues/tasks/{task_id}/move", move)
    app.router.add_post("/api/queues/officers/{officer_id}/page", page)
