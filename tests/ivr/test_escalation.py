"""Her video link: a one-time token opens a video contact on the phone call's case.

The phone contact is set up as the IVR leaves it once an officer answered
(open on a case, answered, its signaling session open); the link is the one
``ivr.links.issue`` makes for the SMS (the sending itself, through the Twilio
emulator, is tests/ivr/test_callbacks.py). Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from redis.asyncio import Redis
from sqlalchemy import select

from cases.models import ContactSession, TimelineEvent
from cases.sessions import end_session, mark_answered, open_contact
from ivr import links
from ivr.video_leg import LIMITER, LinkLimiter
from safecall.ratelimit import InProcessBuckets, Rate
from safecall.state import CLOCK, DATA_KEY
from sealing.data_key import DataKey
from signaling.hub import token_hash
from signaling.routes import HUB
from tests.support import redis_db

ROUTE = "/api/video-links"
REDIS_URL = redis_db(15)

LINK_APP = web.Application()
LINK_APP[DATA_KEY] = DataKey([("k1", bytes(range(32)))])


async def phone_call(app: Any, db: Any, officer_id: int) -> str:
    """A phone contact answered by ``officer_id``: its session id."""
    now = app[CLOCK]()
    async with db() as session, session.begin():
        contact, _ = await open_contact(
            session, app[DATA_KEY], service_line="women", channel="phone", now=now, language="en"
        )
        await mark_answered(session, contact, officer_id=officer_id, answered_at=now)
        session_id = contact.id
    await app[HUB].open_session(session_id, officer_id=officer_id)
    return session_id


async def refused(client: Any, token: str) -> tuple[int, str]:
    response = await client.post(ROUTE, json={"token": token})
    body = await response.json()
    return response.status, body["error"]["code"]


async def test_the_link_opens_a_video_contact_on_the_same_case_once(
    client: Any, app: Any, db: Any, login_as: Any, openapi: Any
) -> None:
    browser, officer = await login_as("officer")
    phone_id = await phone_call(app, db, officer.id)
    token = links.issue(app, phone_id)

    nothing = await browser.get(f"/api/phone/contacts/{phone_id}/video")
    assert (await nothing.json()) == {"video": None}

    response = await client.post(ROUTE, json={"token": token})
    assert response.status == 201, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    her = await response.json()
    openapi.check("POST", ROUTE, 201, her)
    assert her["channel"] == "video" and her["session_id"] != phone_id

    async with db() as session:
        phone = await session.get(ContactSession, phone_id)
        video = await session.get(ContactSession, her["session_id"])
        assert phone is not None and video is not None
        assert video.case_id == phone.case_id
        assert video.channel == "browser_video"
        assert video.officer_id == officer.id and video.answered_at is not None
        events = {
            (e.session_id, e.kind): e.data
            for e in await session.scalars(
                select(TimelineEvent).where(TimelineEvent.kind == "contact.escalated")
            )
        }
    assert events[(phone_id, "contact.escalated")]["to"] == video.id
    assert events[(video.id, "contact.escalated")]["from"] == phone_id
    assert her["tracking_code"].replace(" ", "") == (await case_code(db, phone.case_id))

    # The officer on the phone call gets the video leg and its officer token.
    got = await browser.get(f"/api/phone/contacts/{phone_id}/video")
    assert got.status == 200
    leg = await got.json()
    openapi.check("GET", "/api/phone/contacts/{session_id}/video", 200, leg)
    assert leg["video"]["session_id"] == video.id
    seat = await app[HUB].store.seat(video.id, token_hash(leg["video"]["token"]))
    assert seat is not None and seat.side == "officer"  # a fresh token, bound to her

    # Once only: the same link again is refused and opens nothing.
    assert await refused(client, token) == (410, "link_used")
    async with db() as session:
        count = len(
            list(
                await session.scalars(
                    select(ContactSession.id).where(ContactSession.case_id == phone.case_id)
                )
            )
        )
    assert count == 2


async def case_code(db: Any, case_id: int) -> str:
    from cases.models import Case

    async with db() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return str(case.tracking_code)


async def test_unknown_forged_and_expired_links_are_refused(
    client: Any, app: Any, db: Any, login_as: Any, clock: Any
) -> None:
    _, officer = await login_as("officer")
    phone_id = await phone_call(app, db, officer.id)
    token = links.issue(app, phone_id)
    body, mac = token.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    sid, expires, nonce = payload.split(".")
    later = f"{sid}.{int(expires) + 3600}.{nonce}".encode()
    forged = base64.urlsafe_b64encode(later).decode().rstrip("=") + "." + mac

    assert await refused(client, "not-a-token") == (404, "unknown_link")
    assert await refused(client, forged) == (404, "unknown_link")
    assert await refused(client, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) == (
        404,
        "unknown_link",
    )
    missing = await client.post(ROUTE, json={})
    assert missing.status == 400
    other = links.issue(app, "0" * 32)  # genuine signature, no such contact
    assert await refused(client, other) == (404, "unknown_link")

    clock.advance(links.TTL_SECONDS + 1)
    assert await refused(client, token) == (410, "link_expired")
    async with db() as session:
        opened = list(await session.scalars(select(ContactSession.id)))
        used = await session.scalar(
            select(TimelineEvent.id).where(TimelineEvent.kind == "contact.video_link_used")
        )
    assert opened == [phone_id] and used is None  # nothing half-written


async def test_a_link_to_a_call_that_ended_opens_nothing(
    client: Any, app: Any, db: Any, login_as: Any
) -> None:
    _, officer = await login_as("officer")
    phone_id = await phone_call(app, db, officer.id)
    token = links.issue(app, phone_id)
    async with db() as session, session.begin():
        phone = await session.get(ContactSession, phone_id)
        assert phone is not None
        await end_session(session, phone, disposition="answered", now=app[CLOCK]())
    assert await refused(client, token) == (410, "call_ended")
    async with db() as session:
        assert list(await session.scalars(select(ContactSession.id))) == [phone_id]


async def test_only_the_officer_on_the_call_sees_its_video(
    client: Any, app: Any, db: Any, login_as: Any
) -> None:
    _, officer = await login_as("officer")
    other, _ = await login_as("officer")
    phone_id = await phone_call(app, db, officer.id)
    response = await other.get(f"/api/phone/contacts/{phone_id}/video")
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "not_yours"
    anonymous = await client.get(f"/api/phone/contacts/{phone_id}/video")
    assert anonymous.status == 401


async def test_an_address_sending_wrong_links_is_slowed_down(
    client: Any, app: Any, db: Any, login_as: Any, clock: Any
) -> None:
    app[LIMITER].rate = Rate(3, 1 / 60)  # fewer tries, same rule
    _, officer = await login_as("officer")
    phone_id = await phone_call(app, db, officer.id)
    for _ in range(3):
        assert await refused(client, "x.y") == (404, "unknown_link")
    response = await client.post(ROUTE, json={"token": links.issue(app, phone_id)})
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "too_many_tries"
    assert int(response.headers["Retry-After"]) >= 1
    clock.advance(61)
    response = await client.post(ROUTE, json={"token": links.issue(app, phone_id)})
    assert response.status == 201


async def test_the_limiter_forgets_refilled_addresses() -> None:
    limiter = LinkLimiter(Rate(2, 1.0), max_keys=5)
    for n in range(50):
        await limiter.miss(f"10.0.0.{n}", float(n))
    assert await limiter.wait("10.0.0.49", 49.0) == 0.0  # one miss of two: still free
    assert isinstance(limiter.buckets, InProcessBuckets) and len(limiter.buckets) <= 5


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def test_processes_sharing_redis_count_the_same_wrong_links(redis: Redis) -> None:
    one, two = LinkLimiter(Rate(3, 1 / 60)), LinkLimiter(Rate(3, 1 / 60))
    one.share(redis)
    two.share(redis)
    for limiter in (one, two, one):  # misses spread over two processes
        assert await limiter.wait("203.0.113.7", 1000.0) == 0.0
        await limiter.miss("203.0.113.7", 1000.0)
    assert await two.wait("203.0.113.7", 1000.0) == pytest.approx(60.0)
    assert await one.wait("2001:db8::1", 1000.0) == 0.0  # another address is not touched
    assert await one.wait("203.0.113.7", 1060.0) == 0.0  # one more a minute
    ttl = await redis.pttl("ivr:link-tries:203.0.113.7")
    assert 0 < ttl <= 181_000  # forgotten once full again


@given(text=st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_-]{0,40}"))
@examples(max_examples=300, deadline=None)
def test_any_text_but_a_token_we_signed_is_an_unknown_link(text: str) -> None:
    try:
        links._signed(LINK_APP, text)
    except links.LinkRefused as refused:
        assert isinstance(refused, links.UnknownLink) and refused.code == "unknown_link"
    else:
        raise AssertionError("an unsigned text was taken for a link")


async def test_two_pages_opening_one_link_at_once_open_one_video(
    client: Any, app: Any, db: Any, login_as: Any
) -> None:
    _, officer = await login_as("officer")
    phone_id = await phone_call(app, db, officer.id)
    token = links.issue(app, phone_id)
    answers = await asyncio.gather(*(client.post(ROUTE, json={"token": token}) for _ in range(2)))
    assert sorted(a.status for a in answers) == [201, 410]
    async with db() as session:
        assert len(list(await session.scalars(select(ContactSession.id)))) == 2
