"""Who is asking: the session cookie, the officer behind it, and role checks.

The auth middleware reads the route's :class:`~safecall.endpoint.Endpoint`:
public routes pass; every other route needs a valid, unexpired login of an
enabled officer (else 401) whose role the endpoint allows (else 403). A
route without a declaration is refused, so nothing is public by accident.
Before any of that, a write sent from another site's page is refused
(:mod:`officers.origin`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from officers.models import Officer, OfficerLogin
from officers.origin import check_origin
from safecall.endpoint import endpoint_of
from safecall.errors import ApiError, Handler
from safecall.state import CLOCK, DB

COOKIE = "safecall_session"
OFFICER_KEY = web.RequestKey("officer", Officer)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_login(
    session: AsyncSession, officer: Officer, address: str, now: datetime, hours: float
) -> str:
    """Record a new login and return the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        OfficerLogin(
            token_hash=token_hash(token),
            officer_id=officer.id,
            address=address,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return token


async def end_login(session: AsyncSession, token: str) -> None:
    """Forget one login (logout); the token stops working at once."""
    await session.execute(delete(OfficerLogin).where(OfficerLogin.token_hash == token_hash(token)))


async def end_all_logins(session: AsyncSession, officer_id: int) -> None:
    """Forget every login of an officer (disabled, or a new password)."""
    await session.execute(delete(OfficerLogin).where(OfficerLogin.officer_id == officer_id))


async def forget_expired(session: AsyncSession, officer_id: int, now: datetime) -> None:
    """Drop an officer's expired logins (they already refuse; this keeps the table small)."""
    await session.execute(
        delete(OfficerLogin).where(
            OfficerLogin.officer_id == officer_id, OfficerLogin.expires_at <= now
        )
    )


async def officer_for_token(session: AsyncSession, token: str, now: datetime) -> Officer | None:
    """The enabled officer whose unexpired login ``token`` is; None otherwise."""
    row = (
        await session.execute(
            select(Officer, OfficerLogin.expires_at)
            .join(OfficerLogin, OfficerLogin.officer_id == Officer.id)
            .where(OfficerLogin.token_hash == token_hash(token))
        )
    ).first()
    if row is None:
        return None
    officer, expires_at = row
    if expires_at <= now or officer.disabled:
        return None
    return officer


def current_officer(request: web.Request) -> Officer:
    """The logged-in officer (the middleware has already refused anyone else)."""
    try:
        return request[OFFICER_KEY]
    except KeyError:
        raise ApiError(401, "not_logged_in", "Log in first.") from None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    check_origin(request)
    route = request.match_info.route
    meta = endpoint_of(route.handler)
    if meta is None:
        if request.match_info.http_exception is not None:
            return await handler(request)  # 404 / 405 from the router
        raise ApiError(401, "not_logged_in", "Log in first.")
    if meta.roles is None:
        return await handler(request)
    token = request.cookies.get(COOKIE)
    if not token:
        raise ApiError(401, "not_logged_in", "Log in first.")
    async with request.app[DB]() as session:
        officer = await officer_for_token(session, token, request.app[CLOCK]())
    if officer is None:
        raise ApiError(401, "not_logged_in", "Your login has ended; log in again.")
    if officer.role not in meta.roles:
        raise ApiError(403, "forbidden", "Your role does not allow this.")
    request[OFFICER_KEY] = officer
    return await handler(request)
