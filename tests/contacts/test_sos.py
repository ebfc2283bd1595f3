"""The app's one-tap SOS: an emergency on the women's line, and nothing more.

``sos: true`` is the only way a public request reaches the emergency priority; it
cannot name another line, a video call or an existing case, and it is limited like
any other contact (a prank flood of SOS is refused like a flood of contacts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case, ContactSession
from cases.tracking_code import check_digit
from queues.service import ROUTER
from tests.support import copy_sqlite

Db = async_sessionmaker[AsyncSession]
SOS = {"service_line": "women", "channel": "audio", "sos": True}


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: what an SOS may be is checked before anything is written."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


async def count(db: Db, model: type[Any]) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def task_of(app: Any, session_id: str) -> Any:
    return next(t for t in app[ROUTER].board.tasks.values() if t.session_id == session_id)


async def test_an_sos_waits_at_the_emergency_priority_and_the_officer_is_told(
    client: Any, app: Any, login_as: Any, openapi: Any
) -> None:
    ordinary = await (await client.post("/api/contacts", json={**SOS, "sos": False})).json()
    response = await client.post("/api/contacts", json=SOS)
    assert response.status == 201
    sos = await response.json()
    openapi.check("POST", "/api/contacts", 201, sos)
    emergency = app[ROUTER].config.emergency_priority
    assert task_of(app, sos["session_id"]).priority == emergency
    assert task_of(app, ordinary["session_id"]).priority < emergency
    # She is ahead of the contact that came first.
    place = await client.get(
        f"/api/contacts/{sos['session_id']}", headers={"Authorization": f"Bearer {sos['token']}"}
    )
    assert (await place.json())["position"] == 1

    officer, _ = await login_as("officer", lines=["women"])
    assert (await officer.post("/api/queues/me/state", json={"state": "available"})).ok
    me = await (await officer.get("/api/queues/me")).json()
    openapi.check("GET", "/api/queues/me", 200, me)
    assert me["offer"]["task_id"] == task_of(app, sos["session_id"]).id
    assert me["offer"]["emergency"] is True


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"service_line": "child"}, "sos_line"),
        ({"channel": "video"}, "sos_channel"),
        ({"tracking_code": "12345678901" + check_digit("12345678901")}, "sos_with_code"),
        ({"sos": "yes please"}, "invalid_body"),
        # Nothing else in a public request raises a priority.
        ({"sos": False, "emergency": True}, "invalid_body"),
        ({"sos": False, "priority": 99}, "invalid_body"),
    ],
)
async def test_an_sos_cannot_target_another_line_or_an_existing_case(
    client: Any, db: Db, fields: dict[str, Any], code: str
) -> None:
    response = await client.post("/api/contacts", json={**SOS, **fields})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == code
    assert error["message"]
    assert await count(db, ContactSession) == 0
    assert await count(db, Case) == 0


async def test_an_sos_does_not_touch_the_case_whose_code_it_knows(
    client: Any, db: Db, app: Any
) -> None:
    first = await (await client.post("/api/contacts", json={**SOS, "sos": False})).json()
    refused = await client.post(
        "/api/contacts", json={**SOS, "tracking_code": first["tracking_code"]}
    )
    assert (await refused.json())["error"]["code"] == "sos_with_code"
    assert task_of(app, first["session_id"]).priority < app[ROUTER].config.emergency_priority
    assert await count(db, ContactSession) == 1


async def test_an_sos_flood_is_limited_like_any_intake(client: Any) -> None:
    for _ in range(20):
        assert (await client.post("/api/contacts", json=SOS)).status == 201
    refused = await client.post("/api/contacts", json=SOS)
    assert refused.status == 429
    error = (await refused.json())["error"]
    assert error["code"] == "intake_busy" and "call 15" in error["message"]
