"""Where recordings' chunks live: each sealed on its own, written once, in one of two stores.

Each chunk of a recording is sealed on its own with AES-256-GCM (a fresh
96-bit nonce per chunk) before it is stored, so no plaintext ever reaches a
disk or a database, not even in a temporary file. The associated data binds
the recording id, the chunk index and the key id: a chunk copied into another
recording, or to another index, does not open.

A sealed chunk is ``b"SCR1" | key-id length(1) | key-id | nonce(12) | ciphertext+tag``,
named ``<index>-<random>.chunk``; the database row of the chunk
(``RecordingChunk.blob``) names the one that counts. Two stores keep these bytes
(``SAFECALL_RECORDINGS_STORE``):

- ``local`` (:class:`DirectoryStore`, the embedded default): one file per chunk
  under ``<var>/recordings/<recording id>/``, created with ``O_EXCL`` and never
  rewritten (a file left by an attempt that crashed before its row was committed
  is an orphan nobody reads);
- ``database`` (:class:`recordings.database_store.DatabaseStore`): one row per
  chunk in the database every node shares, written in the same transaction as
  the chunk's row.

The hash chain and the content hash (:mod:`recordings.custody`) are the same on both.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from recordings.keys import RecordingsKey

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_MAGIC = b"SCR1"
_RECORDING_ID = re.compile(r"^[0-9a-f]{32}$")
_BLOB = re.compile(r"^[0-9]{8}-[0-9a-f]{16}\.chunk$")
KINDS = ("local", "database")
"""The values of ``SAFECALL_RECORDINGS_STORE``."""


class ChunkError(ValueError):
    """A stored chunk is missing, unreadable, or does not open (altered or misplaced)."""


def associated_data(recording_id: str, index: int, kid: str) -> bytes:
    return (
        b"safecall recording chunk\0"
        + recording_id.encode()
        + b"\0"
        + index.to_bytes(8, "big")
        + kid.encode()
    )


def check_recording_id(recording_id: str) -> str:
    if not _RECORDING_ID.match(recording_id):
        raise ValueError(f"not a recording id: {recording_id!r}")
    return recording_id


def check_blob(blob: str) -> str:
    if not _BLOB.match(blob):
        raise ChunkError(f"not a chunk name: {blob!r}")
    return blob


def new_blob(index: int) -> str:
    return f"{index:08d}-{secrets.token_hex(8)}.chunk"


def seal(key: RecordingsKey, recording_id: str, index: int, plaintext: bytes) -> tuple[bytes, str]:
    """The sealed bytes of one chunk (header included) and the key id that sealed them."""
    kid = key.current
    nonce = secrets.token_bytes(12)
    sealed = key.aead(kid).encrypt(nonce, plaintext, associated_data(recording_id, index, kid))
    return _MAGIC + bytes([len(kid)]) + kid.encode() + nonce + sealed, kid


def unseal(key: RecordingsKey, recording_id: str, index: int, blob: str, raw: bytes) -> bytes:
    """The plaintext of sealed bytes; :class:`ChunkError` naming what went wrong."""
    where = f"chunk {index} of recording {recording_id}"
    if raw[:4] != _MAGIC or len(raw) < 6:
        raise ChunkError(f"{where}: its stored bytes {blob} have no chunk header (altered)")
    n = raw[4]
    kid = raw[5 : 5 + n].decode("ascii", "replace")
    nonce = raw[5 + n : 17 + n]
    try:
        aead = key.aead(kid)
    except KeyError:
        raise ChunkError(f"{where}: sealed with key {kid!r}, not in the key file") from None
    try:
        return aead.decrypt(nonce, raw[17 + n :], associated_data(recording_id, index, kid))
    except Exception:
        raise ChunkError(
            f"{where}: does not open with key {kid} (its bytes were altered or moved)"
        ) from None


class ChunkStore(Protocol):
    """What custody, playback, export and retention need of a store."""

    key: RecordingsKey
    kind: str
    """``local`` or ``database``."""

    async def write(
        self, recording_id: str, index: int, plaintext: bytes, within: AsyncSession
    ) -> tuple[str, str]:
        """Seal and store one chunk; returns (its name, key id). ``within`` is the open
        transaction that adds the chunk's row: a store in the database writes there."""
        ...

    async def read(self, recording_id: str, index: int, blob: str) -> bytes:
        """The plaintext of one chunk; :class:`ChunkError` naming what went wrong."""
        ...

    async def delete(self, recording_id: str) -> None:
        """Remove every stored chunk of a recording (purge)."""
        ...


class DirectoryStore:
    """The chunks as files under ``root`` (one folder per recording)."""

    kind = "local"

    def __init__(self, root: Path, key: RecordingsKey) -> None:
        self.root = root
        self.key = key

    def _dir(self, recording_id: str) -> Path:
        return self.root / check_recording_id(recording_id)

    def path(self, recording_id: str, blob: str) -> Path:
        return self._dir(recording_id) / check_blob(blob)

    async def write(
        self, recording_id: str, index: int, plaintext: bytes, within: AsyncSession
    ) -> tuple[str, str]:
        return await asyncio.to_thread(self._write, recording_id, index, plaintext)

    def _write(self, recording_id: str, index: int, plaintext: bytes) -> tuple[str, str]:
        sealed, kid = seal(self.key, recording_id, index, plaintext)
        folder = self._dir(recording_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        blob = new_blob(index)
        fd = os.open(folder / blob, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(sealed)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return blob, kid

    async def read(self, recording_id: str, index: int, blob: str) -> bytes:
        return await asyncio.to_thread(self._read, recording_id, index, blob)

    def _read(self, recording_id: str, index: int, blob: str) -> bytes:
        try:
            raw = self.path(recording_id, blob).read_bytes()
        except FileNotFoundError:
            raise ChunkError(
                f"chunk {index} of recording {recording_id}: its file {blob} is missing"
            ) from None
        return unseal(self.key, recording_id, index, blob, raw)

    async def delete(self, recording_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._dir(recording_id), ignore_errors=True)


def open_store(
    kind: str, root: Path, key: RecordingsKey, db: async_sessionmaker[AsyncSession]
) -> ChunkStore:
    """The store ``SAFECALL_RECORDINGS_STORE`` names: files under ``root``, or rows in ``db``."""
    if kind == "local":
        return DirectoryStore(root, key)
    if kind == "database":
        from recordings.database_store import DatabaseStore

        return DatabaseStore(db, key)
    raise ValueError(f"no recordings store of kind {kind!r}; expected one of {', '.join(KINDS)}")
