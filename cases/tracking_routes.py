"""Public tracking by code: ``POST /api/track``.

She sends her 12-digit code (spaces, dashes and Urdu digits allowed) and,
if she set one, her PIN. The answer is the public view
(:mod:`cases.public_view`). A code with a wrong check digit and a code no
case has get the very same answer (404 ``tracking_code_unknown``, same
sentence, same headers, the same database lookup), so the answer never
tells a guesser which codes are well-formed. Lookups are rate-limited
(:mod:`safecall.ratelimit`), mostly by misses; PIN attempts per case with
growing delays. Each successful lookup is audited (actor ``public``); the
code itself is never logged. Every answer carries ``Cache-Control:
no-store``: nothing of it may stay on a shared phone.
"""

from __future__ import annotations

import asyncio
import math
from functools import cache

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cases.models import Case
from cases.public_view import PublicCase, build, visible_events
from cases.tracking_code import is_valid, normalise
from safecall.endpoint import endpoint
from safecall.errors import ApiError, read_body
from safecall.ratelimit import InProcessTrackingLimiter, Refusal, TrackingLimiter
from safecall.state import AUDIT, CLOCK, DB, client_address

TRACKING_LIMITER: web.AppKey[TrackingLimiter] = web.AppKey("tracking_limiter")
"""The limiter in use; replace it before the app starts (e.g. a Redis-backed one)."""

NO_STORE = {"Cache-Control": "no-store"}
UNKNOWN_MESSAGE = "No case has this tracking code. Check the 12 digits and try again."

LOOKUPS = Counter(
    "safecall_tracking_lookups",
    "Public tracking lookups by result.",
    ["result"],  # hit | miss | invalid | refused | pin_wrong
)

# Urdu and Arabic keyboards type these digits; a code is the same number either way.
_DIGITS = str.maketrans(
    {chr(0x06F0 + i): str(i) for i in range(10)} | {chr(0x0660 + i): str(i) for i in range(10)}
)


class TrackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        description="The 12-digit tracking code; spaces and dashes are allowed.",
        examples=["1234 5678 9012"],
    )
    pin: str | None = Field(
        default=None,
        max_length=64,
        description="Her PIN, if she set one: unlocks the FIR number and her timeline.",
    )


@endpoint(
    "Track a case by its code: coarse status, and with the right PIN her timeline.",
    public=True,
    body=TrackRequest,
    response=PublicCase,
    errors=["invalid_tracking_code", "tracking_code_unknown", "pin_wrong", "too_many_attempts"],
    tags=["tracking"],
)
async def track(request: web.Request) -> web.Response:
    body = await read_body(request, TrackRequest)
    app = request.app
    limiter = app[TRACKING_LIMITER]
    now = app[CLOCK]()
    address = client_address(request)

    refusal = await limiter.admit(address, now)
    if refusal is not None:
        LOOKUPS.labels("refused").inc()
        raise too_many(refusal)
    code = normalise(_plain(body.code))
    if code is None:
        LOOKUPS.labels("invalid").inc()
        raise ApiError(400, "invalid_tracking_code", "A tracking code has 12 digits.", NO_STORE)

    # The lookup runs for every well-formed code, right check digit or not,
    # so both kinds of miss take the same path and the same time.
    async with app[DB]() as session:
        case = (
            await session.execute(select(Case).where(Case.tracking_code == code))
        ).scalar_one_or_none()
    if case is None or not is_valid(code):
        if is_valid(code):  # a wrong check digit is a typo, not a guess: see ratelimit
            await limiter.record_miss(address, now)
        LOOKUPS.labels("miss").inc()
        raise ApiError(404, "tracking_code_unknown", UNKNOWN_MESSAGE, NO_STORE)

    pin = _plain(body.pin or "").strip() or None
    events = None
    if pin is not None:
        await _check_pin(request, case, pin)
        async with app[DB]() as session:
            events = await visible_events(session, case.id)

    await app[AUDIT].record(
        actor_kind="public",
        officer_id=None,
        action="case.track",
        object_type="case",
        object_id=str(case.id),
        # Her address is not kept: anonymous means anonymous, even in the audit log.
        address=None,
        detail={"pin": pin is not None},
    )
    LOOKUPS.labels("hit").inc()
    return web.json_response(build(case, events).model_dump(mode="json"), headers=NO_STORE)


async def _check_pin(request: web.Request, case: Case, pin: str) -> None:
    """Return when ``pin`` is the case's PIN; raise 429 or 403 otherwise."""
    limiter = request.app[TRACKING_LIMITER]
    key = f"case:{case.id}"
    attempt = await limiter.pin_attempt(key, request.app[CLOCK]())
    if attempt.refused is not None:
        LOOKUPS.labels("refused").inc()
        raise too_many(attempt.refused)
    if await asyncio.to_thread(_pin_matches, case.pin_hash, pin):
        await limiter.pin_correct(key)
        return
    await request.app[AUDIT].record(
        actor_kind="public",
        officer_id=None,
        action="case.track_pin_wrong",
        object_type="case",
        object_id=str(case.id),
        address=None,
    )
    LOOKUPS.labels("pin_wrong").inc()
    message = "That PIN is not right for this case."
    headers = dict(NO_STORE)
    if attempt.wait_if_wrong > 0:
        message += f" You can try again {when(attempt.wait_if_wrong)}."
        headers["Retry-After"] = Refusal(attempt.wait_if_wrong, "case").retry_after_header
    raise ApiError(403, "pin_wrong", message, headers)


def too_many(refusal: Refusal) -> ApiError:
    """The 429 for a refusal, with Retry-After and a sentence saying when to try again."""
    reason = {
        "address": "There have been too many tries from your network.",
        "everyone": "Tracking is paused for a while because of unusual traffic.",
        "case": "There have been too many wrong PINs for this case.",
    }[refusal.scope]
    return ApiError(
        429,
        "too_many_attempts",
        f"{reason} Please try again {when(refusal.retry_after)}.",
        {**NO_STORE, "Retry-After": refusal.retry_after_header},
    )


def when(seconds: float) -> str:
    """``in a minute``, ``in 5 minutes``, ``in 2 hours``: roughly, never sooner than true."""
    minutes = math.ceil(seconds / 60)
    if minutes <= 1:
        return "in a minute"
    if minutes < 120:
        return f"in {minutes} minutes"
    return f"in {math.ceil(minutes / 60)} hours"


def _plain(typed: str) -> str:
    """Urdu/Arabic digits as ASCII, any kind of space as a plain space."""
    return "".join(" " if c.isspace() else c for c in typed.translate(_DIGITS))


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _decoy_hash() -> str:
    # Checked when the case has no PIN, so that takes as long as a wrong PIN.
    return _hasher().hash("no pin was set for this case")


def _pin_matches(pin_hash: str | None, pin: str) -> bool:
    try:
        return _hasher().verify(pin_hash or _decoy_hash(), pin) and pin_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def setup(app: web.Application) -> None:
    app[TRACKING_LIMITER] = InProcessTrackingLimiter()
    app.router.add_post("/api/track", track)
