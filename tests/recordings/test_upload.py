"""Uploading a video call from the console: chunks in order, idempotent, resumable."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import TimelineEvent
from recordings import custody
from recordings.models import Recording, RecordingBlob, RecordingChunk
from recordings.service import RECORDINGS
from recordings.store import DirectoryStore
from safecall.state import DB
from tests.recordings.conftest import Answered, random_chunks, upload
from tests.support import FakeClock


async def _start(browser: Any, session_id: str) -> str:
    response = await browser.post(
        f"/api/sessions/{session_id}/recordings",
        json={"media_type": "video/webm", "tracks": ["remote", "local"]},
    )
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["state"] == "open" and body["next_index"] == 0
    return str(body["id"])


async def _media(browser: Any, recording_id: str) -> bytes:
    response = await browser.get(f"/api/recordings/{recording_id}/media")
    assert response.status == 200
    return bytes(await response.read())


async def test_round_trip_hashes_and_chain(login_as: Any, answered: Answered, openapi: Any) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    chunks = random_chunks()
    recording_id = await upload(browser, contact.id, chunks)
    assert await _media(browser, recording_id) == b"".join(chunks)
    details = await browser.get(f"/api/recordings/{recording_id}")
    body = await details.json()
    openapi.check("GET", "/api/recordings/{recording_id}", 200, body)
    import hashlib

    assert body["state"] == "complete"
    assert body["sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()
    head = None
    for index, chunk in enumerate(chunks):
        head = custody.chain(head, index, hashlib.sha256(chunk).hexdigest())
    assert body["chain_head"] == head
    assert body["size"] == sum(map(len, chunks)) and body["chunk_count"] == len(chunks)
    listed = await browser.get(f"/api/cases/{contact.case_id}/recordings")
    openapi.check("GET", "/api/cases/{case_id}/recordings", 200, await listed.json())
    again = await browser.put(f"/api/recordings/{recording_id}/chunks/0", data=chunks[0])
    receipt = await again.json()
    openapi.check("PUT", "/api/recordings/{recording_id}/chunks/{index}", 201, receipt)
    assert receipt["created"] is False and receipt["next_index"] == len(chunks)


async def test_same_chunk_again_changes_nothing_other_content_conflicts(
    login_as: Any, answered: Answered, db: async_sessionmaker[AsyncSession]
) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    recording_id = await _start(browser, contact.id)
    first = await browser.put(f"/api/recordings/{recording_id}/chunks/0", data=b"a" * 100)
    assert first.status == 201
    again = await browser.put(f"/api/recordings/{recording_id}/chunks/0", data=b"a" * 100)
    assert again.status == 200
    body = await again.json()
    assert body["created"] is False and body["next_index"] == 1
    other = await browser.put(f"/api/recordings/{recording_id}/chunks/0", data=b"b" * 100)
    assert other.status == 409
    assert (await other.json())["error"]["code"] == "chunk_conflict"
    gap = await browser.put(f"/api/recordings/{recording_id}/chunks/3", data=b"c" * 10)
    assert gap.status == 409
    assert (await gap.json())["error"]["code"] == "chunk_out_of_order"
    assert gap.headers["X-Next-Chunk"] == "1"
    async with db() as session:
        rows = (await session.scalars(select(RecordingChunk))).all()
    assert [(r.index, r.size) for r in rows] == [(0, 100)]


async def test_bad_chunks_are_refused_and_leave_nothing(
    login_as: Any, answered: Answered, db: async_sessionmaker[AsyncSession], app: Any
) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    recording_id = await _start(browser, contact.id)
    cases = [
        ("0", b"", 400, "empty_chunk"),
        ("x", b"1", 400, "invalid_chunk_index"),
        ("-1", b"1", 400, "invalid_chunk_index"),
        ("0", b"z" * (custody.MAX_CHUNK + 1), 413, "chunk_too_large"),
    ]
    for index, data, status, code in cases:
        response = await browser.put(
            f"/api/recordings/{recording_id}/chunks/{index}", data=io.BytesIO(data)
        )
        assert response.status == status, (index, await response.text())
        assert (await response.json())["error"]["code"] == code
    missing = await browser.put(f"/api/recordings/{'0' * 32}/chunks/0", data=b"1")
    assert missing.status == 404
    async with db() as session:
        assert (await session.scalars(select(RecordingChunk))).all() == []
    store = app[RECORDINGS].store
    if isinstance(store, DirectoryStore):
        folder = store.root / recording_id
        assert not folder.exists() or list(folder.iterdir()) == []
    async with db() as session:
        assert (await session.scalars(select(RecordingBlob))).all() == []


async def test_only_the_handling_officer_uploads(login_as: Any, answered: Answered) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    other, _ = await login_as("supervisor")
    refused = await other.post(
        f"/api/sessions/{contact.id}/recordings", json={"media_type": "video/webm"}
    )
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "not_handling_officer"
    recording_id = await _start(browser, contact.id)
    put = await other.put(f"/api/recordings/{recording_id}/chunks/0", data=b"x")
    assert put.status == 403
    close = await other.post(f"/api/recordings/{recording_id}/close", json={})
    assert close.status == 403


async def test_a_write_from_another_site_is_refused(login_as: Any, answered: Answered) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    recording_id = await _start(browser, contact.id)
    response = await browser.put(
        f"/api/recordings/{recording_id}/chunks/0",
        data=b"x",
        headers={"Origin": "https://evil.example"},
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "bad_origin"


async def test_resume_after_a_broken_upload_loses_and_repeats_nothing(
    login_as: Any, answered: Answered, client: Any
) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    recording_id = await _start(browser, contact.id)
    chunks = random_chunks(5, 20_000)
    for index in (0, 1):
        assert (
            await browser.put(f"/api/recordings/{recording_id}/chunks/{index}", data=chunks[index])
        ).status == 201
    # Chunk 2 breaks half way: the connection drops with half the body sent.
    cookie = browser.session.cookie_jar.filter_cookies(browser.make_url("/"))
    _reader, writer = await asyncio.open_connection(client.host, client.port)
    head = (
        f"PUT /api/recordings/{recording_id}/chunks/2 HTTP/1.1\r\n"
        f"Host: {client.host}:{client.port}\r\n"
        f"Cookie: safecall_session={cookie['safecall_session'].value}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {len(chunks[2])}\r\n\r\n"
    )
    writer.write(head.encode() + chunks[2][: len(chunks[2]) // 2])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    # The uploader resumes: asks where to go on, re-sends what it is unsure of.
    for _ in range(50):
        state = await (await browser.get(f"/api/recordings/{recording_id}")).json()
        if state["next_index"] == 2:
            break
        await asyncio.sleep(0.05)
    assert state["next_index"] == 2
    again = await browser.put(f"/api/recordings/{recording_id}/chunks/1", data=chunks[1])
    assert again.status == 200
    for index in (2, 3, 4):
        assert (
            await browser.put(f"/api/recordings/{recording_id}/chunks/{index}", data=chunks[index])
        ).status == 201
    assert (await browser.post(f"/api/recordings/{recording_id}/close", json={})).status == 200
    assert await _media(browser, recording_id) == b"".join(chunks)


async def test_a_console_that_dies_leaves_an_incomplete_recording(
    login_as: Any,
    answered: Answered,
    app: Any,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    recording_id = await _start(browser, contact.id)
    chunks = random_chunks(2, 1000)
    for index, chunk in enumerate(chunks):
        await browser.put(f"/api/recordings/{recording_id}/chunks/{index}", data=chunk)
    assert await custody.sweep(app[DB], app[RECORDINGS].store, clock()) == []
    clock.advance(600)
    closed = await custody.sweep(app[DB], app[RECORDINGS].store, clock())
    assert closed == [recording_id]
    state = await (await browser.get(f"/api/recordings/{recording_id}")).json()
    assert state["state"] == "incomplete"
    assert "complete up to chunk 1" in state["reason"]
    assert await _media(browser, recording_id) == b"".join(chunks)
    late = await browser.put(f"/api/recordings/{recording_id}/chunks/2", data=b"late")
    assert late.status == 409 and (await late.json())["error"]["code"] == "recording_closed"
    async with db() as session:
        kinds = (
            await session.scalars(
                select(TimelineEvent.kind).where(TimelineEvent.session_id == contact.id)
            )
        ).all()
    assert "recording.started" in kinds and "recording.incomplete" in kinds


async def test_a_failed_recording_is_logged_on_the_session_with_its_reason(
    login_as: Any, answered: Answered, db: async_sessionmaker[AsyncSession]
) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    recording_id = await _start(browser, contact.id)
    failed = await browser.post(
        f"/api/recordings/{recording_id}/fail", json={"reason": "MediaRecorder error: no space"}
    )
    assert failed.status == 200
    assert (await failed.json())["state"] == "failed"
    nostart = await browser.post(
        f"/api/sessions/{contact.id}/recording-failures",
        json={"reason": "this browser has no MediaRecorder"},
    )
    assert nostart.status == 204
    async with db() as session:
        events = (
            await session.scalars(
                select(TimelineEvent).where(
                    TimelineEvent.session_id == contact.id, TimelineEvent.kind == "recording.failed"
                )
            )
        ).all()
    reasons = sorted(e.data["reason"] for e in events)
    assert reasons == ["MediaRecorder error: no space", "this browser has no MediaRecorder"]


async def test_the_phone_bridge_writer_cuts_chunks_and_closes(
    login_as: Any, answered: Answered, client: Any, db: async_sessionmaker[AsyncSession]
) -> None:
    from recordings.service import open_recording

    browser, officer = await login_as("officer")
    contact, _ = await answered(officer, channel="phone")
    writer = await open_recording(
        client.app,
        session_id=contact.id,
        kind="phone",
        media_type="audio/wav",
        tracks=["caller", "officer"],
        chunk_bytes=4096,
    )
    sent = random_chunks(1, 10_000)[0]
    for start in range(0, len(sent), 1000):
        await writer.append(sent[start : start + 1000])
    recording = await writer.close(complete=True, duration_seconds=0.6)
    assert recording.state == "complete" and recording.chunk_count == 3
    async with db() as session:
        sizes = (
            await session.scalars(
                select(RecordingChunk.size)
                .where(RecordingChunk.recording_id == recording.id)
                .order_by(RecordingChunk.index)
            )
        ).all()
        row = await session.get(Recording, recording.id)
    assert list(sizes) == [4096, 4096, len(sent) - 8192]
    assert row is not None and row.duration_seconds == 0.6
    assert await _media(browser, recording.id) == sent


async def test_without_a_key_the_recording_fails_with_its_reason_and_the_call_goes_on(
    login_as: Any, answered: Answered, settings: Any, db: async_sessionmaker[AsyncSession]
) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    await asyncio.to_thread(settings.recordings_key_file.unlink)
    response = await browser.post(
        f"/api/sessions/{contact.id}/recordings", json={"media_type": "video/webm"}
    )
    assert response.status == 503
    body = await response.json()
    assert body["error"]["code"] == "recordings_unavailable"
    assert "safecall keys" in body["error"]["message"]
    async with db() as session:
        failed = (
            await session.scalars(
                select(TimelineEvent).where(
                    TimelineEvent.session_id == contact.id, TimelineEvent.kind == "recording.failed"
                )
            )
        ).all()
        assert (await session.scalars(select(Recording))).all() == []
    assert len(failed) == 1 and "safecall keys" in failed[0].data["reason"]


async def test_at_session_end_an_unclosed_recording_becomes_incomplete_after_a_grace(
    login_as: Any,
    answered: Answered,
    app: Any,
    clock: FakeClock,
    db: async_sessionmaker[AsyncSession],
) -> None:
    from cases.models import ContactSession
    from cases.sessions import end_session

    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    recording_id = await _start(browser, contact.id)
    await browser.put(f"/api/recordings/{recording_id}/chunks/0", data=b"x" * 100)
    clock.advance(5)
    async with db() as session, session.begin():
        row = await session.get(ContactSession, contact.id)
        assert row is not None
        await end_session(session, row, disposition="answered", now=clock())
    # The console's last chunk may still be on its way: not yet.
    assert await custody.sweep(app[DB], app[RECORDINGS].store, clock()) == []
    late = await browser.put(f"/api/recordings/{recording_id}/chunks/1", data=b"y" * 100)
    assert late.status == 201
    clock.advance(31)
    assert await custody.sweep(app[DB], app[RECORDINGS].store, clock()) == [recording_id]
    state = await (await browser.get(f"/api/recordings/{recording_id}")).json()
    assert state["state"] == "incomplete" and state["chunk_count"] == 2
    assert state["reason"].startswith("the session ended")
