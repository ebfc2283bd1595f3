"""`safecall keys` creates missing key files only where no data needs the old ones."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from audit.log import ensure_signing_key
from safecall.cli import main
from safecall.settings import Settings
from tests.deploy.conftest import populate


def _files(settings: Settings) -> list[Path]:
    return [
        settings.data_key_file,
        settings.audit_key_file,
        settings.recordings_key_file,
        settings.evidence_key_file,
    ]


def test_an_empty_database_gets_new_keys(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    for path in _files(env):
        path.unlink(missing_ok=True)
    assert main(["keys"]) == 0
    out = capsys.readouterr().out
    assert all(f"created {path}" in out for path in _files(env))
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in _files(env))


def test_a_node_without_the_keys_of_a_database_in_use_is_refused(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_signing_key(env.evidence_key_file)
    populate(env)
    env.data_key_file.unlink()
    env.recordings_key_file.unlink()
    kept = env.audit_key_file.read_bytes()

    assert main(["keys"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"data key file {env.data_key_file} is missing" in err
    assert "1 cases with sealed details" in err
    assert f"recordings key file {env.recordings_key_file} is missing" in err
    assert "1 recordings made with a recordings key" in err
    assert "Copy the key files from another node or from a backup" in err
    # Nothing half-done: neither missing file was created, the others are untouched.
    assert not env.data_key_file.exists() and not env.recordings_key_file.exists()
    assert env.audit_key_file.read_bytes() == kept

    assert main(["keys", "--new"]) == 0
    out, err = capsys.readouterr()
    assert "WARNING: creating new keys while the database holds data made with other ones" in err
    assert "1 cases with sealed details (data key)" in err
    assert f"created {env.data_key_file}" in out and f"kept    {env.audit_key_file}" in out
    assert env.audit_key_file.read_bytes() == kept


def test_a_missing_audit_key_is_refused_once_events_are_signed(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(env)
    env.audit_key_file.unlink()
    assert main(["keys"]) == 1
    err = capsys.readouterr().err
    assert f"audit key file {env.audit_key_file} is missing" in err
    assert "signed audit events" in err
    assert not env.audit_key_file.exists()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unreachable_database_is_not_taken_for_an_empty_one(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = "postgresql+asyncpg://safecall:safecall@127.0.0.1:9/safecall"  # discard port
    monkeypatch.setenv("SAFECALL_DATABASE_URL", closed)
    monkeypatch.setenv("SAFECALL_VAR_DIR", str(settings.var_dir / "fresh"))
    fresh = replace(settings, var_dir=settings.var_dir / "fresh")
    assert main(["keys"]) == 2
    err = capsys.readouterr().err
    assert "the database cannot be read" in err and "start it and run `safecall keys`" in err
    assert not (fresh.var_dir / "data.key").exists()
