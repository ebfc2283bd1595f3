"""The four key files of a node, and the rule for creating them (``safecall keys``).

Every node of a deployment holds the same key files (docs/operations.md says how
they are distributed and rotated). A missing file is created only when the
database holds nothing that the missing key sealed, signed or keyed: on a new
node of a running deployment, a fresh key would not open the cases, would break
the audit chain's signature and would leave the recordings unreadable, so the
command refuses and says to copy the files. ``--new`` creates them anyway, with
a warning that names what stays unreadable.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, func, select
from sqlalchemy.engine import make_url

from audit.log import ensure_signing_key
from audit.models import AuditCheckpoint, AuditEvent
from cases.models import Case
from ivr.models import NumberMark, PhoneCall
from officers.models import Officer
from recordings.keys import RecordingsKey
from recordings.models import Recording
from safecall.db import create_engine
from safecall.settings import Settings
from sealing.data_key import DataKey


@dataclass(frozen=True)
class KeyFile:
    what: str
    """The key's name in messages, e.g. "data key"."""
    path: Path
    create: Callable[[Path], bool]
    """Creates the file when it is missing; True when it did."""
    needed_by: tuple[tuple[str, Select[int]], ...]
    """(what the database holds, a query counting it) that this key sealed or signed."""


def key_files(settings: Settings) -> list[KeyFile]:
    count = select(func.count())
    return [
        KeyFile(
            "data key",
            settings.data_key_file,
            DataKey.ensure_file,
            (
                ("cases with sealed details", count.select_from(Case)),
                ("phone calls", count.select_from(PhoneCall)),
                ("marked phone numbers", count.select_from(NumberMark)),
                (
                    "officers' second factors",
                    count.select_from(Officer).where(Officer.totp_sealed.is_not(None)),
                ),
            ),
        ),
        KeyFile(
            "audit key",
            settings.audit_key_file,
            ensure_signing_key,
            (
                ("signed audit events", count.select_from(AuditEvent)),
                ("audit checkpoints", count.select_from(AuditCheckpoint)),
            ),
        ),
        KeyFile(
            "recordings key",
            settings.recordings_key_file,
            RecordingsKey.ensure_file,
            (("recordings", count.select_from(Recording)),),
        ),
        KeyFile(
            "evidence key",
            settings.evidence_key_file,
            ensure_signing_key,
            (
                (
                    "exported evidence bundles",
                    count.select_from(AuditEvent).where(AuditEvent.action == "evidence.export"),
                ),
            ),
        ),
    ]


async def sealed_data(settings: Settings, missing: list[KeyFile]) -> list[tuple[KeyFile, str, int]]:
    """What the database holds that the ``missing`` keys sealed: (key, what, how many).

    A database not migrated yet holds nothing.
    """
    engine = create_engine(settings.database_url)
    found: list[tuple[KeyFile, str, int]] = []
    try:
        async with engine.connect() as conn:
            if not await conn.run_sync(_migrated):
                return []
            for key in missing:
                for what, query in key.needed_by:
                    n = int((await conn.execute(query)).scalar_one())
                    if n:
                        found.append((key, what, n))
    finally:
        await engine.dispose()
    return found


def _migrated(connection: object) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(connection).has_table("audit_events"))


def _no_database_yet(settings: Settings) -> bool:
    """An SQLite file not created yet (opening it would create it)."""
    if not settings.is_sqlite:
        return False
    database = make_url(settings.database_url).database
    return not database or not Path(database).exists()


def ensure(settings: Settings, *, new: bool) -> int:
    """Create the missing key files by the rule above; the command's exit status."""
    files = key_files(settings)
    missing = [k for k in files if not k.path.exists()]
    if missing and not _no_database_yet(settings):
        try:
            held = asyncio.run(sealed_data(settings, missing))
        except Exception as exc:  # unreachable or refusing: we cannot know, so do not guess
            print(
                f"safecall: the database cannot be read ({type(exc).__name__}), so it is not "
                "known whether it holds data sealed with the missing keys"
                + (
                    "; creating them as --new asks."
                    if new
                    else "; start it and run "
                    "`safecall keys` again (or `safecall keys --new` to create new keys anyway)."
                ),
                file=sys.stderr,
            )
            if not new:
                return 2
            held = []
        if held and not new:
            for key, what, n in held:
                print(
                    f"safecall: {key.what} file {key.path} is missing, but the database holds "
                    f"{n} {what} made with a {key.what}.",
                    file=sys.stderr,
                )
            print(
                "safecall: no key was created. Copy the key files from another node or from "
                "a backup (docs/operations.md, 'Keys'). `safecall keys --new` creates new keys "
                "anyway, and what the old ones sealed stays unreadable.",
                file=sys.stderr,
            )
            return 1
        if held:
            print(
                "safecall: WARNING: creating new keys while the database holds data made with "
                "other ones: "
                + "; ".join(f"{n} {what} ({key.what})" for key, what, n in held)
                + ". Those stay unreadable (or unverifiable) without the old key files.",
                file=sys.stderr,
            )
    for key in files:
        made = key.create(key.path)
        print(f"{'created' if made else 'kept   '} {key.path}")
    return 0
