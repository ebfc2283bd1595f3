"""Failed-login throttling: growing delays per account and per address, never a lockout.

A hard lockout would let anyone lock every officer out by typing wrong
passwords, so a key (``badge:B-101``, ``device:…`` or ``addr:203.0.113.7``)
only ever earns a delay: a few failures are free, then each failure doubles the
wait, up to a cap. Every ``forgive`` seconds without a failure takes one failure
off the count, so an occasional typo never adds up. State lives in the
``login_throttle`` table, so every server process sees the same counts.

An attempt is admitted *before* its password is checked (:func:`begin_attempt`),
in one locked step on both its keys, and is counted as pending until it ends
(:func:`end_attempt`): so parallel guesses cannot all pass one open gap. A key
admits a new attempt only while it is not delayed and only as many as could all
fail without earning a delay (the free failures left, minus those pending);
beyond that, one at a time. An account admits one attempt at a time in any case
(``concurrent``), so a flood of guesses for one badge is refused before any
argon2 work. A refused attempt is not counted and its password is not checked.
A pending attempt whose process died is forgotten after ``LEASE`` seconds.

A successful login clears the account's count, not the address's: one valid
account must not buy unlimited guesses at others. An officer's browser that
has logged in before sends a device cookie (:mod:`officers.devices`); her
attempts are then counted against that device (``device:…``), not her badge, so
strangers typing wrong passwords for her badge delay only strangers.
"""

from __future__ import annotations

import enum
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from officers.models import LoginThrottle
from safecall.ratelimit import address_key as network_of

LEASE = 30.0
"""Seconds a pending attempt counts at most: a process that died mid-check frees it."""


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
    concurrent: int = 1_000
    """Attempts of this key checked at once, at most."""

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure."""
        beyond = failures - self.free
        if beyond <= 0:
            return 0.0
        return min(self.first_delay * 2.0 ** min(beyond - 1, 32), self.cap)


ACCOUNT = Policy(free=5, first_delay=5, cap=15 * 60, forgive=60 * 60, concurrent=1)
"""Per badge (or per known device): five free failures, then 5 s, 10 s, 20 s ... up to
15 minutes; one attempt checked at a time."""

ADDRESS = Policy(free=50, first_delay=5, cap=15 * 60, forgive=60)
"""Per address: far more room, since carrier-grade NAT puts many officers behind one."""


def account_key(badge: str) -> str:
    return f"badge:{badge}"


def device_key(device: str) -> str:
    """The key of one browser an officer has logged in from before (her attempts there)."""
    return f"device:{device}"


def address_key(address: str) -> str:
    """``addr:`` and the address, an IPv6 one by its /64 (one phone may rotate through
    its whole /64; each address in it must not get a count of its own)."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address}"
    return f"addr:{network_of(address)}"


class Outcome(enum.Enum):
    """How an admitted attempt ended."""

    FAILED = "failed"
    """Wrong badge, password or code: one failure on each key."""
    NOT_FAILED = "not_failed"
    """Nothing to count (the password was right; a second factor is still to come)."""
    SUCCEEDED = "succeeded"
    """Logged in: the account's count is cleared (the address's is not)."""


@dataclass(frozen=True)
class Refused:
    """The attempt was not admitted: wait ``retry_after`` whole seconds."""

    retry_after: int
    busy: bool
    """True when other attempts are being checked (not a delay earned by failures)."""


@dataclass
class _Row:
    failures: int
    updated_at: datetime
    blocked_until: datetime | None
    pending: int
    pending_until: datetime | None


async def _lock(session: AsyncSession, key: str, now: datetime) -> _Row:
    """The key's row, created when missing, under its write lock until the transaction ends
    (a row lock on PostgreSQL, the write lock on SQLite)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(LoginThrottle)
        .values(key=key, failures=0, blocked_until=None, updated_at=now, pending=0)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key], set_={"failures": LoginThrottle.failures}
        )
    )
    row = (
        await session.execute(
            select(
                LoginThrottle.failures,
                LoginThrottle.updated_at,
                LoginThrottle.blocked_until,
                LoginThrottle.pending,
                LoginThrottle.pending_until,
            ).where(LoginThrottle.key == key)
        )
    ).one()
    return _Row(*row)


def _pending(row: _Row, now: datetime) -> int:
    """Attempts being checked now (none once their lease has run out)."""
    if row.pending_until is None or row.pending_until <= now:
        return 0
    return max(row.pending, 0)


def _forgiven(row: _Row, policy: Policy, now: datetime) -> int:
    quiet = max((now - row.updated_at).total_seconds(), 0.0)
    return max(row.failures - int(quiet // policy.forgive), 0)


async def begin_attempt(
    session: AsyncSession, keys: list[tuple[str, Policy]], now: datetime
) -> Refused | None:
    """Admit one attempt on every key of ``keys`` (all or none), or say how long to wait.

    Call it in its own transaction, before checking the password; then call
    :func:`end_attempt` with the same keys whatever happens.
    """
    rows = {key: await _lock(session, key, now) for key, _ in sorted(keys, key=lambda k: k[0])}
    waits = [
        math.ceil((row.blocked_until - now).total_seconds())
        for row in rows.values()
        if row.blocked_until is not None and row.blocked_until > now
    ]
    if waits:
        return Refused(max(waits), busy=False)
    for key, policy in keys:
        row = rows[key]
        pending = _pending(row, now)
        # Beyond the free failures, one at a time: were every pending one to fail, this one
        # would have to wait.
        if pending >= policy.concurrent or (
            pending and policy.delay(_forgiven(row, policy, now) + pending) > 0
        ):
            return Refused(1, busy=True)
    until = now + timedelta(seconds=LEASE)
    for key, _ in keys:
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(pending=_pending(rows[key], now) + 1, pending_until=until)
        )
    return None


async def end_attempt(
    session: AsyncSession, keys: list[tuple[str, Policy]], outcome: Outcome, now: datetime
) -> None:
    """The admitted attempt on ``keys`` ended with ``outcome``: count it, free its place.

    With :attr:`Outcome.SUCCEEDED` the first key (the account) is cleared.
    """
    account = keys[0][0]
    for key, policy in sorted(keys, key=lambda k: k[0]):
        if outcome is Outcome.SUCCEEDED and key == account:
            await clear(session, key)
            continue
        row = await _lock(session, key, now)
        pending = max(_pending(row, now) - 1, 0)
        if outcome is not Outcome.FAILED and not pending and not _forgiven(row, policy, now):
            await clear(session, key)  # nothing left to remember about this key
            continue
        values: dict[str, object] = {"pending": pending}
        if outcome is Outcome.FAILED:
            failures = _forgiven(row, policy, now) + 1
            delay = policy.delay(failures)
            values.update(
                failures=failures,
                blocked_until=now + timedelta(seconds=delay) if delay else None,
                updated_at=now,
            )
        await session.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(values))


async def record_failure(session: AsyncSession, key: str, policy: Policy, now: datetime) -> float:
    """Count one failure for ``key`` and return the delay it now carries (seconds).

    Safe under concurrency: the row is locked before it is read.
    """
    row = await _lock(session, key, now)
    failures = _forgiven(row, policy, now) + 1
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
