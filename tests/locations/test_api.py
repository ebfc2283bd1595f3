"""Live location: her page shares where she is during the contact; officers who may see
her case read the latest place, sealed at rest, each shown place audited."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from audit.models import AuditEvent
from locations.models import SessionLocation
from signaling.routes import HUB

SHARE = "/api/contacts/{id}/location"


async def open_contact(client: Any, line: str = "women") -> dict[str, Any]:
    body = {"service_line": line, "channel": "chat"}
    response = await client.post("/api/contacts", json=body)
    assert response.status == 201, await response.text()
    data: dict[str, Any] = await response.json()
    return data


def bearer(contact: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": "Bearer " + contact["token"]}


async def test_places_replace_each_other_and_the_officer_reads_the_latest(
    client, login_as, openapi, clock, db, data_key
) -> None:
    her = await open_contact(client)
    url = SHARE.format(id=her["session_id"])
    officer, _ = await login_as("officer")
    response = await officer.get(url)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "no_location"

    place = {"latitude": 31.5204, "longitude": 74.3587, "accuracy": 35}
    response = await client.post(url, json=place, headers=bearer(her))
    body = await response.json()
    assert response.status == 200, body
    openapi.check("POST", url.replace(her["session_id"], "{session_id}"), 200, body)
    assert body == {"updates": 1}

    # Too soon after the last one: refused, nothing replaced.
    response = await client.post(url, json={**place, "latitude": 1}, headers=bearer(her))
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "location_too_often"
    assert "Retry-After" in response.headers

    clock.advance(3)
    moved = {"latitude": 31.53, "longitude": 74.36, "accuracy": 12}
    assert (await client.post(url, json=moved, headers=bearer(her))).status == 200

    response = await officer.get(url)
    body = await response.json()
    assert response.status == 200, body
    openapi.check("GET", "/api/contacts/{session_id}/location", 200, body)
    assert (body["latitude"], body["longitude"], body["accuracy"], body["updates"]) == (
        31.53,
        74.36,
        12,
        2,
    )
    # Nothing new since: 204, and only the place shown was an audited read.
    assert (await officer.get(url + "?after=2")).status == 204
    async with db() as session:
        row = await session.get(SessionLocation, her["session_id"])
        assert row is not None and b"74.36" not in row.place_sealed  # sealed at rest
        reads = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "session.location_read")
            )
        )
    assert len(reads) == 1


async def test_no_token_a_wrong_token_or_bad_places_are_refused(client, login_as) -> None:
    her = await open_contact(client)
    other = await open_contact(client)
    url = SHARE.format(id=her["session_id"])
    place = {"latitude": 31.5, "longitude": 74.3}
    for headers in ({}, {"Authorization": "Bearer nope-nope-nope-nope"}, bearer(other)):
        response = await client.post(url, json=place, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "invalid_session_token"
    for bad in (
        {"latitude": 91, "longitude": 0},
        {"latitude": 0, "longitude": 181},
        {"latitude": 0, "longitude": 0, "accuracy": -1},
        {"latitude": 0},
        {"latitude": 0, "longitude": 0, "note": "x"},
    ):
        response = await client.post(url, json=bad, headers=bearer(her))
        assert response.status == 400, bad
    # The officer side's own token is not hers either.
    officer, _ = await login_as("officer")
    assert (await officer.get(url)).status == 404


async def test_an_officer_off_her_line_sees_nothing_and_an_ended_contact_takes_no_more(
    client, app, login_as
) -> None:
    her = await open_contact(client, line="child")
    url = SHARE.format(id=her["session_id"])
    place = {"latitude": 1, "longitude": 2}
    assert (await client.post(url, json=place, headers=bearer(her))).status == 200
    women_only, _ = await login_as("officer", lines=["women"])
    response = await women_only.get(url)
    assert response.status == 404  # the same answer as for no place at all
    await app[HUB].end_session(her["session_id"], "closed")
    # The contact desk logs the end as the hub reports it: places are taken until then.
    for _ in range(100):
        response = await client.post(url, json={"latitude": 1, "longitude": 2}, headers=bearer(her))
        if response.status != 429 and response.status != 200:
            break
        await asyncio.sleep(0.05)
    assert response.status in (401, 409)


async def test_two_first_places_at_once_take_one_and_refuse_the_other(client) -> None:
    her = await open_contact(client)
    url = SHARE.format(id=her["session_id"])
    place = {"latitude": 31.5, "longitude": 74.3}
    answers = await asyncio.gather(
        *(client.post(url, json=place, headers=bearer(her)) for _ in range(2))
    )
    assert sorted(a.status for a in answers) == [200, 429]
