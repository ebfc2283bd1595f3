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

from collections import OrderedDict

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cases import tracking_code
from cases.casework import CaseworkError
from cases.contacts import mark_answered, open_contact, record_times
from cases.models import Case, ContactSession
from cases.timeline import record_event
from ivr import links
from ivr.calls import end_contact
from safecall.endpoint import endpoint
from safecall.errors import ApiError, read_body
from safecall.ratelimit import TokenBucket, address_key
from safecall.state import AUDIT, CLOCK, DATA_KEY, DB, client_address
from signaling.hub import HubClosing
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


class LinkLimiter:
    """Unknown links per address (IPv4, or IPv6 /64): ``burst``, refilled ``per_second``.

    Only misses are charged (a genuine link cannot be guessed, and a used or
    expired one was genuine), as tracking does; while an address owes, every
    redeem from it is refused. In this process's memory, bounded: refilled
    buckets are dropped, and beyond ``max_keys`` the least recently used.
    """

    def __init__(self, burst: float = 10, per_second: float = 1 / 60, max_keys: int = 10_000):
        self.burst = burst
        self.per_second = per_second
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def wait(self, address: str, now: float) -> float:
        """Seconds before this address may try again (0: now)."""
        bucket = self._buckets.get(address_key(address))
        return 0.0 if bucket is None else bucket.wait(now)

    def miss(self, address: str, now: float) -> None:
        key = address_key(address)
        bucket = self._buckets.pop(key, None) or TokenBucket(self.burst, self.per_second, now)
        bucket.take(now)
        self._buckets[key] = bucket
        while self._buckets:
            oldest_key, oldest = next(iter(self._buckets.items()))
            if not oldest.full(now) and len(self._buckets) <= self.max_keys:
                break
            del self._buckets[oldest_key]


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
    wait = app[LIMITER].wait(address, now.timestamp())
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
        async with app[DB]() as session, session.begin():
            link = await links.check(app, session, body.token)
            if link.officer_id is None:  # never answered: nobody to join her to
                raise links.CALL_ENDED
            phone = await session.get(ContactSession, link.session_id)
            case = await session.get(Case, link.case_id)
            assert phone is not None and case is not None
            try:
                video, _ = await open_contact(
                    session,
                    app[DATA_KEY],
                    service_line=phone.service_line,
                    channel=CHANNEL,
                    now=now,
                    language=phone.language,
                    anonymous=phone.anonymous,
                    tracking_code=case.tracking_code,
                )
            except CaseworkError as exc:
                raise ApiError(exc.status, exc.code, exc.message) from None
            await links.use(session, link, now=now, data={"video_session_id": video.id})
            await record_times(session, video, queued_at=now)
            await mark_answered(session, video, officer_id=link.officer_id, answered_at=now)
            for at_id, other, way in ((phone.id, video.id, "to"), (video.id, phone.id, "from")):
                await record_event(
                    session,
                    key=f"session:{at_id}:escalated:{other}",
                    kind="contact.escalated",
                    at=now,
                    session_id=at_id,
                    case_id=case.id,
                    officer_id=link.officer_id,
                    data={way: other, "channel": CHANNEL if way == "to" else "phone"},
                )
            video_id, officer_id, code = video.id, link.officer_id, case.tracking_code
    except links.LinkRefused as refused:
        if refused.status == 404:
            app[LIMITER].miss(address, now.timestamp())
        raise ApiError(refused.status, refused.code, refused.message) from None
    try:
        citizen_token, _ = await app[HUB].open_session(video_id, officer_id=officer_id)
    except HubClosing:
        await end_contact(app, video_id, "dropped")
        raise ApiError(
            503, "going_away", "This server is restarting; ask the officer for a new link."
        ) from None
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
        session_id=video_id,
        tracking_code=tracking_code.display(code),
        token=citizen_token,
        channel="video",
    )
    return web.json_response(out.model_dump(), status=201, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app[LIMITER] = LinkLimiter()
    app.router.add_post("/api/video-links", redeem)
