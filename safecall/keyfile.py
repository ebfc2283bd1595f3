"""Key files: one ``<key-id>:<base64 of 32 bytes>`` per line, the first line current.

Used by the data key (:mod:`sealing.data_key`) and the recordings key
(:mod:`recordings.keys`); each derives its own sub-keys from these bytes.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from pathlib import Path

from safecall.private_files import new_dir

KID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


def new_line(kid: str) -> str:
    """A new random key as a line for a key file."""
    return f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}\n"


def read_keys(path: Path, what: str) -> list[tuple[str, bytes]]:
    """The ``(key id, key bytes)`` of the file, current first; ValueError names the bad line."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ValueError(f"{what} file {path} does not exist; run `safecall keys`") from None
    keys: list[tuple[str, bytes]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kid, _, b64 = line.partition(":")
        try:
            keys.append((kid, base64.b64decode(b64, validate=True)))
        except ValueError:
            raise ValueError(f"{path} line {number}: expected <key-id>:<base64>") from None
    return keys


def create(path: Path, kid: str) -> bool:
    """Create the key file (mode 0600) with one new key when it is missing; True when created."""
    new_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(new_line(kid))
    return True
