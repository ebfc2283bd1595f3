"""One-time links that open the citizen page's video call on a phone contact's session.

A link's token names the session, expires after :data:`TTL_SECONDS` and is
signed with a secret every process derives from the data key; it is taken
once (a timeline event keyed on its nonce, so any process refuses a second
use). :func:`check` says what a token is worth without using it;
:func:`use` takes it inside the caller's transaction, so the contact the link
opens and the link's use are written together or not at all
(``ivr/video_leg.py``; docs/ivr.md, "From a phone call to video").
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import ContactSession, TimelineEvent
from cases.timeline import record_event
from safecall.refusals import Gone, NotFound, Refusal
from safecall.state import CLOCK, DATA_KEY, DB

TTL_SECONDS = 15 * 60
PURPOSE = "phone video links"
MAX_TOKEN = 256


class LinkRefused(Refusal):
    """The token opens nothing: a stable ``code`` and a sentence."""


class UnknownLink(LinkRefused, NotFound):
    """Forged or malformed: never a genuine link (the tries limiter counts these)."""


class SpentLink(LinkRefused, Gone):
    """A genuine link, expired or used, or its call is over."""


UNKNOWN = UnknownLink("unknown_link", "This link is not right; ask the officer for a new one.")
EXPIRED = SpentLink("link_expired", "This link has expired; ask the officer for a new one.")
USED = SpentLink("link_used", "This link was opened already; ask the officer for a new one.")
CALL_ENDED = SpentLink(
    "call_ended", "The phone call this link belongs to has ended; call 15 or start again."
)


@dataclass(frozen=True)
class Link:
    """A genuine, unexpired, unused link (as far as :func:`check` could see)."""

    session_id: str
    """The phone contact's session."""
    nonce: str
    case_id: int
    officer_id: int | None
    """The officer who answered the phone call."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(app: web.Application, payload: str) -> bytes:
    secret = app[DATA_KEY].secret(PURPOSE)
    return hmac.new(secret, payload.encode(), "sha256").digest()[:18]


def used_key(nonce: str) -> str:
    return f"ivr:video-link:{nonce}"


def issue(app: web.Application, session_id: str) -> str:
    expires = int(app[CLOCK]().timestamp()) + TTL_SECONDS
    payload = f"{session_id}.{expires}.{secrets.token_hex(8)}"
    return f"{_b64(payload.encode())}.{_b64(_mac(app, payload))}"


def _signed(app: web.Application, token: str) -> tuple[str, int, str]:
    """(session id, expiry, nonce) of a token we signed; :data:`UNKNOWN` otherwise."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise UNKNOWN
    body, mac = token.split(".")
    try:
        payload = _unb64(body).decode()
        given = _unb64(mac)
    except (ValueError, UnicodeDecodeError):
        raise UNKNOWN from None
    if not hmac.compare_digest(given, _mac(app, payload)):
        raise UNKNOWN
    session_id, expires, nonce = payload.split(".")
    return session_id, int(expires), nonce


async def check(app: web.Application, session: AsyncSession, token: str) -> Link:
    """What the token opens, without using it; raises :class:`LinkRefused`.

    Forged or malformed: 404 ``unknown_link``; past its time: 410 ``link_expired``;
    opened before: 410 ``link_used``; the phone call over: 410 ``call_ended``.
    """
    session_id, expires, nonce = _signed(app, token)
    if expires <= app[CLOCK]().timestamp():
        raise EXPIRED
    used = await session.scalar(
        select(TimelineEvent.id).where(TimelineEvent.key == used_key(nonce))
    )
    if used is not None:
        raise USED
    contact = await session.get(ContactSession, session_id)
    if contact is None:
        raise UNKNOWN
    if contact.ended_at is not None:
        raise CALL_ENDED
    return Link(session_id, nonce, contact.case_id, contact.officer_id)


async def use(
    session: AsyncSession, link: Link, *, now: datetime, data: dict[str, object] | None = None
) -> None:
    """Take the link in the caller's transaction; :data:`USED` when another request took it
    first (the caller's transaction must then roll back)."""
    first = await record_event(
        session,
        key=used_key(link.nonce),
        kind="contact.video_link_used",
        at=now,
        session_id=link.session_id,
        case_id=link.case_id,
        data=data,
    )
    if not first:
        raise USED


async def redeem(app: web.Application, token: str) -> str | None:
    """The session a genuine, unexpired, unused link opens (using it up); None otherwise."""
    try:
        async with app[DB]() as session, session.begin():
            link = await check(app, session, token)
            await use(session, link, now=app[CLOCK]())
    except LinkRefused:
        return None
    return link.session_id
