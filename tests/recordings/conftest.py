"""Recordings fixtures: the key files, an answered session, a recording uploaded through the API."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.log import ensure_signing_key
from cases.models import Case, ContactSession
from cases.sessions import mark_answered, open_contact
from recordings.keys import RecordingsKey
from recordings.models import RecordingBlob
from recordings.store import ChunkStore, DirectoryStore
from safecall.settings import Settings
from sealing.data_key import DataKey
from tests.support import FakeClock, origin_of, put_in_env

Answered = Callable[..., Awaitable[tuple[ContactSession, Case]]]


@pytest.fixture
def settings(tmp_path: Path, database_url: str, page_socket: socket.socket) -> Settings:
    """Both chunk stores run here, each with the database it serves: the directory
    (the embedded default) with SQLite, the shared database store with PostgreSQL."""
    var = tmp_path / "var"
    var.mkdir(exist_ok=True)
    for name in ("audit.key", "evidence.key"):
        ensure_signing_key(var / name)
    DataKey.ensure_file(var / "data.key")
    RecordingsKey.ensure_file(var / "recordings.key")
    return Settings(
        var_dir=var,
        database_url=database_url,
        data_key_file=var / "data.key",
        audit_key_file=var / "audit.key",
        recordings_key_file=var / "recordings.key",
        evidence_key_file=var / "evidence.key",
        recordings_store="local" if database_url.startswith("sqlite") else "database",
        allowed_origins=(origin_of(page_socket),),
    )


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The same settings as environment variables, for the ``safecall`` command."""
    put_in_env(monkeypatch, settings)
    return settings


@pytest.fixture
def answered(db: async_sessionmaker[AsyncSession], data_key: DataKey, clock: FakeClock) -> Answered:
    """``contact, case = await answered(officer, category=..., channel=...)``."""

    async def make(officer: Any, **fields: Any) -> tuple[ContactSession, Case]:
        values: dict[str, Any] = {
            "service_line": "women",
            "channel": "browser_video",
            "now": clock(),
        }
        values.update(fields)
        async with db() as session, session.begin():
            contact, case = await open_contact(session, data_key, **values)
            await mark_answered(session, contact, officer_id=officer.id, answered_at=clock())
        return contact, case

    return make


Client = TestClient[Any, Any]


async def upload(browser: Client, session_id: str, chunks: list[bytes]) -> str:
    """Start a recording, send ``chunks`` in order, close it; the recording id."""
    response = await browser.post(
        f"/api/sessions/{session_id}/recordings",
        json={"kind": "video", "media_type": "video/webm;codecs=vp8,opus", "tracks": ["remote"]},
    )
    assert response.status == 201, await response.text()
    recording_id: str = (await response.json())["id"]
    for index, chunk in enumerate(chunks):
        put = await browser.put(f"/api/recordings/{recording_id}/chunks/{index}", data=chunk)
        assert put.status == 201, await put.text()
    closed = await browser.post(f"/api/recordings/{recording_id}/close", json={})
    assert closed.status == 200, await closed.text()
    return recording_id


def random_chunks(count: int = 4, size: int = 50_000) -> list[bytes]:
    return [os.urandom(size + i * 997) for i in range(count)]


async def alter_stored_chunk(
    store: ChunkStore, db: async_sessionmaker[AsyncSession], recording_id: str, blob: str, at: int
) -> None:
    """Flip one bit of a stored (sealed) chunk, as someone with the disk or the database
    in hand could: in its file, or in its row (past the write-once trigger)."""
    if isinstance(store, DirectoryStore):
        path = store.path(recording_id, blob)
        raw = bytearray(path.read_bytes())
        raw[at] ^= 0x01
        path.write_bytes(bytes(raw))
        return
    where = (RecordingBlob.recording_id == recording_id) & (RecordingBlob.name == blob)
    async with db() as session, session.begin():
        raw = bytearray(await session.scalar(select(RecordingBlob.data).where(where)) or b"")
        raw[at] ^= 0x01
        postgres = session.bind.dialect.name == "postgresql"
        if postgres:
            await session.execute(
                text("ALTER TABLE recording_blobs DISABLE TRIGGER recording_blobs_append_only")
            )
        else:
            await session.execute(text("DROP TRIGGER recording_blobs_no_update"))
        await session.execute(update(RecordingBlob).where(where).values(data=bytes(raw)))
        if postgres:
            await session.execute(
                text("ALTER TABLE recording_blobs ENABLE TRIGGER recording_blobs_append_only")
            )
