"""``safecall audit verify | export-public-key | tail`` through the real command line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from audit.log import AuditLog, ensure_signing_key, key_id, load_verify_key
from safecall.cli import main
from safecall.db import create_engine, session_factory
from safecall.settings import Settings
from tests.audit.test_log import Db, record, tamper
from tests.support import FakeClock


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("SAFECALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SAFECALL_DATA_KEY_FILE", str(settings.data_key_file))
    monkeypatch.setenv("SAFECALL_AUDIT_KEY_FILE", str(settings.audit_key_file))
    monkeypatch.setenv("SAFECALL_VAR_DIR", str(settings.var_dir))


def on_database(settings: Settings, work: Callable[[Db], Awaitable[None]]) -> None:
    """Run ``work`` against the test database (these tests are synchronous, like the CLI)."""

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await work(session_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(run())


def write_events(
    settings: Settings, clock: FakeClock, n: int, *, close: bool = True, sign_every: int = 3
) -> None:
    """``n`` events from an AuditLog signing every ``sign_every``; closed (tail signed) or not."""

    async def work(db: Db) -> None:
        audit = AuditLog(db, settings.audit_key_file, clock, sign_every=sign_every)
        await record(audit, n)
        if close:
            await audit.close()

    on_database(settings, work)


def test_verify_reports_an_intact_log(
    settings: Settings, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    write_events(settings, clock, 5)
    assert main(["audit", "verify"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        "audit log intact: 5 events, 3 checkpoints, "
        "last signed at 2026-11-01 09:00:00 UTC (event 5)\n"
    )
    assert err == ""


def test_verify_of_an_empty_log(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out == (
        "audit log intact: 0 events, 0 checkpoints, last signed at never\n"
    )


def test_verify_warns_about_an_unsigned_tail_but_passes(
    settings: Settings, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    write_events(settings, clock, 3, sign_every=100, close=False)
    assert main(["audit", "verify"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("audit log intact: 3 events, 1 checkpoints")
    assert err == (
        "warning: events 2-3 (2) come after the last checkpoint and are not signed yet\n"
    )


def test_verify_names_the_first_broken_link_and_exits_1(
    settings: Settings, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    write_events(settings, clock, 6)

    async def change(db: Db) -> None:
        await tamper(db, "UPDATE audit_events SET object_type = 'casE' WHERE id = 4")
        await tamper(db, "DELETE FROM audit_events WHERE id = 5")

    on_database(settings, change)
    assert main(["audit", "verify"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("audit log BROKEN at event 4 (hash): event 4 does not match its hash")


def test_exported_public_key_verifies_and_another_key_does_not(
    settings: Settings, clock: FakeClock, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write_events(settings, clock, 4)
    assert main(["audit", "export-public-key"]) == 0
    pem = capsys.readouterr().out
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert "PRIVATE" not in pem
    public = tmp_path / "audit.pub"
    public.write_text(pem)
    assert key_id(load_verify_key(public)) == key_id(load_verify_key(settings.audit_key_file))
    assert main(["audit", "verify", "--key", str(public)]) == 0
    assert capsys.readouterr().out.startswith("audit log intact: 4 events")

    other = tmp_path / "other.key"
    ensure_signing_key(other)
    assert main(["audit", "verify", "--key", str(other)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("audit log BROKEN at event 1 (signature): checkpoint")
    assert key_id(load_verify_key(other)) in err


def test_verify_without_a_key_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.pub"
    assert main(["audit", "verify", "--key", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"safecall: audit key file {missing} does not exist; run `safecall keys`\n"
    )


def test_verify_on_an_unmigrated_database_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAFECALL_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    assert main(["audit", "verify"]) == 2
    assert "cannot read the audit log" in capsys.readouterr().err


def test_tail_shows_recent_events_without_addresses_or_details(
    settings: Settings, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    write_events(settings, clock, 5)
    assert main(["audit", "tail", "-n", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[0] == "4" and lines[1].split()[0] == "5"
    assert "case.read" in lines[1] and "case 104" in lines[1] and "officer 7" in lines[1]
    assert "203.0.113.9" not in "\n".join(lines) and "district" not in "\n".join(lines)


@pytest.mark.parametrize("count", ["0", "x", "10001"])
def test_tail_refuses_a_bad_count(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "tail", "-n", count])
    assert exit_.value.code == 2
    assert "whole number from 1 to 10000" in capsys.readouterr().err
