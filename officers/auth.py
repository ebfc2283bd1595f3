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
from safecall.errors import ApiError, Handler, is_outage
from safecall.state import CLOCK, DB

COOKIE = "safecall_session"


class RecentLogins:
    """Logins seen in the last few minutes, used only while the database cannot be
    reached (a restart, a failover): the officer's console keeps working, and what it
    asks of the queues (in Redis) still is hers. A logout or a disabled account reaches
    every process as soon as the database answers again."""

    def __init__(self, keep_seconds: float = 300.0, most: int = 5_000) -> None:
        self.keep = timedelta(seconds=keep_seconds)
        self.most = most
        self._logins: dict[str, tuple[Officer, datetime]] = {}

    def seen(self, token: str, officer: Officer | None, now: datetime) -> None:
        key = token_hash(token)
        if officer is None:
            self._logins.pop(key, None)
            return
        if len(self._logins) >= self.most and key not in self._logins:
            self._logins.pop(next(iter(self._logins)))
        self._logins[key] = (officer, now)

    def recent(self, token: str, now: datetime) -> Officer | None:
        found = self._logins.get(token_hash(token))
        if found is None or now - found[1] > self.keep:
            return None
        return found[0]


LOGINS: web.AppKey[RecentLogins] = web.AppKey("recent_logins")
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
    now = request.app[CLOCK]()
    try:
        async with request.app[DB]() as session:
            officer = await officer_for_token(session, token, now)
    except Exception as exc:
        if not is_outage(exc):
            raise
        # The database is down for a moment: an officer on duty is not logged out for it.
        # Only a login seen a moment ago, still unexpired, is taken; otherwise a 503.
        officer = request.app[LOGINS].recent(token, now)
        if officer is None:
            raise
    else:
        request.app[LOGINS].seen(token, officer, now)
    if officer is None:
        raise ApiError(401, "not_logged_in", "Your login has ended; log in again.")
    if officer.role not in meta.roles:
        raise ApiError(403, "forbidden", "Your role does not allow this.")
    request[OFFICER_KEY] = officer
    return await handler(request)
