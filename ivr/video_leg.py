"""Her video link opens the video leg: a new browser video contact on the same case.

``POST /api/video-links`` (public; the token in the body, never in a URL a
log could keep) takes the one-time token the officer texted her
(:mod:`ivr.links`) and, in one transaction, uses it up, opens a browser video
contact on the phone contact's case, marks it answered by the officer on the
phone call and notes ``contact.escalated`` on both sessions' timelines. Then
the signaling session opens for that officer only. It is not put in the
routing engine's line: the officer already holds the conversation (her phone
task takes her whole voice capacity, so the router would not offer it to her
while she is on the phone, and would give it to anyone after the
known-officer wait). Her console picks it up (``GET
/api/phone/contacts/{id}/video``, :mod:`ivr.escalation`).

Refusals: 404 ``unknown_link`` (forged, malformed), 410 ``link_expired``,
``link_used``, ``call_ended``; 429 ``too_many_tries`` when one address sent
too many unknown links (:class:`LinkLimiter`); 503 ``going_away``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from cases import tracking_code
from cases.models import Case, ContactSession, TimelineEvent
from cases.timeline import record_event
from cases.tracking_code import TrackingCode
from contacts.request import contact_request
from contacts.service import DESK, VOCABULARY
from ivr import links
from safecall.endpoint import endpoint
from safecall.errors import ApiError, read_body
from safecall.ratelimit import Buckets, InProcessBuckets, Rate, RedisBuckets, address_key
from safecall.refusals import Unavailable
from safecall.state import AUDIT, CLOCK, DB, REDIS, client_address
from signaling.routes import HUB

CHANNEL = "browser_video"


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=links.MAX_TOKEN)


class VideoLegOut(BaseModel):
    session_id: str = Field(description="The video contact's session (a new one).")
    tracking_code: str = Field(description="Her case's code, display form.")
    token: str = Field(description="Her join token for /ws; keep it in memory only.")
    channel: str = Field(description="Always video.")


TRIES = Rate(burst=10, per_second=1 / 60)
"""Unknown links an address may send: 10, then one more a minute."""


class LinkLimiter:
    """Unknown links per address (IPv4, or IPv6 /64): ``rate.burst``, refilled ``rate.per_second``.

    Only misses are charged (a genuine link cannot be guessed, and a used or
    expired one was genuine), as tracking does; while an address owes, every
    redeem from it is refused. In this process's memory (bounded), or, once
    :meth:`share` is given the app's Redis (``SAFECALL_REDIS_URL``), in Redis,
    so that every process counts the same misses.
    """

    def __init__(self, rate: Rate = TRIES, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.buckets: Buckets = InProcessBuckets(max_keys)

    def share(self, redis: Redis) -> None:
        self.buckets = RedisBuckets(redis, "ivr:link-tries:")

    async def wait(self, address: str, now: float) -> float:
        """Seconds before this address may try again (0: now)."""
        return await self.buckets.wait(address_key(address), self.rate, now)

    async def miss(self, address: str, now: float) -> None:
        await self.buckets.take(address_key(address), self.rate, now)


LIMITER: web.AppKey[LinkLimiter] = web.AppKey("video_link_limiter")


@endpoint(
    "Open the video call an officer's text message links to: a new video contact on the "
    "same case, joined to the officer on her phone call. The token is used up.",
    public=True,
    body=RedeemIn,
    response=VideoLegOut,
    status=201,
    errors=["unknown_link", "link_expired", "link_used", "call_ended", "too_many_tries"],
    statuses=[410, 429, 503],
    tags=["phone"],
)
async def redeem(request: web.Request) -> web.Response:
    app = request.app
    address, now = client_address(request), app[CLOCK]()
    wait = await app[LIMITER].wait(address, now.timestamp())
    if wait > 0:
        retry = str(max(1, round(wait)))
        raise ApiError(
            429, "too_many_tries", "Too many wrong links; try again later.", {"Retry-After": retry}
        )
    body = await read_body(request, RedeemIn)
    if app[HUB].draining:
        raise ApiError(
            503, "going_away", "This server is restarting; try again.", {"Retry-After": "1"}
        )
    try:
        async with app[DB]() as session:
            link = await links.check(app, session, body.token)
            if link.officer_id is None:  # never answered: nobody to join her to
                raise links.CALL_ENDED
            phone = await session.get(ContactSession, link.session_id)
            case = await session.get(Case, link.case_id)
            assert phone is not None and case is not None
    except links.UnknownLink:
        await app[LIMITER].miss(address, now.timestamp())
        raise
    officer_id = link.officer_id
    video_id = ""

    async def use_link(session: AsyncSession, video: ContactSession) -> None:
        """In the contact's own transaction: the link is used up (once, whoever is first)
        and both sessions note the escalation."""
        nonlocal video_id
        video_id = video.id
        await links.use(session, link, now=now, data={"video_session_id": video.id})
        for at_id, other, way in ((phone.id, video.id, "to"), (video.id, phone.id, "from")):
            await record_event(
                session,
                key=f"session:{at_id}:escalated:{other}",
                kind="contact.escalated",
                at=now,
                session_id=at_id,
                case_id=case.id,
                officer_id=officer_id,
                data={way: other, "channel": CHANNEL if way == "to" else "phone"},
            )

    async def unuse_link(session: AsyncSession, session_id: str) -> None:
        await session.execute(
            delete(TimelineEvent).where(
                or_(
                    TimelineEvent.key == links.used_key(link.nonce),
                    TimelineEvent.key == f"session:{phone.id}:escalated:{session_id}",
                )
            )
        )

    asked = contact_request(
        app[VOCABULARY],
        line=phone.service_line,
        channel=CHANNEL,
        language=phone.language,
        anonymous=phone.anonymous,
        tracking_code=TrackingCode(case.tracking_code),
    )
    try:
        opened = await app[DESK].open(
            asked, queue=False, answered_by=officer_id, write=use_link, unwrite=unuse_link
        )
    except Unavailable as refusal:
        raise Unavailable(
            refusal.code,
            "This server cannot open the call just now; ask the officer for a new link.",
            retry_after=refusal.retry_after,
        ) from None
    code = opened.case_code.digits
    await app[AUDIT].record(
        actor_kind="public",
        officer_id=None,
        action="session.video_link_opened",
        object_type="session",
        object_id=video_id,
        address=address,
        detail={"phone_session": link.session_id},
    )
    out = VideoLegOut(
        session_id=opened.session_id,
        tracking_code=tracking_code.display(code),
        token=opened.citizen_token,
        channel="video",
    )
    return web.json_response(out.model_dump(), status=201, headers={"Cache-Control": "no-store"})


async def link_limiter_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the app's Redis client): count in Redis if there is one."""
    if REDIS in app:
        app[LIMITER].share(app[REDIS])
    yield


def setup(app: web.Application) -> None:
    app[LIMITER] = LinkLimiter()
    app.router.add_post("/api/video-links", redeem)
