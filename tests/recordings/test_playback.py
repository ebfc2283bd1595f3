"""Playing recordings: byte ranges, and who may play (every request and refusal audited)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.models import AuditEvent
from tests.recordings.conftest import Answered, random_chunks, upload


@pytest.fixture
async def recorded(login_as: Any, answered: Answered) -> tuple[Any, str, bytes]:
    browser, officer = await login_as("officer", lines=["women"])
    contact, _ = await answered(officer)
    chunks = random_chunks(3, 40_000)
    return browser, await upload(browser, contact.id, chunks), b"".join(chunks)


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=39990-40020", 39990, 40020),  # across a chunk boundary
        ("bytes=50000-", 50000, None),
        ("bytes=-500", -500, None),
        ("bytes=100-999999999", 100, None),
    ],
)
async def test_ranges_answer_206_with_the_right_bytes(
    recorded: tuple[Any, str, bytes], header: str, start: int, end: int | None
) -> None:
    browser, recording_id, content = recorded
    response = await browser.get(f"/api/recordings/{recording_id}/media", headers={"Range": header})
    assert response.status == 206
    expected = content[start : None if end is None else end + 1]
    body = await response.read()
    assert body == expected
    first = start if start >= 0 else len(content) + start
    assert response.headers["Content-Range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(content)}"
    )
    assert response.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    "header", ["bytes=999999999-", "bytes=10-5", "bytes=-0", "bytes=abc", "items=0-1", "bytes=-"]
)
async def test_bad_ranges_answer_416(recorded: tuple[Any, str, bytes], header: str) -> None:
    browser, recording_id, content = recorded
    response = await browser.get(f"/api/recordings/{recording_id}/media", headers={"Range": header})
    assert response.status == 416
    assert response.headers["Content-Range"] == f"bytes */{len(content)}"
    assert (await response.json())["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=" + "9" * 5000 + "-",
        "bytes=0-" + "9" * 5000,
        "bytes=-" + "9" * 5000,
        "bytes=" + "1" * 19 + "-",
    ],
)
async def test_a_range_with_thousands_of_digits_answers_400(
    recorded: tuple[Any, str, bytes], header: str
) -> None:
    """Python will not read an int of more than 4,300 digits: this was a 500 with a traceback."""
    browser, recording_id, _ = recorded
    response = await browser.get(f"/api/recordings/{recording_id}/media", headers={"Range": header})
    assert response.status == 400, await response.text()
    body = await response.json()
    assert body["error"]["code"] == "invalid_range"
    assert "18 digits" in body["error"]["message"]


async def test_download_is_an_attachment_and_audited(
    recorded: tuple[Any, str, bytes], db: async_sessionmaker[AsyncSession]
) -> None:
    browser, recording_id, content = recorded
    response = await browser.get(f"/api/recordings/{recording_id}/media?download=1")
    assert response.status == 200
    assert await response.read() == content
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Type"] == "video/webm"
    async with db() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.object_id == recording_id)
            )
        ).all()
    assert "recording.download" in actions


# who, with which lines, may play a recording of a case on the women line
MATRIX = [
    ("handler", None, True, True),
    ("supervisor", ["women"], True, True),
    ("supervisor", ["child"], False, False),
    ("admin", ["child"], True, False),  # admins: yes, except sexual-violence recordings
    ("officer", ["women"], False, False),  # a colleague on the line: no
]


@pytest.mark.parametrize(("who", "lines", "plays", "plays_sexual_violence"), MATRIX)
@pytest.mark.parametrize("sexual_violence", [False, True])
async def test_who_may_play(
    login_as: Any,
    answered: Answered,
    db: async_sessionmaker[AsyncSession],
    who: str,
    lines: list[str] | None,
    plays: bool,
    plays_sexual_violence: bool,
    sexual_violence: bool,
) -> None:
    handler, handler_officer = await login_as("officer", lines=["women"])
    category = "sexual_violence" if sexual_violence else "domestic_violence"
    contact, _ = await answered(handler_officer, category=category)
    chunks = random_chunks(1, 1000)
    recording_id = await upload(handler, contact.id, chunks)
    if who == "handler":
        browser = handler
    else:
        browser, _ = await login_as(who, lines=lines)
    allowed = plays_sexual_violence if sexual_violence else plays
    response = await browser.get(f"/api/recordings/{recording_id}/media")
    async with db() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_id == recording_id)
                .order_by(AuditEvent.id)
            )
        ).all()
    if allowed:
        assert response.status == 200
        assert await response.read() == chunks[0]
        assert actions[-1] == "recording.play"
    else:
        assert response.status in (403, 404)
        assert actions[-1] == "recording.access_refused"
        details = await browser.get(f"/api/recordings/{recording_id}")
        assert details.status in (403, 404)
    listed = await browser.get(f"/api/cases/{contact.case_id}/recordings")
    ids = [r["id"] for r in (await listed.json())["recordings"]] if listed.status == 200 else []
    assert (recording_id in ids) == allowed


async def test_a_refusal_of_a_visible_case_says_why(login_as: Any, answered: Answered) -> None:
    handler, officer = await login_as("officer", lines=["women"])
    contact, _ = await answered(officer, category="sexual_violence")
    recording_id = await upload(handler, contact.id, random_chunks(1, 100))
    admin, _ = await login_as("admin")
    response = await admin.get(f"/api/recordings/{recording_id}/media")
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "recording_forbidden"
