"""The restore drill: back up, destroy, restore; then every check passes and her code works.

Run on both kinds of deployment: SQLite with recordings as files, and PostgreSQL
with recordings as rows (``pg_dump``/``pg_restore`` into a new database).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from safecall.app import create_app
from safecall.cli import main
from safecall.db import Base, create_engine
from safecall.settings import Settings
from tests.deploy.conftest import admin_sql, populate
from tests.support import put_in_env


@pytest.fixture
def deployment(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """A deployment of each kind, its settings in the environment as `safecall` reads them."""
    store = "local" if database_url.startswith("sqlite") else "database"
    deployed = replace(settings, recordings_store=store)
    put_in_env(monkeypatch, deployed)
    yield deployed


def _destroy(settings: Settings) -> None:
    """The machine is gone: its files, and every row of its database."""
    shutil.rmtree(settings.var_dir)
    if not settings.is_sqlite:

        async def empty() -> None:
            engine = create_engine(settings.database_url)
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            await engine.dispose()

        asyncio.run(empty())


async def test_back_up_destroy_restore_and_every_check_passes(
    deployment: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    aiohttp_client: Any,
) -> None:
    from audit.log import ensure_signing_key

    ensure_signing_key(deployment.evidence_key_file)
    held = await asyncio.to_thread(populate, deployment)
    out = tmp_path / "backup"
    assert await asyncio.to_thread(main, ["backup", str(out)]) == 0
    assert f"backup written: {out}" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"keys/data.key", "keys/audit.key"} <= set(manifest["files"])
    assert oct((out / "keys" / "data.key").stat().st_mode & 0o777) == "0o600"

    await asyncio.to_thread(_destroy, deployment)
    # The new machine: new paths, and for PostgreSQL a new, empty database.
    target = replace(
        deployment,
        var_dir=tmp_path / "new" / "var",
        data_key_file=tmp_path / "new" / "var" / "data.key",
        audit_key_file=tmp_path / "new" / "var" / "audit.key",
        recordings_key_file=tmp_path / "new" / "var" / "recordings.key",
        evidence_key_file=tmp_path / "new" / "var" / "evidence.key",
    )
    restored_db = None
    if deployment.is_sqlite:
        target = replace(target, database_url=f"sqlite+aiosqlite:///{tmp_path}/new/safecall.db")
    else:
        restored_db = f"safecall_restored_{uuid.uuid4().hex[:8]}"
        await admin_sql(f'CREATE DATABASE "{restored_db}"')
        url = make_url(deployment.database_url).set(database=restored_db)
        target = replace(target, database_url=url.render_as_string(hide_password=False))
    put_in_env(monkeypatch, target)
    try:
        assert await asyncio.to_thread(main, ["restore", str(out)]) == 0, capsys.readouterr().err
        assert "restored the backup" in capsys.readouterr().out
        assert await asyncio.to_thread(main, ["migrate"]) == 0
        assert await asyncio.to_thread(main, ["audit", "verify"]) == 0, capsys.readouterr()
        assert await asyncio.to_thread(main, ["recordings", "verify"]) == 0
        assert "recordings intact: 1 checked" in capsys.readouterr().out

        client = await aiohttp_client(create_app(target))
        tracked = await client.post("/api/track", json={"code": held.tracking_code})
        assert tracked.status == 200, await tracked.text()
        assert (await tracked.json())["status"] == "received"
        await client.close()
    finally:
        if restored_db is not None:
            await admin_sql(f'DROP DATABASE IF EXISTS "{restored_db}" WITH (FORCE)')


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_backup_is_refused_rather_than_left_half_made(
    deployment: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "backup"
    assert main(["backup", str(out)]) == 1  # no evidence key yet
    assert f"the key file {deployment.evidence_key_file} (evidence.key) is missing" in (
        capsys.readouterr().err
    )
    assert not out.exists()
    out.mkdir()
    from audit.log import ensure_signing_key

    ensure_signing_key(deployment.evidence_key_file)
    assert main(["backup", str(out)]) == 1
    assert "already exists; a backup goes into a new folder" in capsys.readouterr().err


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_altered_backup_or_a_used_target_restores_nothing(
    deployment: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from audit.log import ensure_signing_key

    ensure_signing_key(deployment.evidence_key_file)
    populate(deployment)
    out = tmp_path / "backup"
    assert main(["backup", str(out)]) == 0
    capsys.readouterr()

    # Onto itself: the database file exists (a used deployment).
    assert main(["restore", str(out)]) == 1
    assert "restore onto an empty deployment" in capsys.readouterr().err

    new = tmp_path / "new"
    target = replace(
        deployment,
        var_dir=new,
        database_url=f"sqlite+aiosqlite:///{new}/safecall.db",
        data_key_file=new / "data.key",
        audit_key_file=new / "audit.key",
        recordings_key_file=new / "recordings.key",
        evidence_key_file=new / "evidence.key",
    )
    put_in_env(monkeypatch, target)
    # A node that already has other keys: the backup's would be silently shadowed.
    new.mkdir()
    target.data_key_file.write_text("d9:" + "A" * 43 + "=\n")
    assert main(["restore", str(out)]) == 1
    assert "exists and differs from the backup's data.key" in capsys.readouterr().err
    target.data_key_file.unlink()

    # One byte of one sealed chunk altered in the backup.
    chunk = next((out / "recordings").rglob("*.chunk"))
    raw = bytearray(chunk.read_bytes())
    raw[-1] ^= 1
    chunk.write_bytes(bytes(raw))
    assert main(["restore", str(out)]) == 1
    err = capsys.readouterr().err
    assert "does not match its hash in the manifest" in err and "nothing was restored" in err
    assert list(new.iterdir()) == []  # nothing written


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_restore_goes_into_a_new_database_only(
    deployment: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit.log import ensure_signing_key

    ensure_signing_key(deployment.evidence_key_file)
    out = tmp_path / "backup"
    assert main(["backup", str(out)]) == 0
    capsys.readouterr()
    assert main(["restore", str(out)]) == 1  # the migrated test database
    assert "the target database already has tables" in capsys.readouterr().err
