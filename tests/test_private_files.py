"""Issue 13 item 10 (first half): the make-run path leaves var/ 0700 and its files 0600.

``make run`` is ``safecall keys``, ``safecall migrate``, ``safecall serve``; each is run
here as a real command under the usual umask 022, which had left var/ 0755 and the
SQLite database (and its -wal and -shm) 0644: readable by every user of the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp

from safecall.settings import Settings
from tests.calls.servers import serve

SAFECALL = Path(sys.executable).with_name("safecall")
KEYS = ("data.key", "audit.key", "recordings.key", "evidence.key")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def command(var: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECALL_")}
    env["SAFECALL_VAR_DIR"] = str(var)
    with umask(0o022):
        subprocess.run([str(SAFECALL), *args], env=env, check=True, capture_output=True)


async def test_keys_migrate_and_serve_leave_nothing_readable_by_others(tmp_path: Path) -> None:
    var = tmp_path / "var"
    command(var, "keys")
    command(var, "migrate")
    assert mode(var) == 0o700
    assert {name: mode(var / name) for name in KEYS} == dict.fromkeys(KEYS, 0o600)
    assert mode(var / "safecall.db") == 0o600

    settings = Settings(
        var_dir=var,
        database_url=f"sqlite+aiosqlite:///{var / 'safecall.db'}",
        data_key_file=var / "data.key",
        audit_key_file=var / "audit.key",
    )
    with umask(0o022):
        served = await serve(settings, tmp_path)
    try:
        async with aiohttp.ClientSession() as http:  # a write: the WAL files appear
            async with http.post(
                served.url + "/api/login", json={"badge": "B-1", "password": "wrong guess"}
            ) as response:
                assert response.status == 401
        made = sorted(p.name for p in var.iterdir() if p.name.startswith("safecall.db"))
        assert made == ["safecall.db", "safecall.db-shm", "safecall.db-wal"]
        assert {name: mode(var / name) for name in made} == dict.fromkeys(made, 0o600)
        assert mode(var) == 0o700
    finally:
        served.stop()


def test_a_var_left_open_by_an_earlier_version_is_closed(
    tmp_path: Path, sqlite_template: Path
) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    os.chmod(var, 0o755)
    for name in ("safecall.db", "safecall.db-wal", "safecall.db-shm"):
        if name == "safecall.db":
            shutil.copyfile(sqlite_template, var / name)
        else:
            (var / name).write_bytes(b"")
        os.chmod(var / name, 0o644)

    command(var, "migrate")

    assert mode(var) == 0o700
    left = {p.name: mode(p) for p in var.iterdir()}  # SQLite may remove its -wal and -shm
    assert "safecall.db" in left and left == dict.fromkeys(left, 0o600)
