"""Browsers an officer has logged in from before: a signed device cookie.

Anyone who knows a badge number could otherwise hold its owner out by typing
wrong passwords until the account's delay reaches its cap. After a successful
login the browser gets a cookie naming a device (a random id) signed for that
badge; its later attempts are counted against the device, not the badge
(:mod:`officers.throttle`), so strangers delay only strangers. The cookie proves
nothing else: it does not log anyone in, and a stolen one is throttled like an
account (its own count, one attempt at a time).

One cookie holds up to :data:`MAX_DEVICES` entries, one per badge (a shared
console computer has several officers), each ``<device>.<day>.<mac>``; the MAC
(HMAC-SHA256 under a secret derived from the data key) covers the badge, the
device and the day it was issued, and an entry older than :data:`MAX_AGE_DAYS`
no longer counts. The badge is not in the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sealing.data_key import DataKey

COOKIE = "safecall_device"
COOKIE_PATH = "/api/login"
"""Sent only with a login: nothing else needs it."""
MAX_DEVICES = 8
MAX_AGE_DAYS = 180
_ENTRY = re.compile(r"^([A-Za-z0-9_-]{16,32})\.([0-9]{1,6})\.([A-Za-z0-9_-]{43})$")


def signing_key(data_key: DataKey) -> bytes:
    """The secret the entries are signed with, the same on every server process."""
    return data_key.secret("login devices")


def _day(now: datetime) -> int:
    return int(now.timestamp() // 86_400)


def _mac(secret: bytes, badge: str, device: str, day: int) -> str:
    digest = hmac.new(secret, f"{badge}\n{device}\n{day}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _entries(cookie: str | None) -> list[str]:
    return [e for e in (cookie or "").split("~")[:MAX_DEVICES] if e]


def _device_in(entry: str, badge: str, secret: bytes, now: datetime) -> str | None:
    match = _ENTRY.match(entry)
    if match is None:
        return None
    device, day, mac = match.group(1), int(match.group(2)), match.group(3)
    if not 0 <= _day(now) - day <= MAX_AGE_DAYS:
        return None
    return device if hmac.compare_digest(mac, _mac(secret, badge, device, day)) else None


def recognised(cookie: str | None, badge: str, secret: bytes, now: datetime) -> str | None:
    """The device this browser holds for ``badge`` (its signature and age checked), if any."""
    for entry in _entries(cookie):
        device = _device_in(entry, badge, secret, now)
        if device is not None:
            return device
    return None


def remember(cookie: str | None, badge: str, secret: bytes, now: datetime) -> str:
    """The cookie's value once ``badge`` has logged in here: a new entry for her first,
    the other badges' entries kept (the oldest dropped beyond :data:`MAX_DEVICES`)."""
    device = secrets.token_urlsafe(16)
    day = _day(now)
    others = [
        e for e in _entries(cookie) if _ENTRY.match(e) and _device_in(e, badge, secret, now) is None
    ]
    fresh = f"{device}.{day}.{_mac(secret, badge, device, day)}"
    return "~".join([fresh, *others][:MAX_DEVICES])
