"""Tracking a case by its code: one service for ``/api/track`` and the phone menu.

A lookup is charged to whoever asks (an address on the web, the calling
number's keyed hash on the phone: :data:`Asker`) under one limiter
(:class:`safecall.ratelimit.TrackingLimiter`): mostly misses are charged, so
carrier-grade NAT does not lock out a town. A code with a wrong check digit
and a code no case has get the very same answer (:class:`CodeUnknown`) after
the very same database lookup. PIN attempts are charged to the case before
the PIN is checked, wherever they come from (a spoofed caller ID or another
address buys nothing), and a case without a PIN is checked against a decoy
hash, so a wrong PIN takes as long whether or not a PIN was ever set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from prometheus_client import Counter
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.log import AuditLog
from cases.casework import hash_pin, set_pin
from cases.models import Case, TimelineEvent
from cases.public_view import visible_events
from cases.tracking_code import ascii_digits, is_valid, normalise
from safecall.ratelimit import Refusal, TrackingLimiter
from safecall.refusals import Invalid, NotAllowed, NotFound, TooMany

LOOKUPS = Counter(
    "safecall_tracking_lookups",
    "Public tracking lookups by result.",
    ["result"],  # hit | miss | invalid | refused | pin_wrong
)


@dataclass(frozen=True)
class Asker:
    """Who asks, as the limits count them: ``address:<ip>`` or ``phone:<keyed hash>``."""

    key: str
    via: str
    """``web`` or ``phone`` (for the audit log; never the address or number itself)."""

    @classmethod
    def address(cls, address: str) -> Asker:
        return cls(address, "web")

    @classmethod
    def phone(cls, phone_hash: str) -> Asker:
        return cls(f"phone:{phone_hash}", "phone")


class CodeUnknown(NotFound):
    """No case has this code (or its check digit is wrong: the same answer)."""


class PinWrong(NotAllowed):
    """The PIN is not this case's (``wait_if_wrong``: seconds before the next try)."""

    def __init__(self, wait_if_wrong: float) -> None:
        message = "That PIN is not right for this case."
        if wait_if_wrong > 0:
            message += f" You can try again {when(wait_if_wrong)}."
        super().__init__("pin_wrong", message, retry_after=wait_if_wrong or None)


class TooManyTries(TooMany):
    def __init__(self, refusal: Refusal) -> None:
        reason = {
            "address": "There have been too many tries from your network.",
            "everyone": "Tracking is paused for a while because of unusual traffic.",
            "case": "There have been too many wrong PINs for this case.",
        }[refusal.scope]
        super().__init__(
            "too_many_attempts",
            f"{reason} Please try again {when(refusal.retry_after)}.",
            retry_after=refusal.retry_after,
        )
        self.scope = refusal.scope


UNKNOWN_MESSAGE = "No case has this tracking code. Check the 12 digits and try again."


@dataclass(frozen=True)
class Tracked:
    case: Case
    events: list[TimelineEvent] | None
    """Her visible timeline (only with the right PIN)."""


_BY_CODE = select(Case).where(Case.tracking_code == bindparam("code"))


