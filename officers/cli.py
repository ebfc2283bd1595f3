"""``safecall officer add|list|disable|enable|password|totp``: officer accounts from the shell.

Each command runs against the database of ``Settings.from_env()`` (already
migrated) and returns an exit code: 0 done, 1 refused by what is in the
database (duplicate or unknown badge, database not ready), 2 bad input (one
sentence on standard error says which). Changes are audited as ``system``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.log import AuditLog
from officers import fields, throttle, totp
from officers.auth import end_all_logins
from officers.models import Officer
from officers.passwords import hash_password_async
from safecall.db import create_engine, session_factory, utcnow
from safecall.settings import Settings
from sealing.data_key import DataKey

Sessions = async_sessionmaker[AsyncSession]


class Refused(Exception):
    """Stop the command with one sentence and an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _checked(parse: Callable[..., Any], *args: Any) -> Any:
    try:
        return parse(*args)
    except ValueError as exc:
        raise Refused(str(exc), 2) from None


def _read_password(args: argparse.Namespace, badge: str) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise Refused("No password on standard input.", 2)
    else:
        password = getpass.getpass(f"Password for {badge}: ")
        if getpass.getpass("Again: ") != password:
            raise Refused("The two passwords differ; nothing was changed.", 2)
    return str(_checked(fields.check_password, password))


async def _find(sessions: Sessions, badge: str) -> Officer:
    async with sessions() as session:
        officer = (
            await session.execute(select(Officer).where(Officer.badge == badge))
        ).scalar_one_or_none()
    if officer is None:
        raise Refused(f"There is no officer with badge {badge}.")
    return officer


async def _audit(
    settings: Settings, sessions: Sessions, action: str, officer: Officer, **detail: Any
) -> None:
    audit = AuditLog(sessions, settings.audit_key_file, clock=utcnow)
    try:
        await audit.record(
            actor_kind="system",
            officer_id=None,
            action=action,
            object_type="officer",
            object_id=str(officer.id),
            detail={"badge": officer.badge, **detail},
        )
    finally:
        await audit.close()


async def _add(args: argparse.Namespace, settings: Settings, sessions: Sessions) -> int:
    values = {
        "badge": _checked(fields.parse_badge, args.badge),
        "name": _checked(fields.parse_name, args.name),
        "role": _checked(fields.parse_role, args.role),
        "gender": _checked(fields.parse_gender, args.gender),
        "languages": _checked(fields.parse_languages, args.languages),
        "skills": _checked(fields.parse_skills, args.skills, settings.extra_categories),
        "lines": _checked(fields.parse_lines, args.lines),
        "district": _checked(fields.parse_district, args.district),
        "place": _checked(_place, args.role, args.place, settings),
    }
    badge = values["badge"]
    async with sessions() as session:
        taken = await session.scalar(select(Officer.id).where(Officer.badge == badge))
    if taken is not None:
        raise Refused(f"An officer with badge {badge} already exists.")
    password_hash = await hash_password_async(_read_password(args, badge))
    try:
        async with sessions.begin() as session:
            officer = Officer(**values, password_hash=password_hash, disabled=False)
            session.add(officer)
    except IntegrityError:
        raise Refused(f"An officer with badge {badge} already exists.") from None
    await _audit(settings, sessions, "officer.add", officer, role=officer.role)
    print(f"added {officer.role} {badge} ({officer.name})")
    return 0


def _place(role: str, place: str | None, settings: Settings) -> str | None:
    """A station or institution account's place, checked against the directory of places."""
    from cases.vocabulary import load_districts
    from places.directory import Directory
    from places.loader import load
    from places.scope import check_place

    if role not in fields.FIELD_ROLES and not place:
        return None
    directory = Directory(load(settings.places_file, load_districts(settings.districts_file)))
    return check_place(role, place, directory)


