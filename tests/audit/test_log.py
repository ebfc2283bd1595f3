"""The audit log on real SQLite and PostgreSQL: chain, signing, serialised appends,
append-only triggers, and tampering found at exactly the event that was touched."""

from __future__ import annotations

import asyncio
import itertools
import os
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.log import (
    GENESIS,
    AuditLog,
    checkpoint_message,
    ensure_signing_key,
    hash_of,
    key_id,
    load_signing_key,
    load_verify_key,
    public_key_pem,
    verify,
)
from audit.models import AuditCheckpoint, AuditEvent
from safecall.db import create_engine, session_factory
from safecall.settings import Settings
from tests.support import FakeClock

Db = async_sessionmaker[AsyncSession]
MakeLog = Callable[..., AuditLog]


@pytest.fixture
async def make_log(db: Db, settings: Settings, clock: FakeClock) -> AsyncIterator[MakeLog]:
    """``make_log(sign_every=3)``: an AuditLog on the test database, closed afterwards."""
    made: list[AuditLog] = []

    def make(database: Db | None = None, **options: Any) -> AuditLog:
        audit = AuditLog(database or db, settings.audit_key_file, clock, **options)
        made.append(audit)
        return audit

    yield make
    for audit in made:
        await audit.close()


async def record(audit: AuditLog, n: int = 1, **fields: Any) -> None:
    for i in range(n):
        values: dict[str, Any] = {
            "actor_kind": "officer",
            "officer_id": 7,
            "action": "case.read",
            "object_type": "case",
            "object_id": str(100 + i),
            "address": "203.0.113.9",
            "detail": {"fields": ["status", "district"], "page": i},
        }
        values.update(fields)
        await audit.record(**values)


async def events(db: Db) -> list[Any]:
    async with db() as session:
        return list((await session.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars())


async def signed_event_ids(db: Db) -> list[int]:
    async with db() as session:
        rows = await session.execute(select(AuditCheckpoint.event_id).order_by(AuditCheckpoint.id))
        return list(rows.scalars())


def public_key(settings: Settings) -> Any:
    return load_verify_key(settings.audit_key_file)


async def tamper(db: Db, sql: str, **params: Any) -> None:
    """Run ``sql`` with the append-only triggers out of the way, then put them back."""
    async with db() as session, session.begin():
        conn = await session.connection()
        if conn.dialect.name == "postgresql":
            for table in ("audit_events", "audit_checkpoints"):
                await conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            await conn.execute(text(sql), params)
            for table in ("audit_events", "audit_checkpoints"):
                await conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            return
        triggers = (
            await conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND name LIKE 'audit_%'"
            )
        ).all()
        assert len(triggers) == 4
        for name, _ in triggers:
            await conn.exec_driver_sql(f"DROP TRIGGER {name}")
        await conn.execute(text(sql), params)
        for _, create in triggers:
            await conn.exec_driver_sql(create)


# --- keys -----------------------------------------------------------------------------


def test_signing_key_is_created_once_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.key"
    assert ensure_signing_key(path) is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = path.read_bytes()
    assert ensure_signing_key(path) is False
    assert path.read_bytes() == first
    key = load_signing_key(path)
    assert key_id(key.public_key()) == key_id(load_verify_key(path))
    assert len(key_id(key.public_key())) == 16


def test_verify_key_loads_from_a_public_key_file(tmp_path: Path) -> None:
    private = tmp_path / "audit.key"
    ensure_signing_key(private)
    public = tmp_path / "audit.pub"
    public.write_text(public_key_pem(load_verify_key(private)))
    assert key_id(load_verify_key(public)) == key_id(load_verify_key(private))
    with pytest.raises(ValueError, match="holds a public key"):
        load_signing_key(public)


def test_missing_or_bad_key_files_are_refused_with_the_file_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"does not exist; run `safecall keys`"):
        load_verify_key(tmp_path / "nowhere.key")
    garbage = tmp_path / "garbage.key"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ValueError, match=r"garbage.key does not hold an Ed25519 key"):
        load_signing_key(garbage)


# --- the chain ------------------------------------------------------------------------


