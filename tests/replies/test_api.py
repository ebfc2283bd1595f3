"""Ready replies: every officer reads them; only supervisors replace the whole set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from audit.models import AuditEvent
from replies.api import defaults

URL = "/api/ready-replies"


async def test_the_shipped_defaults_until_a_supervisor_saves_a_set(login_as, openapi) -> None:
    officer, _ = await login_as("officer")
    response = await officer.get(URL)
    body = await response.json()
    assert response.status == 200
    openapi.check("GET", URL, 200, body)
    assert body["defaults"] is True
    assert {r["language"] for r in body["replies"]} == {"ur", "en"}
    assert len(body["replies"]) == len(defaults())

    supervisor, _ = await login_as("supervisor")
    mine = [{"language": "en", "title": "Hello", "text": "  I am here.  "}]
    response = await supervisor.put(URL, json={"replies": mine})
    body = await response.json()
    assert response.status == 200, body
    openapi.check("PUT", URL, 200, body)
    assert body == {
        "replies": [{"language": "en", "title": "Hello", "text": "I am here."}],
        "defaults": False,
    }
    assert (await (await officer.get(URL)).json())["replies"] == body["replies"]

    # An empty set brings the defaults back.
    body = await (await supervisor.put(URL, json={"replies": []})).json()
    assert body["defaults"] is True


async def test_an_officer_may_not_change_them_and_bad_sets_change_nothing(
    login_as, db: Any
) -> None:
    officer, _ = await login_as("officer")
    response = await officer.put(URL, json={"replies": []})
    assert response.status == 403
    supervisor, _ = await login_as("supervisor")
    good = {"language": "ur", "title": "سلام", "text": "میں حاضر ہوں"}
    assert (await supervisor.put(URL, json={"replies": [good]})).status == 200
    for bad in (
        {"replies": [good, {**good, "language": "fr"}]},
        {"replies": [good, {**good, "text": "   "}]},
        {"replies": [good, {**good, "text": "x" * 2001}]},
        {"replies": [good] * 61},
        {"replies": [{**good, "extra": 1}]},
    ):
        response = await supervisor.put(URL, json=bad)
        body = await response.json()
        assert response.status == 400, bad
        assert body["error"]["code"] == "invalid_body"
    assert (await (await officer.get(URL)).json())["replies"] == [good]
    async with db() as session:
        replaced = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "ready_replies.replace")
        )
    assert replaced == 1
