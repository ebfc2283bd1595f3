"""Officer passwords: argon2id hashes, checked off the event loop.

Hashing costs tens of milliseconds of CPU and 64 MiB by design, so the async
helpers run it in a thread: a login must not stall calls in progress.
"""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the RFC 9106 low-memory profile

MIN_LENGTH = 10
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    """An argon2id hash (with its own salt and parameters) of ``password``."""
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong one or a broken hash."""
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return _hasher.hash("safecall dummy password, matches nothing")


async def check_password(stored: str | None, password: str) -> bool:
    """Verify in a thread. With ``stored=None`` (no such badge) a dummy hash is
    verified instead, so the time taken does not tell whether the badge exists."""
    if stored is None:
        dummy = _dummy_hash()
        await asyncio.to_thread(verify_password, dummy, password)
        return False
    return await asyncio.to_thread(verify_password, stored, password)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)
