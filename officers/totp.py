"""The optional second factor: time-based one-time codes (RFC 6238, 30 s steps).

The shared secret is stored sealed (field ``officer.totp``). A code is
accepted for its own step and one step either side (clock drift), and each
step is accepted once: a code seen over a shoulder or replayed from a log
cannot be used again, and neither can an older one.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from officers.models import Officer
from sealing.data_key import DataKey

FIELD = "officer.totp"
ISSUER = "safecall"
DRIFT_STEPS = 1


def enrol(officer: Officer, key: DataKey) -> str:
    """Give ``officer`` a new secret (replacing any old one); return it for the authenticator."""
    secret = pyotp.random_base32()
    officer.totp_sealed = key.seal(secret, FIELD)
    officer.totp_last_step = None
    return secret


def provisioning_uri(secret: str, badge: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=badge, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code is ``code`` (within the drift allowance), or None."""
    code = code.replace(" ", "")
    totp = pyotp.TOTP(secret)
    if len(code) != totp.digits or not (code.isascii() and code.isdigit()):
        return None
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def accept(
    session: AsyncSession, officer: Officer, key: DataKey, code: str, now: datetime
) -> bool:
    """True when ``code`` is valid for ``officer`` and its step was not used before.

    The step is recorded in the same statement that checks it, so two
    requests racing with one code cannot both succeed.
    """
    if officer.totp_sealed is None:
        return False
    step = matching_step(key.open(officer.totp_sealed, FIELD), code, now)
    if step is None:
        return False
    result = await session.execute(
        update(Officer)
        .where(
            Officer.id == officer.id,
            or_(Officer.totp_last_step.is_(None), Officer.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