async def test_chain_links_each_event_to_the_one_before_and_verifies(
    make_log: MakeLog, db: Db, settings: Settings, clock: FakeClock
) -> None:
    audit = make_log()
    await record(audit, 3)
    clock.advance(1.5)
    await audit.record(
        actor_kind="public",
        officer_id=None,
        action="tracking.read",
        object_type="case",
        detail={"nested": {"b": [1, 2.5, None, True], "a": "ünïcode"}, "tuple": (1, 2)},
    )
    rows = await events(db)
    assert [r.id for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    for row in rows:
        assert row.hash == hash_of({name: getattr(row, name) for name in vars(row)})
    assert rows[3].at == clock.now
    assert rows[3].object_id is None and rows[3].address is None
    assert rows[3].detail["tuple"] == [1, 2]

    verdict = await verify(db, public_key(settings))
    assert verdict.broken is None
    assert verdict.events == 4


async def test_empty_log_verifies(db: Db, settings: Settings) -> None:
    verdict = await verify(db, public_key(settings))
    assert (verdict.broken, verdict.events, verdict.checkpoints) == (None, 0, 0)
    assert verdict.warnings == []


async def test_verify_streams_in_batches_across_the_whole_chain(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    await record(make_log(sign_every=4), 11)
    verdict = await verify(db, public_key(settings), batch=3)
    assert verdict.broken is None
    assert (verdict.events, verdict.checkpoints) == (11, 3)  # events 1, 5, 9


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"actor_kind": "Officer"}, "actor_kind"),
        ({"action": "case read"}, "action"),
        ({"action": "case." + "x" * 48}, "action"),
        ({"object_type": ""}, "object_type"),
        ({"object_id": "9" * 65}, "object_id"),
        ({"address": 12}, "address"),
        ({"officer_id": "7"}, "officer_id"),
        ({"detail": ["not", "an", "object"]}, "JSON object"),
        ({"detail": {"when": object()}}, "JSON values"),
        ({"detail": {"ratio": float("nan")}}, "JSON values"),
        ({"object_id": "a\x00b"}, "object_id"),
        ({"detail": {1: "a", "b": 2}}, "JSON values"),
    ],
)
async def test_bad_fields_are_refused_and_nothing_is_written(
    make_log: MakeLog, db: Db, fields: dict[str, Any], message: str
) -> None:
    audit = make_log()
    with pytest.raises(ValueError, match=message):
        await record(audit, **fields)
    assert await events(db) == []


async def test_a_closed_log_refuses_to_record(make_log: MakeLog) -> None:
    audit = make_log()
    await audit.close()
    with pytest.raises(RuntimeError, match="closed"):
        await record(audit)


# --- signing --------------------------------------------------------------------------


async def test_head_is_signed_every_n_events(make_log: MakeLog, db: Db, settings: Settings) -> None:
    await record(make_log(sign_every=3, sign_interval=3600), 7)
    # The very first event is signed at once; then every third.
    assert await signed_event_ids(db) == [1, 4, 7]
    verdict = await verify(db, public_key(settings))
    assert (verdict.checkpoints, verdict.last_signed_event_id) == (3, 7)
    assert verdict.warnings == []


async def test_head_is_signed_when_the_interval_has_passed_on_the_app_clock(
    make_log: MakeLog, db: Db, clock: FakeClock
) -> None:
    audit = make_log(sign_every=1000, sign_interval=60)
    await record(audit)
    clock.advance(59)
    await record(audit)
    assert await signed_event_ids(db) == [1]
    clock.advance(1)
    await record(audit)
    assert await signed_event_ids(db) == [1, 3]
    async with db() as session:
        signed_at = await session.scalar(select(func.max(AuditCheckpoint.signed_at)))
    assert signed_at == clock.now


