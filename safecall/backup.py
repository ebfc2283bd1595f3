"""Back up a deployment, and restore it on an empty one (``safecall backup`` / ``restore``).

A backup is a new folder:

- ``database.dump`` (PostgreSQL, ``pg_dump --format=custom``) or ``database.sqlite``
  (SQLite, a consistent copy through SQLite's backup API);
- ``recordings/``: the sealed chunk files of the local store (with the database
  store, the chunks are rows inside the dump);
- ``keys/``: the four key files. Whoever holds these and the rest reads everything:
  move ``keys/`` to other custody than the data (docs/operations.md, 'Backups');
- ``manifest.json``: what was backed up, when, and the SHA-256 of every file.

:func:`restore` checks the whole backup against its manifest and the target
against the rule "empty only" (a database with no safecall tables, no recordings
folder, no key file that differs) before it writes anything; then it restores
the database (PostgreSQL: in one transaction), the recordings and the keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from safecall.settings import Settings

FORMAT = "safecall-backup-1"
"""Written in the manifest; a restore refuses another."""


class BackupError(ValueError):
    """The backup or the restore cannot go on; the sentence says why and what to do."""


@dataclass(frozen=True)
class Made:
    folder: Path
    files: int
    size: int


def _key_paths(settings: Settings) -> dict[str, Path]:
    return {
        "data.key": settings.data_key_file,
        "audit.key": settings.audit_key_file,
        "recordings.key": settings.recordings_key_file,
        "evidence.key": settings.evidence_key_file,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore arguments and environment for ``url``; the password goes in
    the environment, never on a command line others can read."""
    args = [f"--dbname={url.database}"]
    if url.host:
        args.append(f"--host={url.host}")
    if url.port:
        args.append(f"--port={url.port}")
    if url.username:
        args.append(f"--username={url.username}")
    env = {**os.environ}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        raise BackupError("SAFECALL_DATABASE_URL names no SQLite file to back up or restore.")
    return Path(database)


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError:
        raise BackupError(
            f"{argv[0]} is not installed; install PostgreSQL's client tools "
            "(Debian: postgresql-client) of the server's major version."
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BackupError(f"{what} failed: {last}")


def backup(settings: Settings, out: Path) -> Made:
    """Write a backup of the deployment ``settings`` describe into the new folder ``out``."""
    keys = _key_paths(settings)
    for name, path in keys.items():
        if not path.is_file():
            raise BackupError(f"the key file {path} ({name}) is missing; nothing was backed up.")
    try:
        out.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        raise BackupError(f"{out} already exists; a backup goes into a new folder.") from None
    try:
        if settings.is_sqlite:
            database = "database.sqlite"
            source = sqlite3.connect(f"file:{_sqlite_path(settings)}?mode=ro", uri=True)
            target = sqlite3.connect(out / database)
            with contextlib.closing(source), contextlib.closing(target):
                source.backup(target)
        else:
            database = "database.dump"
            args, env = _libpq(make_url(settings.database_url))
            _run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                 f"--file={out / database}", *args],
                env,
                "pg_dump",
            )  # fmt: skip
        (out / "keys").mkdir(mode=0o700)
        for name, path in keys.items():
            shutil.copyfile(path, out / "keys" / name)
            os.chmod(out / "keys" / name, 0o600)
        recordings = settings.var_dir / "recordings"
        if settings.recordings_store == "local" and recordings.is_dir():
            shutil.copytree(recordings, out / "recordings")
        files = sorted(p for p in out.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT,
            "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": "sqlite" if settings.is_sqlite else "postgresql",
            "recordings_store": settings.recordings_store,
            "files": {str(p.relative_to(out)): _sha256(p) for p in files},
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # no half backup left to be trusted
        raise
    return Made(out, len(files), sum(p.stat().st_size for p in files))


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} has no manifest.json: not a safecall backup.") from None
    except ValueError:
        raise BackupError(f"{folder}/manifest.json is not JSON: the backup is damaged.") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} is not a backup this version reads ({FORMAT}).")
    for name, digest in manifest["files"].items():
        path = folder / name
        if ".." in Path(name).parts or not path.is_file():
            raise BackupError(f"{name} is missing from the backup; nothing was restored.")
        if _sha256(path) != digest:
            raise BackupError(
                f"{name} does not match its hash in the manifest (altered or damaged); "
                "nothing was restored."
            )
    return manifest


def check_restorable(settings: Settings, folder: Path) -> dict[str, Any]:
    """The backup's manifest, once it and the target are fit for a restore; else BackupError."""
    manifest = _manifest(folder)
    kind = "sqlite" if settings.is_sqlite else "postgresql"
    if manifest["database"] != kind:
        raise BackupError(
            f"this backup holds a {manifest['database']} database and SAFECALL_DATABASE_URL "
            f"names a {kind} one; restore into the same kind."
        )
    if manifest["recordings_store"] != settings.recordings_store:
        raise BackupError(
            f"this backup's recordings are in the {manifest['recordings_store']} store; set "
            f"SAFECALL_RECORDINGS_STORE={manifest['recordings_store']} to restore it."
        )
    for name, path in _key_paths(settings).items():
        if path.exists() and path.read_bytes() != (folder / "keys" / name).read_bytes():
            raise BackupError(
                f"the key file {path} exists and differs from the backup's {name}; "
                "restore onto a node without key files, or move it away first."
            )
    recordings = settings.var_dir / "recordings"
    if (folder / "recordings").is_dir() and recordings.is_dir() and any(recordings.iterdir()):
        raise BackupError(f"{recordings} is not empty; restore onto an empty deployment.")
    if settings.is_sqlite and _sqlite_path(settings).exists():
        raise BackupError(
            f"the database file {_sqlite_path(settings)} exists; restore onto an empty deployment."
        )
    return manifest


def _postgres_is_empty(settings: Settings) -> None:
    args, env = _libpq(make_url(settings.database_url))
    try:
        done = subprocess.run(  # noqa: S603
            ["psql", "--no-psqlrc", "--tuples-only", "--no-align", *args, "--command",  # noqa: S607
             "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    except FileNotFoundError:
        raise BackupError("psql is not installed (Debian: postgresql-client).") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BackupError(f"the target database cannot be read: {last}")
    if done.stdout.strip() != "0":
        raise BackupError(
            "the target database already has tables; restore into a new, empty database "
            "(createdb), not a migrated or used one."
        )


def restore(settings: Settings, folder: Path) -> dict[str, Any]:
    """Restore the backup in ``folder`` onto the empty deployment ``settings`` describe."""
    manifest = check_restorable(settings, folder)
    if not settings.is_sqlite:
        _postgres_is_empty(settings)
        args, env = _libpq(make_url(settings.database_url))
        _run(
            ["pg_restore", "--no-owner", "--no-privileges", "--single-transaction",
             "--exit-on-error", *args, str(folder / "database.dump")],
            env,
            "pg_restore",
        )  # fmt: skip
    else:
        target = _sqlite_path(settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"file:{folder / 'database.sqlite'}?mode=ro", uri=True)
        copy = sqlite3.connect(target)
        with contextlib.closing(source), contextlib.closing(copy):
            source.backup(copy)
    if (folder / "recordings").is_dir():
        recordings = settings.var_dir / "recordings"
        shutil.copytree(folder / "recordings", recordings, dirs_exist_ok=True)
    for name, path in _key_paths(settings).items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / "keys" / name, path)
            os.chmod(path, 0o600)
    return manifest
