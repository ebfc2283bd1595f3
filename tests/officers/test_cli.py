"""``safecall officer ...`` against the test database, through the real command entry point."""

from __future__ import annotations

import asyncio
import getpass
import io
import sys

import pytest
from sqlalchemy import select

from officers.models import Officer, OfficerLogin
from officers.passwords import verify_password
from safecall.cli import main
from safecall.db import create_engine, session_factory
from tests.officers.conftest import PASSWORD

ADD = [
    "officer", "add", "--badge", "B-101", "--name", "Amna Bibi", "--role", "officer",
    "--gender", "female", "--languages", "ur,en,pa",
    "--skills", "domestic_violence=5,harassment=4", "--lines", "women,child",
    "--district", "Lahore", "--password-stdin",
]  # fmt: skip


@pytest.fixture
def cli(settings, monkeypatch, capsys):
    """``code, out, err = cli(args, stdin=...)`` with SAFECALL_ pointing at the test database."""
    monkeypatch.setenv("SAFECALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SAFECALL_DATA_KEY_FILE", str(settings.data_key_file))
    monkeypatch.setenv("SAFECALL_AUDIT_KEY_FILE", str(settings.audit_key_file))
    monkeypatch.setenv("SAFECALL_VAR_DIR", str(settings.var_dir))

    def run(args, stdin=f"{PASSWORD}\n"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def officers_in(settings):
    async def read():
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                return list((await session.execute(select(Officer))).scalars())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def audit_actions(settings):
    from audit.models import AuditEvent

    async def read():
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                rows = await session.execute(select(AuditEvent).order_by(AuditEvent.id))
                return [(e.actor_kind, e.action, e.detail.get("badge")) for e in rows.scalars()]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def with_flag(args, flag, value):
    changed = list(args)
    changed[changed.index(flag) + 1] = value
    return changed


def test_add_creates_an_officer_with_a_hashed_password(cli, settings):
    code, out, err = cli(ADD)

    assert (code, err) == (0, "")
    assert "B-101" in out
    [officer] = officers_in(settings)
    assert officer.badge == "B-101"
    assert officer.name == "Amna Bibi"
    assert officer.role == "officer"
    assert officer.languages == ["ur", "en", "pa"]
    assert officer.skills == {"domestic_violence": 5, "harassment": 4}
    assert officer.lines == ["women", "child"]
    assert officer.district == "Lahore"
    assert officer.disabled is False
    assert officer.password_hash.startswith("$argon2id$")
    assert verify_password(officer.password_hash, PASSWORD)


def test_list_shows_officers_without_hashes(cli):
    cli(ADD)
    cli(with_flag(with_flag(ADD, "--badge", "B-099"), "--role", "admin"))

    code, out, _ = cli(["officer", "list"])

    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["BADGE", "NAME", "ROLE"]
    assert lines[1].startswith("B-099") and "admin" in lines[1]
    assert lines[2].startswith("B-101") and "domestic_violence=5" in lines[2]
    assert "argon2" not in out and PASSWORD not in out


def test_list_on_an_empty_database(cli):
    assert cli(["officer", "list"])[:2] == (0, "no officers yet\n")


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--badge", "B 101", "badge"),
        ("--badge", "B#101", "badge"),
        ("--badge", "B" * 33, "badge"),
        ("--name", "   ", "name"),
        ("--role", "boss", "role"),
        ("--gender", "other", "gender"),
        ("--languages", "ur,fr", "fr"),
        ("--languages", ",", "languages"),
        ("--skills", "knitting=5", "category"),
        ("--skills", "harassment=6", "1 to 5"),
        ("--skills", "harassment", "category=level"),
        ("--lines", "men", "men"),
        ("--lines", "", "lines"),
        ("--district", "x" * 65, "district"),
    ],
)
def test_add_refuses_bad_input_with_one_sentence(cli, settings, flag, value, says):
    code, _, err = cli(with_flag(ADD, flag, value))

    assert code == 2
    assert err.startswith("safecall: ") and err.count("\n") == 1
    assert says in err
    assert officers_in(settings) == []


def test_add_refuses_a_short_password(cli, settings):
    code, _, err = cli(ADD, stdin="short\n")
    assert code == 2
    assert "at least 10 characters" in err
    assert officers_in(settings) == []


