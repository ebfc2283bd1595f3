"""Failed-login throttling: growing delays per account and per address, never a lockout.

A hard lockout would let anyone lock every officer out by typing wrong
passwords, so a key (``badge:B-101`` or ``addr:203.0.113.7``) only ever earns
a delay: a few failures are free, then each failure doubles the wait, up to a
cap. Every ``forgive`` seconds without a failure takes one failure off the
count, so an occasional typo never adds up. State lives in the
``login_throttle`` table, so every server process sees the same counts.

A refused attempt (made during a delay) is not counted and its password is
not checked. A successful login clears the account's count, not the
address's: one valid account must not buy unlimited guesses at others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from officers.models import LoginThrottle


@dataclass(frozen=True)
class Policy:
    free: int
    """Failures allowed without any delay."""
    first_delay: float
    """Seconds of delay after the first failure beyond ``free``; doubles per failure."""
    cap: float
    """The longest delay, in seconds."""
    forgive: float
    """Seconds without a failure that take one failure off the count."""

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure."""
        beyond = failures - self.free
        if beyond <= 0:
            return 0.0
        return min(self.first_delay * 2.0 ** min(beyond - 1, 32), self.cap)


ACCOUNT = Policy(free=5, first_delay=5, cap=15 * 60, forgive=60 * 60)
"""Per badge: five free failures, then 5 s, 10 s, 20 s ... up to 15 minutes."""

ADDRESS = Policy(free=50, first_delay=5, cap=15 * 60, forgive=60)
"""Per address: far more room, since carrier-grade NAT puts many officers behind one."""


def account_key(badge: str) -> str:
    return f"badge:{badge}"


def address_key(address: str) -> str:
    return f"addr:{address}"


async def retry_after(session: AsyncSession, keys: list[str], now: datetime) -> int:
    """Whole seconds until the first of ``keys`` may try again; 0 when none is held back."""
    rows = await session.execute(
        select(LoginThrottle.blocked_until).where(
            LoginThrottle.key.in_(keys), LoginThrottle.blocked_until > now
        )
    )
    waits = [(until - now).total_seconds() for (until,) in rows if until is not None]
    return max((math.ceil(w) for w in waits), default=0)


async def record_failure(session: AsyncSession, key: str, policy: Policy, now: datetime) -> float:
    """Count one failure for ``key`` and return the delay it now carries (seconds).

    Safe under concurrency: the first statement takes the row's write lock
    (a row lock on PostgreSQL, the write lock on SQLite) before it is read.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, blocked_until=None, updated_at=now)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key], set_={"failures": LoginThrottle.failures}
        )
    )
    failures, last = (
        await session.execute(
            select(LoginThrottle.failures, LoginThrottle.updated_at).where(LoginThrottle.key == key)
        )
    ).one()
    quiet = max((now - last).total_seconds(), 0.0)
    failures = max(failures - int(quiet // policy.forgive), 0) + 1
    delay = policy.delay(failures)
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key)
        .values(
            failures=failures,
            blocked_until=now + timedelta(seconds=delay) if delay else None,
            updated_at=now,
        )
    )
    return delay


async def clear(session: AsyncSession, key: str) -> None:
    """Forget every failure of ``key`` (after a successful login)."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