async def test_close_signs_the_unsigned_tail_and_twice_is_harmless(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    audit = make_log(sign_every=100)
    await record(audit, 3)
    verdict = await verify(db, public_key(settings))
    assert verdict.broken is None
    assert verdict.warnings == [
        "events 2-3 (2) come after the last checkpoint and are not signed yet"
    ]
    await audit.close()
    await audit.close()
    assert await signed_event_ids(db) == [1, 3]
    assert (await verify(db, public_key(settings))).warnings == []


async def test_verify_warns_when_nothing_is_signed(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    await record(make_log(), 2)
    await tamper(db, "DELETE FROM audit_checkpoints")
    verdict = await verify(db, public_key(settings))
    assert verdict.broken is None
    assert verdict.warnings == ["events 1-2 (2) are not signed: there is no checkpoint yet"]


async def test_checkpoint_signs_only_an_unsigned_head(make_log: MakeLog, db: Db) -> None:
    audit = make_log(sign_every=100)
    assert await audit.checkpoint() is False  # empty log
    await record(audit, 2)
    assert await audit.checkpoint() is True
    assert await audit.checkpoint() is False
    assert await signed_event_ids(db) == [1, 2]


async def test_a_quiet_tail_is_signed_by_the_timer(make_log: MakeLog, db: Db) -> None:
    # The app clock stands still: only the background timer can sign event 2.
    audit = make_log(sign_every=100, sign_interval=0.05)
    await record(audit, 2)
    for _ in range(400):
        if await signed_event_ids(db) == [1, 2]:
            break
        await asyncio.sleep(0.025)
    assert await signed_event_ids(db) == [1, 2]


# --- serialised appends ---------------------------------------------------------------


async def test_concurrent_records_in_one_process_never_fork(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    audit = make_log(sign_every=5)
    await asyncio.gather(*(record(audit, object_id=str(i)) for i in range(40)))
    verdict = await verify(db, public_key(settings))
    assert verdict.broken is None
    assert verdict.events == 40
    assert sorted(int(r.object_id) for r in await events(db)) == list(range(40))


async def test_two_processes_writing_at_once_never_fork(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    # Two engines, two logs, two in-process locks: only the database orders them.
    engines = [create_engine(settings.database_url) for _ in range(2)]
    try:
        logs = [make_log(session_factory(engine), sign_every=4) for engine in engines]
        await asyncio.gather(
            *(record(logs[i % 2], object_id=f"{i % 2}-{i}", address=None) for i in range(40))
        )
        for audit in logs:
            await audit.close()
    finally:
        for engine in engines:
            await engine.dispose()
    rows = await events(db)
    assert [r.id for r in rows] == list(range(1, 41))
    assert {r.object_id.split("-")[0] for r in rows} == {"0", "1"}
    verdict = await verify(db, public_key(settings))
    assert verdict.broken is None
    assert verdict.events == 40
    assert verdict.last_signed_event_id == 40


# --- append-only in the database ------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_events SET action = 'case.update' WHERE id = 1",
        "UPDATE audit_events SET hash = prev_hash",
        "DELETE FROM audit_events WHERE id = 1",
        "DELETE FROM audit_events",
        "UPDATE audit_checkpoints SET signature = '00'",
        "DELETE FROM audit_checkpoints",
    ],
)
async def test_database_refuses_update_and_delete(make_log: MakeLog, db: Db, sql: str) -> None:
    await record(make_log(), 2)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db() as session, session.begin():
            await session.execute(text(sql))
    rows = await events(db)
    assert [(r.id, r.action) for r in rows] == [(1, "case.read"), (2, "case.read")]
    assert await signed_event_ids(db) == [1]


# --- tampering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column, value",
    [
        ("action", "case.reae"),
        ("actor_kind", "officeR"),
        ("object_id", "106"),
        ("address", "203.0.113.8"),
        ("officer_id", 8),
        ("detail", '{"fields": ["status", "district"], "page": 6}'),
    ],
)
async def test_one_changed_field_is_reported_at_that_event(
    make_log: MakeLog, db: Db, settings: Settings, column: str, value: Any
) -> None:
    await record(make_log(sign_every=100), 10)
    # Event 6 (index 5) has object_id "105" and detail page 5.
    await tamper(db, f"UPDATE audit_events SET {column} = :value WHERE id = 6", value=value)
    verdict = await verify(db, public_key(settings))
    assert verdict.broken is not None
    assert (verdict.broken.event_id, verdict.broken.kind) == (6, "hash")
    assert verdict.events == 5


async def test_a_changed_timestamp_is_reported_at_that_event(
    make_log: MakeLog, db: Db, settings: Settings, clock: FakeClock
) -> None:
    audit = make_log()
    for _ in range(4):
        clock.advance(1)
        await record(audit)
    rows = await events(db)
    moved = rows[2].at.replace(microsecond=1)
    await tamper(db, "UPDATE audit_events SET at = :at WHERE id = 3", at=moved)
    broken = (await verify(db, public_key(settings))).broken
    assert broken is not None and (broken.event_id, broken.kind) == (3, "hash")


async def test_a_rehashed_event_breaks_the_link_to_the_next(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    await record(make_log(), 5)
    row = (await events(db))[2]
    fields = {name: getattr(row, name) for name in vars(row)} | {"action": "case.close"}
    await tamper(
        db,
        "UPDATE audit_events SET action = 'case.close', hash = :hash WHERE id = 3",
        hash=hash_of(fields),
    )
    broken = (await verify(db, public_key(settings))).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (4, "prev_hash")


async def test_a_rewritten_tail_is_caught_by_the_checkpoint(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    # Someone with the database but not the key rewrites events 6..10 consistently.
    await record(make_log(sign_every=3), 10)
    assert await signed_event_ids(db) == [1, 4, 7, 10]
    rows = await events(db)
    prev = rows[4].hash
    for row in rows[5:]:
        fields = {name: getattr(row, name) for name in vars(row)}
        fields |= {"address": "198.51.100.1", "prev_hash": prev}
        prev = hash_of(fields)
        await tamper(
            db,
            "UPDATE audit_events SET address = '198.51.100.1', prev_hash = :p, hash = :h "
            "WHERE id = :id",
            p=fields["prev_hash"],
            h=prev,
            id=row.id,
        )
    broken = (await verify(db, public_key(settings))).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (7, "checkpoint_hash")


async def test_a_deleted_event_is_reported_as_a_gap(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    await record(make_log(), 6)
    await tamper(db, "DELETE FROM audit_events WHERE id = 4")
    verdict = await verify(db, public_key(settings))
    assert verdict.broken is not None
    assert (verdict.broken.event_id, verdict.broken.kind) == (4, "gap")
    assert "chain goes from 3 to 5" in verdict.broken.message


async def test_deleting_the_first_event_is_reported_as_a_gap(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    await record(make_log(), 3)
    await tamper(db, "DELETE FROM audit_events WHERE id = 1")
    broken = (await verify(db, public_key(settings))).broken
    assert broken is not None and (broken.event_id, broken.kind) == (1, "gap")


async def test_a_cut_off_signed_tail_is_reported(
    make_log: MakeLog, db: Db, settings: Settings
) -> None:
    await record(make_log(sign_every=3), 7)
    await tamper(db, "DELETE FROM audit_events WHERE id > 5")
    verdict = await verify(db, public_key(settings))
    assert verdict.broken is not None
    assert (verdict.broken.event_id, verdict.broken.kind) == (7, "unknown_event")
    assert verdict.events == 5


async def test_a_checkpoint_signed_with_another_key_is_detected(
    make_log: MakeLog, db: Db, settings: Settings, clock: FakeClock
) -> None:
    await record(make_log(sign_every=100), 5)
    rows = await events(db)
    forger = Ed25519PrivateKey.generate()
    async with db() as session, session.begin():
        await session.execute(
            insert(AuditCheckpoint).values(
                event_id=3,
                event_hash=rows[2].hash,
                key_id=key_id(forger.public_key()),
                signature=forger.sign(checkpoint_message(3, rows[2].hash, clock.now)).hex(),
                signed_at=clock.now,
            )
        )
    broken = (await verify(db, public_key(settings))).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (3, "signature")
    assert key_id(forger.public_key()) in broken.message


async def test_a_forged_signature_under_our_key_id_is_detected(
    make_log: MakeLog, db: Db, settings: Settings, clock: FakeClock
) -> None:
    await record(make_log(sign_every=100), 5)
    rows = await events(db)
    forger = Ed25519PrivateKey.generate()
    async with db() as session, session.begin():
        await session.execute(
            insert(AuditCheckpoint).values(
                event_id=4,
                event_hash=rows[3].hash,
                key_id=key_id(public_key(settings)),
                signature=forger.sign(checkpoint_message(4, rows[3].hash, clock.now)).hex(),
                signed_at=clock.now,
            )
        )
    broken = (await verify(db, public_key(settings))).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (4, "signature")
    assert "bad signature" in broken.message


async def test_verifying_with_another_public_key_fails_at_the_first_checkpoint(
    make_log: MakeLog, db: Db
) -> None:
    await record(make_log(sign_every=2), 4)
    broken = (await verify(db, Ed25519PrivateKey.generate().public_key())).broken
    assert broken is not None and (broken.event_id, broken.kind) == (1, "signature")


async def test_a_checkpoint_for_an_event_that_never_existed_is_reported(
    make_log: MakeLog, db: Db, settings: Settings, clock: FakeClock
) -> None:
    await record(make_log(), 2)
    signer = load_signing_key(settings.audit_key_file)
    async with db() as session, session.begin():
        await session.execute(
            insert(AuditCheckpoint).values(
                event_id=9,
                event_hash="ab" * 32,
                key_id=key_id(signer.public_key()),
                signature=signer.sign(checkpoint_message(9, "ab" * 32, clock.now)).hex(),
                signed_at=clock.now,
            )
        )
    broken = (await verify(db, public_key(settings))).broken
    assert broken is not None and (broken.event_id, broken.kind) == (9, "unknown_event")
