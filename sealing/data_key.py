"""Sealing sensitive fields at rest: AES-256-GCM, with key ids so keys can rotate.

The key file (``SAFECALL_DATA_KEY_FILE``) holds one key per line as
``<key-id>:<base64 of 32 bytes>``; the first line is the current key, older
lines only open what they sealed. From each key two sub-keys are derived with
HKDF: one encrypts, one computes the keyed phone-number hash (so a number
can be recognised without being stored in clear).

A sealed value is ``version(1) | key-id length(1) | key-id | nonce(12) | ciphertext+tag``;
the field name is bound in as associated data, so a value moved to another
column does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from safecall import keyfile

_VERSION = 1


class SealError(ValueError):
    """A value could not be opened (wrong key, wrong field, or tampered with)."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


@dataclass(frozen=True)
class _Key:
    kid: str
    aead: AESGCM
    mac_key: bytes


class DataKey:
    """Seals and opens field values; computes keyed hashes of phone numbers."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("a data key file needs at least one key")
        self._keys: dict[str, _Key] = {}
        for kid, master in keys:
            if not keyfile.KID.match(kid) or len(master) != 32:
                raise ValueError(f"key {kid!r}: expected an id of letters/digits and 32 bytes")
            self._keys[kid] = _Key(
                kid, AESGCM(_derive(master, b"safecall fields")), _derive(master, b"safecall hmac")
            )
        self._current = self._keys[keys[0][0]]
        # The phone hash must not change when keys rotate: it uses the oldest key.
        self._hash_key = self._keys[keys[-1][0]].mac_key
        self._oldest_master = keys[-1][1]

    def secret(self, purpose: str) -> bytes:
        """A 32-byte secret for ``purpose`` (e.g. signing tokens), the same on every process.

        Derived from the oldest key, like the phone hash, so it survives rotation.
        """
        return _derive(self._oldest_master, b"safecall secret " + purpose.encode())

    @classmethod
    def generate(cls, kid: str = "k1") -> tuple[DataKey, str]:
        """A new key and the line to write to a key file."""
        master = secrets.token_bytes(32)
        return cls([(kid, master)]), f"{kid}:{base64.b64encode(master).decode()}\n"

    @classmethod
    def load(cls, path: Path) -> DataKey:
        return cls(keyfile.read_keys(path, "data key"))

    @staticmethod
    def ensure_file(path: Path) -> bool:
        """Create a key file with one new key when it is missing; True when created."""
        return keyfile.create(path, "k1")

    def seal(self, value: str, field: str) -> bytes:
        key = self._current
        nonce = secrets.token_bytes(12)
        kid = key.kid.encode()
        body = key.aead.encrypt(nonce, value.encode("utf-8"), field.encode())
        return bytes([_VERSION, len(kid)]) + kid + nonce + body

    def open(self, sealed: bytes, field: str) -> str:
        try:
            if sealed[0] != _VERSION:
                raise SealError(f"unknown sealed-value version {sealed[0]}")
            n = sealed[1]
            kid = sealed[2 : 2 + n].decode()
            nonce = sealed[2 + n : 14 + n]
            key = self._keys[kid]
            return key.aead.decrypt(nonce, sealed[14 + n :], field.encode()).decode("utf-8")
        except SealError:
            raise
        except Exception as exc:
            raise SealError(f"cannot open sealed {field}") from exc

    def seal_optional(self, value: str | None, field: str) -> bytes | None:
        return None if value is None or value == "" else self.seal(value, field)

    def open_optional(self, sealed: bytes | None, field: str) -> str | None:
        return None if sealed is None else self.open(sealed, field)

    def phone_hash(self, number: str) -> str:
        """Keyed HMAC-SHA256 of a normalised phone number (digits and leading +)."""
        return hmac.new(
            self._hash_key, normalise_phone(number).encode(), hashlib.sha256
        ).hexdigest()


def normalise_phone(number: str) -> str:
    digits = "".join(c for c in number if c.isdigit())
    return ("+" if number.strip().startswith("+") else "") + digits


def mask_phone(number: str) -> str:
    """``+92 300 1234567`` -> ``+92•••••••67``: enough to confirm, not to dial."""
    n = normalise_phone(number)
    if len(n) <= 5:
        return "•" * len(n)
    return n[:3] + "•" * (len(n) - 5) + n[-2:]
