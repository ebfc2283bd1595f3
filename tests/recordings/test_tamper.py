"""Tampering with one stored byte is found, and named, by `safecall recordings verify`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recordings import custody
from recordings.models import RecordingChunk
from recordings.service import RECORDINGS
from safecall import cli
from safecall.state import DB
from tests.recordings.conftest import Answered, alter_stored_chunk, random_chunks, upload


async def _blob(db: async_sessionmaker[AsyncSession], recording_id: str, index: int) -> str:
    async with db() as session:
        blob = await session.scalar(
            select(RecordingChunk.blob).where(
                RecordingChunk.recording_id == recording_id, RecordingChunk.index == index
            )
        )
    assert blob is not None
    return blob


async def test_one_flipped_byte_in_a_chunk_is_named(
    login_as: Any,
    answered: Answered,
    client: Any,
    db: async_sessionmaker[AsyncSession],
    env: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    recording_id = await upload(browser, contact.id, random_chunks(4, 5000))
    store = client.app[RECORDINGS].store
    assert await custody.check(client.app[DB], store, recording_id) is None

    await alter_stored_chunk(store, db, recording_id, await _blob(db, recording_id, 2), 40)

    problem = await custody.check(client.app[DB], store, recording_id)
    assert problem is not None and f"chunk 2 of recording {recording_id}" in problem
    # Playback stops at the altered chunk rather than hand out its bytes.
    response = await browser.get(f"/api/recordings/{recording_id}/media")
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
    first = await browser.get(
        f"/api/recordings/{recording_id}/media", headers={"Range": "bytes=11000-11010"}
    )
    assert first.status == 500
    assert (await first.json())["error"]["code"] == "recording_damaged"


def test_the_verify_command_names_the_first_broken_chunk(
    env: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from recordings.keys import RecordingsKey
    from recordings.store import open_store

    async def record() -> str:
        from cases.sessions import open_contact
        from safecall.db import create_engine, session_factory
        from sealing.data_key import DataKey
        from tests.support import FakeClock

        engine = create_engine(env.database_url)
        db = session_factory(engine)
        key = RecordingsKey.load(env.recordings_key_file)
        store = open_store(env.recordings_store, env.var_dir / "recordings", key, db)
        now = FakeClock()()
        async with db() as session, session.begin():
            contact, _ = await open_contact(
                session,
                DataKey.load(env.data_key_file),
                service_line="women",
                channel="phone",
                now=now,
            )
            recording = await custody.start(
                session,
                contact,
                kind="phone",
                media_type="audio/wav",
                tracks=[],
                key_id=store.key.current,
                now=now,
            )
        for index, chunk in enumerate(random_chunks(3, 2000)):
            await custody.add_chunk(db, store, recording.id, index, chunk, now)
        await custody.close(db, store, recording.id, state="complete", now=now)
        await engine.dispose()
        return recording.id

    async def alter(recording_id: str) -> None:
        from safecall.db import create_engine, session_factory

        engine = create_engine(env.database_url)
        db = session_factory(engine)
        key = RecordingsKey.load(env.recordings_key_file)
        store = open_store(env.recordings_store, env.var_dir / "recordings", key, db)
        await alter_stored_chunk(store, db, recording_id, await _blob(db, recording_id, 1), -1)
        await engine.dispose()

    recording_id = asyncio.run(record())
    assert cli.main(["recordings", "verify"]) == 0
    assert "recordings intact: 1 checked" in capsys.readouterr().out
    asyncio.run(alter(recording_id))
    assert cli.main(["recordings", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"chunk 1 of recording {recording_id}" in err
    assert "altered" in err


async def test_the_database_refuses_to_change_or_remove_a_received_chunk(
    login_as: Any, answered: Answered, db: async_sessionmaker[AsyncSession]
) -> None:
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    await upload(browser, contact.id, random_chunks(1, 100))
    for statement in (
        update(RecordingChunk).values(sha256="0" * 64),
        delete(RecordingChunk),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db() as session, session.begin():
                await session.execute(statement)
