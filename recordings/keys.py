"""The recordings key: AES-256-GCM keys with ids, so keys can rotate.

The key file (``SAFECALL_RECORDINGS_KEY_FILE``) holds one key per line as
``<key-id>:<base64 of 32 bytes>``, like the data key (:mod:`sealing.data_key`):
the first line is the current key, which seals new chunks; older lines only
open chunks they sealed. The cipher key is derived from each line with HKDF,
so the same bytes used elsewhere would still give a different key.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from safecall import keyfile


class RecordingsKey:
    """The keys of the key file; :attr:`current` seals, any of them opens."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("a recordings key file needs at least one key")
        self._aeads: dict[str, AESGCM] = {}
        for kid, master in keys:
            if not keyfile.KID.match(kid) or len(master) != 32:
                raise ValueError(f"key {kid!r}: expected an id of letters/digits and 32 bytes")
            derived = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"safecall recordings"
            ).derive(master)
            self._aeads[kid] = AESGCM(derived)
        self.current = keys[0][0]
        """The key id new chunks are sealed with."""

    def aead(self, kid: str) -> AESGCM:
        """The cipher of key ``kid``; KeyError when the file no longer holds it."""
        return self._aeads[kid]

    @staticmethod
    def line(kid: str = "r1") -> str:
        """A new key as a line for the key file."""
        return keyfile.new_line(kid)

    @classmethod
    def load(cls, path: Path) -> RecordingsKey:
        return cls(keyfile.read_keys(path, "recordings key"))

    @staticmethod
    def ensure_file(path: Path) -> bool:
        """Create the key file with one new key when it is missing; True when created."""
        return keyfile.create(path, "r1")