class Tracking:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        limiter: TrackingLimiter,
        audit: AuditLog,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.limiter = limiter
        self.audit = audit
        self.clock = clock

    async def find(
        self, typed: str, asker: Asker, *, pin: str | None = None, pin_if_set: bool = False
    ) -> Tracked:
        """The case with this code, as she may see it: with ``pin`` (when it is right) her
        timeline too; with ``pin_if_set`` a case that has a PIN is shown only with it (the
        phone, which tells the status aloud). Raises :class:`TooManyTries`,
        :class:`~safecall.refusals.Invalid` ``invalid_tracking_code`` (not 12 digits),
        :class:`CodeUnknown` or :class:`PinWrong`.
        """
        now = self.clock()
        refusal = await self.limiter.admit(asker.key, now)
        if refusal is not None:
            LOOKUPS.labels("refused").inc()
            raise TooManyTries(refusal)
        code = normalise(typed)
        if code is None:
            LOOKUPS.labels("invalid").inc()
            raise Invalid("invalid_tracking_code", "A tracking code has 12 digits.")
        # The lookup runs for every well-formed code, right check digit or not,
        # so both kinds of miss take the same path and the same time.
        async with self.db() as session:
            case = (await session.execute(_BY_CODE, {"code": code})).scalar_one_or_none()
        if case is None or not is_valid(code):
            if is_valid(code):  # a wrong check digit is a typo, not a guess
                await self.limiter.record_miss(asker.key, now)
            LOOKUPS.labels("miss").inc()
            raise CodeUnknown("tracking_code_unknown", UNKNOWN_MESSAGE)
        pin = ascii_digits(pin or "").strip() or None
        if pin is None and pin_if_set and case.pin_hash is not None:
            pin = ""  # checked, and charged, as a wrong PIN
        events = None
        if pin is not None:
            await self._check_pin(case, pin)
            async with self.db() as session:
                events = list(await visible_events(session, case.id))
        await self.audit.record(
            actor_kind="public",
            officer_id=None,
            action="case.track",
            object_type="case",
            object_id=str(case.id),
            address=None,  # anonymous means anonymous, even in the audit log
            detail={"pin": pin is not None, "via": asker.via},
        )
        LOOKUPS.labels("hit").inc()
        return Tracked(case, events)

    async def change_pin(self, typed: str, asker: Asker, *, pin: str, new_pin: str) -> int:
        """Her PIN changed, with the one she has (checked, and charged, as any PIN attempt:
        a case without a PIN cannot be given one here, so whoever holds her code cannot lock
        her out); the case id."""
        pin_hash = await asyncio.to_thread(hash_pin, ascii_digits(new_pin).strip())
        if not pin.strip():
            raise PinWrong(0.0)
        found = await self.find(typed, asker, pin=pin)
        async with self.db() as session, session.begin():
            case = await session.get(Case, found.case.id)
            assert case is not None
            await set_pin(session, case, pin_hash=pin_hash, now=self.clock())
        await self.audit.record(
            actor_kind="public",
            officer_id=None,
            action="case.pin_change",
            object_type="case",
            object_id=str(found.case.id),
            address=None,
            detail={"via": asker.via},
        )
        return found.case.id

    async def miss(self, asker: Asker) -> None:
        """A code that matched nothing somewhere else (her intake): charged as a miss."""
        await self.limiter.record_miss(asker.key, self.clock())

    async def _check_pin(self, case: Case, pin: str) -> None:
        key = f"case:{case.id}"
        attempt = await self.limiter.pin_attempt(key, self.clock())
        if attempt.refused is not None:
            LOOKUPS.labels("refused").inc()
            raise TooManyTries(attempt.refused)
        if await asyncio.to_thread(pin_matches, case.pin_hash, pin):
            await self.limiter.pin_correct(key)
            return
        await self.audit.record(
            actor_kind="public",
            officer_id=None,
            action="case.track_pin_wrong",
            object_type="case",
            object_id=str(case.id),
            address=None,
        )
        LOOKUPS.labels("pin_wrong").inc()
        raise PinWrong(attempt.wait_if_wrong)


def when(seconds: float) -> str:
    """``in a minute``, ``in 5 minutes``, ``in 2 hours``: roughly, never sooner than true."""
    minutes = -(-seconds // 60)
    if minutes <= 1:
        return "in a minute"
    if minutes < 120:
        return f"in {int(minutes)} minutes"
    return f"in {int(-(-minutes // 60))} hours"


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _decoy_hash() -> str:
    # Checked when the case has no PIN, so that takes as long as a wrong PIN.
    return _hasher().hash("no pin was set for this case")


def pin_matches(pin_hash: str | None, pin: str) -> bool:
    """True when ``pin`` is the one ``pin_hash`` was made from (argon2; blocking)."""
    try:
        return _hasher().verify(pin_hash or _decoy_hash(), pin) and pin_hash is not None
    except (VerificationError, InvalidHashError):
        return False
