"""From a phone call to video: the officer texts her a one-time link to the same session.

``POST /api/phone/contacts/{session_id}/video-link`` (the officer who
answered the live call) asks Twilio for the call's number (it is never
stored for this: an anonymous caller's number stays unknown to us), sends
the link by SMS from the neutral number and notes it on the timeline.

Her link opens the video leg (:mod:`ivr.video_leg`): a browser video contact
on the same case, answered by the same officer, not routed. While she holds
the phone call, the officer's console asks ``GET
/api/phone/contacts/{session_id}/video`` for it and joins it beside the
phone call (docs/ivr.md, "From a phone call to video").
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from cases import tracking_code
from cases.models import Case, ContactSession, TimelineEvent
from cases.timeline import record_event
from contacts.service import DESK
from ivr import calls, links, twilio_api, video_leg
from ivr.twiml import MENU
from officers.auth import current_officer
from safecall.endpoint import STAFF, endpoint
from safecall.errors import ApiError
from safecall.state import AUDIT, CLOCK, DB, SETTINGS, client_address

log = logging.getLogger(__name__)


class LinkOut(BaseModel):
    session_id: str
    expires_in: int = Field(description="Seconds the link stays valid (it opens once).")


@endpoint(
    "Text the caller a one-time link that opens a video call on this same session.",
    roles=STAFF,
    response=LinkOut,
    errors=["not_yours", "not_on_the_phone", "twilio_unavailable", "ivr_off"],
    statuses=[502, 503],
    tags=["phone"],
)
async def send_video_link(request: web.Request) -> web.Response:
    app = request.app
    if not app[SETTINGS].ivr_enabled or not app[SETTINGS].twilio_caller_id:
        raise ApiError(503, "ivr_off", "The phone line is not configured on this server.")
    session_id = request.match_info["session_id"]
    officer = current_officer(request)
    async with app[DB]() as session:
        contact = await session.get(ContactSession, session_id)
    if contact is None or contact.officer_id != officer.id:
        raise ApiError(409, "not_yours", "Only the officer on the call may send the link.")
    call = await calls.find_call_of_session(app, session_id)
    if call is None or call.state != "bridged" or contact.ended_at is not None:
        raise ApiError(409, "not_on_the_phone", "This contact is not a live phone call.")
    link = f"{app[SETTINGS].public_url.rstrip('/')}/?video={links.issue(app, session_id)}"
    body = app[MENU].sms["video_link"][call.language].format(link=link)
    try:
        live = await twilio_api.client(app).calls(call.call_sid).fetch_async()
        # The library keeps the call's From as ``_from`` ("from" is a Python keyword).
        number = live._from if call.direction == "inbound" else live.to
        await twilio_api.send_sms(app, str(number), body)
    except (twilio_api.TwilioRestException, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("phone: the video link could not be sent (%s)", type(exc).__name__)
        raise ApiError(
            502, "twilio_unavailable", "Twilio could not send the text; try again."
        ) from None
    now = app[CLOCK]()
    async with app[DB]() as session, session.begin():
        await record_event(
            session,
            key=f"session:{session_id}:video_link:{int(now.timestamp() * 1000)}",
            kind="contact.video_link_sent",
            at=now,
            session_id=session_id,
            case_id=contact.case_id,
            officer_id=officer.id,
        )
    await app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="session.video_link",
        object_type="session",
        object_id=session_id,
        address=client_address(request),
    )
    out = LinkOut(session_id=session_id, expires_in=links.TTL_SECONDS)
    return web.json_response(out.model_dump(), headers={"Cache-Control": "no-store"})


class VideoLeg(BaseModel):
    session_id: str = Field(description="The video contact's session.")
    case_id: int
    token: str = Field(description="The officer side's join token for /ws.")
    channel: str
    tracking_code: str


class VideoOut(BaseModel):
    video: VideoLeg | None = Field(description="Null until she opens the link.")


@endpoint(
    "The video call she opened from your link, on the phone call you hold (null until then).",
    roles=STAFF,
    response=VideoOut,
    errors=["not_yours"],
    tags=["phone"],
)
async def video_of_call(request: web.Request) -> web.Response:
    app = request.app
    session_id = request.match_info["session_id"]
    officer = current_officer(request)
    async with app[DB]() as session:
        phone = await session.get(ContactSession, session_id)
        if phone is None or phone.officer_id != officer.id:
            raise ApiError(409, "not_yours", "Only the officer on the call sees its video.")
        escalated = await session.scalars(
            select(TimelineEvent.data)
            .where(
                TimelineEvent.session_id == session_id,
                TimelineEvent.kind == "contact.escalated",
            )
            .order_by(TimelineEvent.id.desc())
        )
        leg = None
        for data in escalated:
            video = await session.get(ContactSession, str(data.get("to", "")))
            if video is not None and video.ended_at is None and video.officer_id == officer.id:
                case = await session.get(Case, video.case_id)
                assert case is not None
                leg = VideoLeg(
                    session_id=video.id,
                    case_id=case.id,
                    token=await app[DESK].officer_token(video.id, officer.id) or "",
                    channel=video.channel,
                    tracking_code=tracking_code.display(case.tracking_code),
                )
                break
    out = VideoOut(video=leg)
    return web.json_response(out.model_dump(), headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/phone/contacts/{session_id}/video-link", send_video_link)
    app.router.add_get("/api/phone/contacts/{session_id}/video", video_of_call)
    video_leg.setup(app)  # her side: the public POST /api/video-links
