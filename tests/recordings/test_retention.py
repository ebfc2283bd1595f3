"""Retention: expiry per category and for FIR cases, legal holds, and the purge command."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from audit.models import AuditEvent
from cases.models import Case
from recordings import custody
from recordings.keys import RecordingsKey
from recordings.models import Recording, RecordingBlob, RecordingChunk
from recordings.retention import RetentionPolicy, expires_at
from recordings.store import open_store
from safecall import cli
from safecall.db import create_engine, session_factory
from safecall.settings import Settings
from sealing.data_key import DataKey
from tests.recordings.conftest import random_chunks

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def _make(settings: Settings, specs: list[dict[str, object]]) -> list[str]:
    """One closed recording per spec (case fields + ``hold``), recorded at T0."""
    from cases.sessions import open_contact

    async def run() -> list[str]:
        engine = create_engine(settings.database_url)
        db = session_factory(engine)
        store = open_store(
            settings.recordings_store,
            settings.var_dir / "recordings",
            RecordingsKey.load(settings.recordings_key_file),
            db,
        )
        ids = []
        for spec in specs:
            async with db() as session, session.begin():
                contact, case = await open_contact(
                    session,
                    DataKey.load(settings.data_key_file),
                    service_line="women",
                    channel="phone",
                    now=T0,
                    category=str(spec.get("category", "harassment")),
                )
                recording = await custody.start(
                    session,
                    contact,
                    kind="phone",
                    media_type="audio/wav",
                    tracks=[],
                    key_id=store.key.current,
                    now=T0,
                )
                await session.execute(
                    update(Case)
                    .where(Case.id == case.id)
                    .values(
                        fir_number=spec.get("fir"),
                        closed_at=spec.get("closed_at"),
                        status="closed" if spec.get("closed_at") else "new",
                    )
                )
            await custody.add_chunk(db, store, recording.id, 0, random_chunks(1, 500)[0], T0)
            await custody.close(db, store, recording.id, state="complete", now=T0)
            if spec.get("hold"):
                async with db() as session, session.begin():
                    await session.execute(
                        update(Recording)
                        .where(Recording.id == recording.id)
                        .values(legal_hold=True, hold_reason="court order 12/2026")
                    )
            ids.append(recording.id)
        await engine.dispose()
        return ids

    return asyncio.run(run())


def _state(settings: Settings) -> tuple[dict[str, bool], list[tuple[str, str | None]], int]:
    async def run() -> tuple[dict[str, bool], list[tuple[str, str | None]], int]:
        engine = create_engine(settings.database_url)
        async with session_factory(engine)() as session:
            purged = {
                r.id: r.purged_at is not None for r in (await session.scalars(select(Recording)))
            }
            audits = [
                (a, o)
                for a, o in (
                    await session.execute(
                        select(AuditEvent.action, AuditEvent.object_id).order_by(AuditEvent.id)
                    )
                ).all()
            ]
            chunks = len((await session.scalars(select(RecordingChunk))).all())
        await engine.dispose()
        return purged, audits, chunks

    return asyncio.run(run())


def test_purge_keeps_held_and_open_fir_recordings_and_audits_each_deletion(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    old, held, fir_open, fir_closed_long_ago, fir_closed_recently, young = _make(
        env,
        [
            {},
            {"hold": True},
            {"fir": "FIR-1/2025"},
            {"fir": "FIR-2/2025", "closed_at": now - timedelta(days=4 * 365)},
            {"fir": "FIR-3/2025", "closed_at": now - timedelta(days=30)},
            {"category": "cyber_harassment"},
        ],
    )
    # cyber_harassment recordings are kept 10 years here
    args = ["recordings", "purge", "--category-days", "cyber_harassment=3650"]
    assert cli.main([*args, "--dry-run"]) == 0
    assert "2 recording(s) past retention" in capsys.readouterr().out
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "[1/2] purged" in out and "[2/2] purged" in out and "2 recording(s) purged" in out
    purged, audits, chunks = _state(env)
    assert {k for k, v in purged.items() if v} == {old, fir_closed_long_ago}
    assert ("recording.purge", old) in audits and ("recording.purge", fir_closed_long_ago) in audits
    assert chunks == 6  # the hashes stay; the files go
    assert _stored(env) == {held, fir_open, fir_closed_recently, young}
    # A second run finds nothing more; releasing the hold lets it go.
    assert cli.main(args) == 0
    assert "0 recording(s) purged" in capsys.readouterr().out
    case_of_held = _case_of(env, held)
    assert cli.main(["recordings", "release", str(case_of_held)]) == 0
    assert cli.main(args) == 0
    assert "1 recording(s) purged" in capsys.readouterr().out
    purged, audits, _ = _state(env)
    assert purged[held] and ("recording.release", held) in audits


def _stored(settings: Settings) -> set[str]:
    """The recordings whose sealed chunks are still stored (files, or rows)."""
    if settings.recordings_store == "local":
        return {p.name for p in (settings.var_dir / "recordings").iterdir() if p.is_dir()}

    async def run() -> set[str]:
        engine = create_engine(settings.database_url)
        async with session_factory(engine)() as session:
            ids = set((await session.scalars(select(RecordingBlob.recording_id))).all())
        await engine.dispose()
        return ids

    return asyncio.run(run())


def _case_of(settings: Settings, recording_id: str) -> int:
    async def run() -> int:
        engine = create_engine(settings.database_url)
        async with session_factory(engine)() as session:
            row = await session.get(Recording, recording_id)
        await engine.dispose()
        assert row is not None
        return row.case_id

    return asyncio.run(run())


def test_hold_command_holds_every_recording_of_the_case(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    (rid,) = _make(env, [{}])
    case_id = _case_of(env, rid)
    assert cli.main(["recordings", "hold", str(case_id), "--reason", "court order 7"]) == 0
    assert cli.main(["recordings", "purge"]) == 0
    assert "0 recording(s) purged" in capsys.readouterr().out
    purged, audits, _ = _state(env)
    assert not purged[rid] and ("recording.hold", rid) in audits


@given(
    category=st.sampled_from(["harassment", "acid_attack", "other"]),
    fir=st.booleans(),
    closed_days=st.none() | st.integers(0, 5000),
    hold=st.booleans(),
    state=st.sampled_from(["open", "complete", "incomplete", "failed"]),
)
def test_expiry_rules(
    category: str, fir: bool, closed_days: int | None, hold: bool, state: str
) -> None:
    policy = RetentionPolicy(default_days=365, category_days={"acid_attack": 900})
    closed = None if closed_days is None else T0 + timedelta(days=closed_days)
    case = Case(category=category, fir_number="F" if fir else None, status="new", closed_at=closed)
    recording = Recording(
        state=state, legal_hold=hold, started_at=T0, closed_at=T0 if state != "open" else None
    )
    when = expires_at(recording, case, policy)
    if hold or state == "open" or (fir and closed is None):
        assert when is None
    elif fir:
        assert closed is not None and when == closed + timedelta(days=3 * 365)
    else:
        assert when == T0 + timedelta(days=900 if category == "acid_attack" else 365)


def test_a_bad_category_days_value_is_refused(
    env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["recordings", "purge", "--category-days", "x=soon"]) == 2
    assert "CATEGORY=DAYS" in capsys.readouterr().err