def test_add_refuses_an_empty_stdin(cli, settings):
    code, _, err = cli(ADD, stdin="")
    assert code == 2 and "standard input" in err
    assert officers_in(settings) == []


def test_add_refuses_a_duplicate_badge(cli, settings):
    assert cli(ADD)[0] == 0

    code, _, err = cli(with_flag(ADD, "--badge", "b-101"))

    assert code == 1
    assert "already exists" in err
    assert len(officers_in(settings)) == 1


def test_extra_categories_from_settings_are_known_skills(cli, settings, monkeypatch):
    monkeypatch.setenv("SAFECALL_EXTRA_CATEGORIES", "forced_marriage")
    assert cli(with_flag(ADD, "--skills", "forced_marriage=3"))[0] == 0
    assert officers_in(settings)[0].skills == {"forced_marriage": 3}


def test_add_asks_for_the_password_twice(cli, settings, monkeypatch):
    interactive = [a for a in ADD if a != "--password-stdin"]
    answers = iter([PASSWORD, "something else entirely"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))

    code, _, err = cli(interactive)

    assert code == 2 and "differ" in err
    assert officers_in(settings) == []

    answers = iter([PASSWORD, PASSWORD])
    assert cli(interactive)[0] == 0
    assert verify_password(officers_in(settings)[0].password_hash, PASSWORD)


def test_disable_and_enable(cli, settings):
    cli(ADD)

    code, out, _ = cli(["officer", "disable", "--badge", "B-101"])
    assert code == 0 and "disabled" in out
    assert officers_in(settings)[0].disabled is True
    assert "disabled" in cli(["officer", "list"])[1]

    assert cli(["officer", "enable", "--badge", "b-101"])[0] == 0
    assert officers_in(settings)[0].disabled is False
    assert audit_actions(settings) == [
        ("system", "officer.add", "B-101"),
        ("system", "officer.disable", "B-101"),
        ("system", "officer.enable", "B-101"),
    ]


def test_commands_refuse_an_unknown_badge(cli):
    for command in ("disable", "enable", "password", "totp"):
        code, _, err = cli(["officer", command, "--badge", "B-999", "--password-stdin"][:4])
        assert code == 1, command
        assert "no officer with badge B-999" in err


def test_password_reset(cli, settings):
    cli(ADD)

    code, _, _ = cli(
        ["officer", "password", "--badge", "B-101", "--password-stdin"], "a new long one\n"
    )

    assert code == 0
    stored = officers_in(settings)[0].password_hash
    assert verify_password(stored, "a new long one")
    assert not verify_password(stored, PASSWORD)


def test_totp_enrolment_prints_the_secret_once_and_stores_it_sealed(cli, settings, data_key):
    cli(ADD)

    code, out, _ = cli(["officer", "totp", "--badge", "B-101"])

    assert code == 0
    uri = next(line.split()[-1] for line in out.splitlines() if "otpauth://" in line)
    secret = next(line.split()[-1] for line in out.splitlines() if "secret:" in line)
    assert uri.startswith("otpauth://totp/safecall:B-101?") and f"secret={secret}" in uri
    officer = officers_in(settings)[0]
    assert secret.encode() not in officer.totp_sealed
    assert data_key.open(officer.totp_sealed, "officer.totp") == secret
    assert "totp" in cli(["officer", "list"])[1]

    assert cli(["officer", "totp", "--badge", "B-101", "--remove"])[0] == 0
    assert officers_in(settings)[0].totp_sealed is None


def test_a_database_that_is_not_migrated_gets_one_clear_line(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SAFECALL_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")

    code, _, err = cli(["officer", "list"])

    assert code == 1
    assert "safecall migrate" in err and err.count("\n") == 1


async def test_an_officer_added_on_the_command_line_logs_in(cli, client, db, clock):
    """The whole path: `safecall officer add`, then the console's login, then disable."""
    code, _, _ = await asyncio.to_thread(cli, ADD)
    assert code == 0

    response = await client.post("/api/login", json={"badge": "B-101", "password": PASSWORD})
    assert response.status == 200
    assert (await client.get("/api/me")).status == 200

    assert (await asyncio.to_thread(cli, ["officer", "disable", "--badge", "B-101"]))[0] == 0
    assert (await client.get("/api/me")).status == 401
    async with db() as session:
        assert (await session.execute(select(OfficerLogin))).first() is None
