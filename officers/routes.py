"""Login, logout, who am I, and officer management.

A failed login gets one answer whatever went wrong (unknown badge, wrong
password, disabled officer), and an unknown badge costs the same argon2
verify as a known one, so neither the answer nor its timing tells which
badges exist. Each attempt is admitted by the throttle before its password is
checked (:mod:`officers.throttle`); a browser she has logged in from before is
counted apart from strangers (:mod:`officers.devices`).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlalchemy import select

from officers import devices, throttle, totp
from officers.auth import (
    COOKIE,
    LOGINS,
    RecentLogins,
    current_officer,
    end_all_logins,
    end_login,
    forget_expired,
    officer_for_token,
    start_login,
)
from officers.models import Officer
from officers.passwords import check_password, hash_password_async, needs_rehash
from officers.schemas import LoginBody, OfficerList, OfficerProfile
from safecall.endpoint import ADMIN, MANAGERS, STAFF, endpoint
from safecall.errors import ApiError, read_body
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, SETTINGS, client_address

TAGS = ["officers"]


def normalise_badge(badge: str) -> str:
    """Badges are compared trimmed and upper-case (``b-101`` logs in as ``B-101``)."""
    return badge.strip().upper()


def profile(officer: Officer) -> dict[str, object]:
    return OfficerProfile.model_validate(officer.public()).model_dump(mode="json")


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{-(-seconds // 60)} minutes"


@endpoint(
    "Log in with badge and password (and the TOTP code when enrolled); sets the session cookie "
    "and the device cookie that keeps strangers' wrong passwords from delaying this browser.",
    public=True,
    body=LoginBody,
    response=OfficerProfile,
    errors=[
        "login_failed",
        "login_throttled",
        "login_busy",
        "totp_required",
        "totp_invalid",
        "bad_origin",
    ],
    statuses=[401],
    tags=TAGS,
)
async def login(request: web.Request) -> web.Response:
    body = await read_body(request, LoginBody)
    badge = normalise_badge(body.badge)
    address = client_address(request)
    now = request.app[CLOCK]()
    secret = devices.signing_key(request.app[DATA_KEY])
    device = devices.recognised(request.cookies.get(devices.COOKIE), badge, secret, now)
    account = throttle.device_key(device) if device else throttle.account_key(badge)
    keys = [(account, throttle.ACCOUNT), (throttle.address_key(address), throttle.ADDRESS)]

    async with request.app[DB].begin() as session:
        refused = await throttle.begin_attempt(session, keys, now)
    if refused is not None:
        raise _throttled(refused)
    outcome = throttle.Outcome.FAILED
    try:
        officer = await _check(request, body, badge, now)
        outcome = throttle.Outcome.SUCCEEDED
    except _PasswordRight:
        outcome = throttle.Outcome.NOT_FAILED
        raise ApiError(
            401, "totp_required", "Enter the 6-digit code from your authenticator."
        ) from None
    finally:
        async with request.app[DB].begin() as session:
            await throttle.end_attempt(session, keys, outcome, now)

    new_hash = None
    if needs_rehash(officer.password_hash):
        new_hash = await hash_password_async(body.password)
    settings = request.app[SETTINGS]
    async with request.app[DB].begin() as session:
        await forget_expired(session, officer.id, now)
        if new_hash is not None:
            stored = await session.get(Officer, officer.id)
            if stored is not None:
                stored.password_hash = new_hash
        token = await start_login(session, officer, address, now, settings.session_hours)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="login.success",
        object_type="officer",
        object_id=str(officer.id),
        address=address,
        detail={"second_factor": officer.totp_sealed is not None},
    )
    response = web.json_response(profile(officer))
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=settings.secure_cookies,
    )
    response.set_cookie(
        devices.COOKIE,
        devices.remember(request.cookies.get(devices.COOKIE), badge, secret, now),
        max_age=devices.MAX_AGE_DAYS * 86_400,
        path=devices.COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=settings.secure_cookies,
    )
    return response


class _PasswordRight(Exception):
    """The password was right and the second factor is still to come (not a failure)."""


def _throttled(refused: throttle.Refused) -> ApiError:
    headers = {"Retry-After": str(refused.retry_after)}
    if refused.busy:
        return ApiError(
            429,
            "login_busy",
            "Another login for this badge is being checked; try again in a moment.",
            headers=headers,
        )
    return ApiError(
        429,
        "login_throttled",
        f"Too many failed logins; wait {_wait_words(refused.retry_after)} and try again.",
        headers=headers,
    )


async def _check(request: web.Request, body: LoginBody, badge: str, now: datetime) -> Officer:
    """The officer whose badge, password and (when enrolled) code these are; otherwise the
    401 to answer (audited), or :class:`_PasswordRight` when only the code is missing."""
    async with request.app[DB]() as session:
        officer = (
            await session.execute(select(Officer).where(Officer.badge == badge))
        ).scalar_one_or_none()
    password_ok = await check_password(officer.password_hash if officer else None, body.password)
    if officer is None or not password_ok or officer.disabled:
        reason = "unknown_badge" if officer is None else "disabled" if password_ok else "password"
        await _failed(request, badge, reason)
        raise ApiError(401, "login_failed", "Badge or password is wrong.")
    if officer.totp_sealed is not None:
        if not body.totp:
            raise _PasswordRight()
        async with request.app[DB].begin() as session:
            accepted = await totp.accept(session, officer, request.app[DATA_KEY], body.totp, now)
        if not accepted:
            await _failed(request, badge, "totp")
            raise ApiError(
                401, "totp_invalid", "That code is wrong or already used; wait for the next one."
            )
    return officer


async def _failed(request: web.Request, badge: str, reason: str) -> None:
    await request.app[AUDIT].record(
        actor_kind="public",
        officer_id=None,
        action="login.fail",
        object_type="officer",
        object_id=None,
        address=client_address(request),
        detail={"badge": badge, "reason": reason},
    )


@endpoint(
    "Log out: the session ends at once and the cookie is cleared.",
    public=True,
    status=204,
    errors=["bad_origin"],
    tags=TAGS,
)
async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(COOKIE)
    officer = None
    if token:
        async with request.app[DB].begin() as session:
            officer = await officer_for_token(session, token, request.app[CLOCK]())
            await end_login(session, token)
    if officer is not None:
        await request.app[AUDIT].record(
            actor_kind="officer",
            officer_id=officer.id,
            action="logout",
            object_type="officer",
            object_id=str(officer.id),
            address=client_address(request),
        )
    response = web.Response(status=204)
    settings = request.app[SETTINGS]
    response.del_cookie(
        COOKIE, path="/", httponly=True, samesite="Strict", secure=settings.secure_cookies
    )
    return response


@endpoint("The logged-in officer.", roles=STAFF, response=OfficerProfile, tags=TAGS)
async def me(request: web.Request) -> web.Response:
    return web.json_response(profile(current_officer(request)))


@endpoint("Every officer, by badge.", roles=MANAGERS, response=OfficerList, tags=TAGS)
async def list_officers(request: web.Request) -> web.Response:
    async with request.app[DB]() as session:
        officers = (await session.execute(select(Officer).order_by(Officer.badge))).scalars()
        return web.json_response({"officers": [profile(o) for o in officers]})


async def _set_disabled(request: web.Request, disabled: bool) -> web.Response:
    actor = current_officer(request)
    raw = request.match_info["officer_id"]
    if raw.isdigit() and not raw.isascii():  # Urdu digits (۱۲) look like an id to a person
        raise ApiError(400, "invalid_officer_id", "Write the officer id with the digits 0-9.")
    target_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None
    if disabled and target_id == actor.id:
        raise ApiError(409, "cannot_disable_self", "You cannot disable your own account.")
    async with request.app[DB].begin() as session:
        target = await session.get(Officer, target_id) if target_id is not None else None
        if target is None:
            raise ApiError(404, "officer_not_found", "There is no officer with that id.")
        target.disabled = disabled
        if disabled:
            await end_all_logins(session, target.id)
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=actor.id,
        action="officer.disable" if disabled else "officer.enable",
        object_type="officer",
        object_id=str(target.id),
        address=client_address(request),
    )
    return web.json_response(profile(target))


@endpoint(
    "Disable an officer: every login of theirs ends and they cannot log in.",
    roles=[ADMIN],
    response=OfficerProfile,
    errors=["officer_not_found", "invalid_officer_id", "cannot_disable_self", "bad_origin"],
    tags=TAGS,
)
async def disable(request: web.Request) -> web.Response:
    return await _set_disabled(request, True)


@endpoint(
    "Enable a disabled officer again.",
    roles=[ADMIN],
    response=OfficerProfile,
    errors=["officer_not_found", "invalid_officer_id", "bad_origin"],
    tags=TAGS,
)
async def enable(request: web.Request) -> web.Response:
    return await _set_disabled(request, False)


def setup(app: web.Application) -> None:
    app[LOGINS] = RecentLogins()
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/officers", list_officers)
    app.router.add_post("/api/officers/{officer_id}/disable", disable)
    app.router.add_post("/api/officers/{officer_id}/enable", enable)
