"""The server's files are its own: ``var/`` 0700; keys, the database and recordings 0600.

A key file or the SQLite database readable by every user of the machine would
hand her details to anyone with a shell on it. The key files and recordings are
created 0600 where they are made (:mod:`safecall.keyfile`, :mod:`recordings.store`);
this module makes the folders private and the SQLite files too, which SQLite
would otherwise create with the process umask's mode (its -wal and -shm files
take the database file's mode).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create ``path`` (and its missing parents) 0700; make it 0700 when it is ours and
    looser (a ``var/`` made by an earlier version with 0755)."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(path, DIR_MODE)


def new_dir(path: Path) -> None:
    """Create ``path``'s missing folders 0700; leave existing ones as they are (a key
    file's folder may be shared, e.g. ``/etc/safecall``)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)


def private_sqlite(database_url: str) -> None:
    """For a SQLite file database: its folder made, the file created 0600 when missing
    (before SQLite makes it), and the file and its -wal/-shm made 0600 when they are
    ours and looser. Any other URL is left alone."""
    if not database_url.startswith("sqlite"):
        return
    database = make_url(database_url).database
    if not database or database == ":memory:" or "mode=memory" in database_url:
        return
    path = Path(database)
    new_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for file in (path, *(Path(f"{path}{side}") for side in SQLITE_SIDE_FILES)):
        _tighten(file, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & ~mode:
        os.chmod(path, mode)
