"""A deployment's worth of data: a case with sealed details, signed audit events, a recording."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from audit.log import AuditLog
from cases.sessions import ComplainantDetails, open_contact
from recordings import custody
from recordings.keys import RecordingsKey
from recordings.store import open_store
from safecall.db import create_engine, session_factory
from safecall.settings import Settings
from sealing.data_key import DataKey
from tests.support import POSTGRES_ADMIN_URL, FakeClock, put_in_env


@dataclass(frozen=True)
class Held:
    tracking_code: str
    recording_id: str


def populate(settings: Settings) -> Held:
    """Write what a running deployment holds, with the settings' keys and store."""

    async def run() -> Held:
        engine = create_engine(settings.database_url)
        db = session_factory(engine)
        now = FakeClock()()
        key = RecordingsKey.load(settings.recordings_key_file)
        store = open_store(settings.recordings_store, settings.var_dir / "recordings", key, db)
        try:
            async with db() as session, session.begin():
                contact, case = await open_contact(
                    session,
                    DataKey.load(settings.data_key_file),
                    service_line="women",
                    channel="browser_video",
                    now=now,
                    anonymous=False,
                    complainant=ComplainantDetails(name="A. Complainant", phone="+923001234567"),
                )
                recording = await custody.start(
                    session,
                    contact,
                    kind="video",
                    media_type="video/webm",
                    tracks=["officer", "citizen"],
                    key_id=key.current,
                    now=now,
                )
            for index in range(3):
                await custody.add_chunk(db, store, recording.id, index, os.urandom(3000), now)
            await custody.close(db, store, recording.id, state="complete", now=now)
            audit = AuditLog(db, settings.audit_key_file, clock=FakeClock())
            await audit.record(
                actor_kind="system",
                officer_id=None,
                action="case.read",
                object_type="case",
                object_id=str(case.id),
            )
            await audit.close()
            return Held(case.tracking_code, recording.id)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings as environment variables, for the ``safecall`` command."""
    put_in_env(monkeypatch, settings)
    return settings


async def admin_sql(sql: str) -> None:
    """One statement as PostgreSQL's administrator (CREATE/DROP DATABASE)."""
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()
