"""Where recordings live on disk: one encrypted file per chunk, written once.

Each chunk of a recording is sealed on its own with AES-256-GCM (a fresh
96-bit nonce per chunk) before it is written, so no plaintext ever reaches
the disk, not even in a temporary file. The associated data binds the
recording id, the chunk index and the key id: a chunk copied into another
recording, or to another index, does not open.

A chunk file is ``b"SCR1" | key-id length(1) | key-id | nonce(12) | ciphertext+tag``
under ``<root>/<recording id>/<index>-<random>.chunk``. It is created with
``O_EXCL`` and never rewritten; the database row of the chunk names the file
that counts (a file left by an attempt that crashed before its row was
committed is an orphan nobody reads).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

from recordings.keys import RecordingsKey

_MAGIC = b"SCR1"
_RECORDING_ID = re.compile(r"^[0-9a-f]{32}$")
_BLOB = re.compile(r"^[0-9]{8}-[0-9a-f]{16}\.chunk$")


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


class ChunkStore:
    """Seals, writes, reads and deletes the chunk files under ``root``."""

    def __init__(self, root: Path, key: RecordingsKey) -> None:
        self.root = root
        self.key = key

    def _dir(self, recording_id: str) -> Path:
        if not _RECORDING_ID.match(recording_id):
            raise ValueError(f"not a recording id: {recording_id!r}")
        return self.root / recording_id

    def path(self, recording_id: str, blob: str) -> Path:
        if not _BLOB.match(blob):
            raise ChunkError(f"not a chunk file name: {blob!r}")
        return self._dir(recording_id) / blob

    def write(self, recording_id: str, index: int, plaintext: bytes) -> tuple[str, str]:
        """Seal and write one chunk; returns (file name, key id). Blocking: run in a thread."""
        kid = self.key.current
        nonce = secrets.token_bytes(12)
        sealed = self.key.aead(kid).encrypt(
            nonce, plaintext, associated_data(recording_id, index, kid)
        )
        folder = self._dir(recording_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        blob = f"{index:08d}-{secrets.token_hex(8)}.chunk"
        fd = os.open(folder / blob, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            header = _MAGIC + bytes([len(kid)]) + kid.encode() + nonce
            os.write(fd, header)
            view = memoryview(sealed)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return blob, kid

    def read(self, recording_id: str, index: int, blob: str) -> bytes:
        """The plaintext of one chunk; :class:`ChunkError` naming what went wrong."""
        where = f"chunk {index} of recording {recording_id}"
        try:
            raw = self.path(recording_id, blob).read_bytes()
        except FileNotFoundError:
            raise ChunkError(f"{where}: its file {blob} is missing") from None
        if raw[:4] != _MAGIC or len(raw) < 6:
            raise ChunkError(f"{where}: its file {blob} has no chunk header (altered)")
        n = raw[4]
        kid = raw[5 : 5 + n].decode("ascii", "replace")
        nonce = raw[5 + n : 17 + n]
        try:
            aead = self.key.aead(kid)
        except KeyError:
            raise ChunkError(f"{where}: sealed with key {kid!r}, not in the key file") from None
        try:
            return aead.decrypt(nonce, raw[17 + n :], associated_data(recording_id, index, kid))
        except Exception:
            raise ChunkError(
                f"{where}: does not open with key {kid} (the file was altered or moved)"
            ) from None

    def delete(self, recording_id: str) -> None:
        """Remove every file of a recording (purge). Blocking."""
        shutil.rmtree(self._dir(recording_id), ignore_errors=True)
