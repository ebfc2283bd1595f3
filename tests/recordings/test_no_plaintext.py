"""No plaintext anywhere: after a recorded upload and its playback, random windows of the
recording are found in none of var/, the temporary directory, or the database."""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from safecall.db import Base
from tests.recordings.conftest import Answered, random_chunks, upload

_LARGEST = 64 * 1024 * 1024


def _files_holding(roots: list[Path], windows: list[bytes], since: float) -> list[str]:
    found = []
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                try:
                    info = path.stat()
                    if info.st_mtime < since or info.st_size > _LARGEST or not path.is_file():
                        continue
                    data = path.read_bytes()
                except OSError:
                    continue  # gone meanwhile, or not ours to read
                if any(w in data for w in windows):
                    found.append(str(path))
    return found


async def _rows_holding(db: async_sessionmaker[AsyncSession], windows: list[bytes]) -> list[str]:
    hexes = [w.hex() for w in windows]
    found = []
    async with db() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        if any(w in bytes(value) for w in windows):
                            found.append(table.name)
                    elif value is not None:
                        text = str(value)
                        if any(h in text for h in hexes) or any(
                            w.decode("latin-1") in text for w in windows
                        ):
                            found.append(table.name)
    return found


async def test_no_plaintext_on_disk_or_in_the_database(
    login_as: Any,
    answered: Answered,
    settings: Any,
    db: async_sessionmaker[AsyncSession],
) -> None:
    since = time.time() - 1
    browser, officer = await login_as("officer")
    contact, _ = await answered(officer)
    chunks = random_chunks(6, 30_000)
    content = b"".join(chunks)
    recording_id = await upload(browser, contact.id, chunks)
    played = await browser.get(f"/api/recordings/{recording_id}/media")
    assert await played.read() == content

    rng = random.Random(recording_id)
    windows = [
        content[start : start + 24]
        for start in (rng.randrange(len(content) - 24) for _ in range(40))
    ]
    roots = [settings.var_dir, Path(tempfile.gettempdir())]
    if settings.is_sqlite:
        roots.append(Path(settings.database_url.split("///", 1)[1]).parent)
    assert await asyncio.to_thread(_files_holding, roots, windows, since) == []
    assert await _rows_holding(db, windows) == []
    # The search can find what is there: a window written in clear is found.
    (settings.var_dir / "planted").write_bytes(windows[0])
    assert await asyncio.to_thread(_files_holding, roots, windows, since) != []