async def _list(args: argparse.Namespace, settings: Settings, sessions: Sessions) -> int:
    async with sessions() as session:
        officers = list((await session.execute(select(Officer).order_by(Officer.badge))).scalars())
    if not officers:
        print("no officers yet")
        return 0
    header = (
        "BADGE",
        "NAME",
        "ROLE",
        "GENDER",
        "LANGUAGES",
        "LINES",
        "SKILLS",
        "DISTRICT",
        "PLACE",
    )
    rows = [(*header, "STATUS")] + [
        (
            o.badge,
            o.name,
            o.role,
            o.gender,
            ",".join(o.languages),
            ",".join(o.lines),
            ",".join(f"{k}={v}" for k, v in o.skills.items()) or "-",
            o.district or "-",
            o.place or "-",
            ("disabled" if o.disabled else "enabled") + (", totp" if o.totp_sealed else ""),
        )
        for o in officers
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


async def _set_disabled(
    args: argparse.Namespace, settings: Settings, sessions: Sessions, disabled: bool
) -> int:
    badge = _checked(fields.parse_badge, args.badge)
    found = await _find(sessions, badge)
    async with sessions.begin() as session:
        officer = await session.get(Officer, found.id)
        assert officer is not None
        officer.disabled = disabled
        if disabled:
            await end_all_logins(session, officer.id)
    word = "disabled" if disabled else "enabled"
    await _audit(settings, sessions, f"officer.{word[:-1]}", officer)
    print(f"{word} {badge}" + (" and ended their logins" if disabled else ""))
    return 0


async def _disable(args: argparse.Namespace, settings: Settings, sessions: Sessions) -> int:
    return await _set_disabled(args, settings, sessions, True)


async def _enable(args: argparse.Namespace, settings: Settings, sessions: Sessions) -> int:
    return await _set_disabled(args, settings, sessions, False)


async def _password(args: argparse.Namespace, settings: Settings, sessions: Sessions) -> int:
    badge = _checked(fields.parse_badge, args.badge)
    found = await _find(sessions, badge)
    password_hash = await hash_password_async(_read_password(args, badge))
    async with sessions.begin() as session:
        officer = await session.get(Officer, found.id)
        assert officer is not None
        officer.password_hash = password_hash
        await end_all_logins(session, officer.id)
        await throttle.clear(session, throttle.account_key(badge))
    await _audit(settings, sessions, "officer.password_reset", officer)
    print(f"set a new password for {badge} and ended their logins")
    return 0


async def _totp(args: argparse.Namespace, settings: Settings, sessions: Sessions) -> int:
    badge = _checked(fields.parse_badge, args.badge)
    try:
        key = DataKey.load(settings.data_key_file)
    except ValueError as exc:
        raise Refused(f"Cannot read the data key: {exc}.") from None
    found = await _find(sessions, badge)
    async with sessions.begin() as session:
        officer = await session.get(Officer, found.id)
        assert officer is not None
        if args.remove:
            officer.totp_sealed = None
            officer.totp_last_step = None
            secret = None
        else:
            secret = totp.enrol(officer, key)
    if secret is None:
        await _audit(settings, sessions, "officer.totp_remove", officer)
        print(f"removed the second factor of {badge}")
        return 0
    await _audit(settings, sessions, "officer.totp_enrol", officer)
    print(f"Second factor for {badge}. Add it to the officer's authenticator app now;")
    print("it is shown only this once (run this command again to replace it).")
    print(f"  URI:    {totp.provisioning_uri(secret, badge)}")
    print(f"  secret: {secret}")
    return 0


Action = Callable[[argparse.Namespace, Settings, Sessions], Awaitable[int]]


def _command(action: Action) -> Callable[[argparse.Namespace, Settings], int]:
    """Run ``action`` on its own event loop and engine; refusals become one line and a code."""

    async def with_database(args: argparse.Namespace, settings: Settings) -> int:
        engine = create_engine(settings.database_url)
        try:
            return await action(args, settings, session_factory(engine))
        finally:
            await engine.dispose()

    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return asyncio.run(with_database(args, settings))
        except Refused as exc:
            print(f"safecall: {exc}", file=sys.stderr)
            return exc.code
        except (DBAPIError, OSError) as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            print(
                f"safecall: the database cannot be used ({reason}); "
                "is it running and migrated (`safecall migrate`)?",
                file=sys.stderr,
            )
            return 1

    return run


def register(sub: Any) -> None:
    """Add ``safecall officer ...`` to the command's subparsers."""
    officer = sub.add_parser("officer", help="manage officer accounts")
    commands = officer.add_subparsers(dest="officer_command", required=True)

    add = commands.add_parser("add", help="add an officer (asks for the password)")
    add.add_argument("--badge", required=True, help="badge number, e.g. B-101")
    add.add_argument("--name", required=True)
    add.add_argument(
        "--role",
        required=True,
        help="officer, supervisor or admin (the centre); station or institution (a place's)",
    )
    add.add_argument("--gender", required=True, help="female or male")
    add.add_argument("--languages", required=True, help="comma-separated, e.g. ur,en,pa")
    add.add_argument("--skills", default="", help="e.g. domestic_violence=5,harassment=4")
    add.add_argument("--lines", required=True, help="service lines, e.g. women,child")
    add.add_argument("--district")
    add.add_argument("--place", help="station and institution accounts: the place's code")
    add.add_argument("--password-stdin", action="store_true", help="read one line from stdin")
    add.set_defaults(run=_command(_add))

    commands.add_parser("list", help="list officers").set_defaults(run=_command(_list))

    for name, action, text in (
        ("disable", _disable, "stop an officer logging in and end their logins"),
        ("enable", _enable, "let a disabled officer log in again"),
    ):
        cmd = commands.add_parser(name, help=text)
        cmd.add_argument("--badge", required=True)
        cmd.set_defaults(run=_command(action))

    password = commands.add_parser("password", help="set a new password (ends their logins)")
    password.add_argument("--badge", required=True)
    password.add_argument("--password-stdin", action="store_true")
    password.set_defaults(run=_command(_password))

    second = commands.add_parser("totp", help="enrol (or --remove) a TOTP second factor")
    second.add_argument("--badge", required=True)
    second.add_argument("--remove", action="store_true")
    second.set_defaults(run=_command(_totp))
