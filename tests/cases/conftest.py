"""Helpers for the case tests: officers and cases made through the real services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case, ContactSession
from cases.sessions import ComplainantDetails, open_case, open_contact
from officers.models import Officer
from sealing.data_key import DataKey

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

MakeOfficer = Callable[..., Awaitable[Officer]]


@pytest.fixture
def make_officer(db: async_sessionmaker[AsyncSession]) -> MakeOfficer:
    counter = iter(range(1, 10_000))

    async def make(role: str = "officer", **fields: Any) -> Officer:
        n = next(counter)
        values: dict[str, Any] = {
            "badge": f"C-{role[:3].upper()}-{n}",
            "name": f"Case test {role} {n}",
            "role": role,
            "gender": "female",
            "languages": ["ur"],
            "skills": {},
            "lines": ["women", "child"],
            "password_hash": "not-a-hash",
        }
        values.update(fields)
        async with db() as session, session.begin():
            officer = Officer(**values)
            session.add(officer)
        return officer

    return make


@pytest.fixture
def new_case(
    db: async_sessionmaker[AsyncSession], data_key: DataKey
) -> Callable[..., Awaitable[Case]]:
    """A committed case opened through :func:`cases.sessions.open_case`."""

    async def make(**fields: Any) -> Case:
        values: dict[str, Any] = {"service_line": "women", "now": T0}
        values.update(fields)
        async with db() as session, session.begin():
            return await open_case(session, data_key, **values)

    return make


@pytest.fixture
def new_contact(
    db: async_sessionmaker[AsyncSession], data_key: DataKey
) -> Callable[..., Awaitable[tuple[ContactSession, Case]]]:
    """A committed contact opened through :func:`cases.sessions.open_contact`."""

    async def make(**fields: Any) -> tuple[ContactSession, Case]:
        values: dict[str, Any] = {"service_line": "women", "channel": "chat", "now": T0}
        values.update(fields)
        async with db() as session, session.begin():
            return await open_contact(session, data_key, **values)

    return make


async def count(db: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


DETAILS = ComplainantDetails(
    name="Ayesha Bibi",
    phone="+92 300 1234567",
    address="House 12, Street 4, Gulberg",
    callback_safe=True,
    callback_times="weekdays 10-12",
)
