"""Fixtures for officer tests: officers with real argon2 password hashes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from officers import totp
from officers.models import Officer
from officers.passwords import hash_password
from sealing.data_key import DataKey

PASSWORD = "correct horse battery"


@cache
def password_hash() -> str:
    # One real hash for the whole run: argon2 is slow on purpose.
    return hash_password(PASSWORD)


AddOfficer = Callable[..., Awaitable[Officer]]


@pytest.fixture
def add_officer(db: async_sessionmaker[AsyncSession], data_key: DataKey) -> AddOfficer:
    """``officer = await add_officer("B-101", role="admin", with_totp=True)``.

    With ``with_totp`` the secret is on ``officer.totp_secret`` for the test.
    """

    async def add(badge: str = "B-101", *, with_totp: bool = False, **fields: Any) -> Officer:
        values: dict[str, Any] = {
            "badge": badge,
            "name": f"Officer {badge}",
            "role": "officer",
            "gender": "female",
            "languages": ["ur", "en"],
            "skills": {"domestic_violence": 4},
            "lines": ["women"],
            "password_hash": password_hash(),
            "disabled": False,
        }
        values.update(fields)
        officer = Officer(**values)
        secret = totp.enrol(officer, data_key) if with_totp else None
        async with db.begin() as session:
            session.add(officer)
        officer.totp_secret = secret  # type: ignore[attr-defined]
        return officer

    return add
