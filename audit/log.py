"""The audit log: append-only, hash-chained, its head signed at intervals.

Interface other packages rely on::

    await request.app[AUDIT].record(
        actor_kind="officer",       # officer | public | system | twilio
        officer_id=officer.id,      # or None
        action="case.read",         # <object>.<verb>, e.g. case.update, case.note_add, login.fail
        object_type="case",
        object_id=str(case.id),     # or None
        address=client_address(request),
        detail={"fields": [...]},   # no names, phone numbers or note text
    )

``record`` writes in its own transaction and returns when the event is durable.

Each event's ``hash`` is SHA-256 over a canonical encoding of its fields and the
previous event's hash (:func:`event_hash`); ids are dense (1, 2, 3, …) so a
deleted row shows as a gap. Appends are serialised: an asyncio lock within the
process, and across processes ``pg_advisory_xact_lock`` on PostgreSQL or the
write lock (``BEGIN IMMEDIATE``) on SQLite, taken before the head is read.

Every ``sign_every`` events or ``sign_interval`` seconds, whichever comes first,
and on :meth:`AuditLog.close`, the head is signed with an Ed25519 key kept in a
file the database never sees (:func:`ensure_signing_key`); the signature goes in
``audit_checkpoints``. :func:`verify` checks all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import RowMapping, func, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.models import AuditCheckpoint, AuditEvent
from safecall.background import Periodic
from safecall.private_files import new_dir

log = logging.getLogger(__name__)

GENESIS = "0" * 64
"""The ``prev_hash`` of the first event."""

# One constant across every server process: the advisory lock that orders appends.
_PG_LOCK = int.from_bytes(hashlib.sha256(b"safecall audit chain").digest()[:8], "big", signed=True)
_WORD = re.compile(r"^[a-z][a-z0-9_]*$")
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


# --- canonical encoding ---------------------------------------------------------------


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode()


def event_hash(
    *,
    id: int,
    at: datetime,
    actor_kind: str,
    officer_id: int | None,
    action: str,
    object_type: str,
    object_id: str | None,
    address: str | None,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the event's canonical encoding: sorted-key JSON, UTC microseconds."""
    encoded = _canonical(
        {
            "v": 1,
            "id": id,
            "at": _timestamp(at),
            "actor_kind": actor_kind,
            "officer_id": officer_id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "address": address,
            "detail": detail,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(encoded).hexdigest()


HASHED = (
    "id",
    "at",
    "actor_kind",
    "officer_id",
    "action",
    "object_type",
    "object_id",
    "address",
    "detail",
    "prev_hash",
)
"""The stored fields ``hash`` covers."""


def hash_of(row: Mapping[Any, Any]) -> str:
    """What a stored event's ``hash`` must be, recomputed from its fields."""
    return event_hash(**{name: row[name] for name in HASHED})


def checkpoint_message(event_id: int, event_hash: str, signed_at: datetime) -> bytes:
    """The bytes a checkpoint's signature covers."""
    return b"safecall audit checkpoint\n" + _canonical(
        {"v": 1, "event_id": event_id, "event_hash": event_hash, "signed_at": _timestamp(signed_at)}
    )


# --- keys -----------------------------------------------------------------------------


def ensure_signing_key(path: Path) -> bool:
    """Create an Ed25519 private key (PEM, mode 0600) at ``path`` unless one exists.

    Returns True when it created the file.
    """
    new_dir(path.parent)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        # O_EXCL: two processes starting at once never overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    return True


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The private key in ``path``; ValueError naming the file when missing or not Ed25519."""
    key = _load_key(path)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"audit key file {path} holds a public key; signing needs the private key")
    return key


def load_verify_key(path: Path) -> Ed25519PublicKey:
    """The public key in ``path``, which may hold the public or the private key."""
    key = _load_key(path)
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def _load_key(path: Path) -> Ed25519PrivateKey | Ed25519PublicKey:
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"audit key file {path} does not exist; run `safecall keys`") from None
    loaded: Any
    try:
        loaded = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        try:
            loaded = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            loaded = None
    if not isinstance(loaded, Ed25519PrivateKey | Ed25519PublicKey):
        raise ValueError(f"audit key file {path} does not hold an Ed25519 key in PEM form")
    return loaded


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint of the public key: 16 hex digits of its SHA-256."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --- writing --------------------------------------------------------------------------


@dataclass
class _Signed:
    """What this process knows of the newest checkpoint."""

    event_id: int
    at: datetime | None


class AuditLog:
    """Appends audit events and signs the chain head; one per server process.

    ``sign_every`` events or ``sign_interval`` seconds (app clock at each append;
    a background task also wakes every ``sign_interval`` real seconds so a quiet
    tail does not stay unsigned), whichever comes first, the head gets a
    checkpoint. ``close`` signs what is left and is safe to call twice.
    """

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        key_file: Path,
        clock: Callable[[], datetime],
        *,
        sign_every: int = 100,
        sign_interval: float = 60.0,
    ) -> None:
        if sign_every < 1 or sign_interval <= 0:
            raise ValueError("sign_every must be at least 1 and sign_interval above 0")
        self._db = db
        self._key = load_signing_key(key_file)
        self._key_id = key_id(self._key.public_key())
        self._clock = clock
        self._sign_every = sign_every
        self._sign_interval = sign_interval
        self._lock = asyncio.Lock()
        self._signed: _Signed | None = None  # loaded with the first append
        self._unsigned = False  # this process appended past the newest checkpoint it knows
        self._timer: Periodic | None = None
        self._closed = False

    async def record(
        self,
        *,
        actor_kind: str,
        officer_id: int | None,
        action: str,
        object_type: str,
        object_id: str | None = None,
        address: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one event; returns once it is committed. ValueError on bad fields."""
        detail = _checked(actor_kind, officer_id, action, object_type, object_id, address, detail)
        if self._closed:
            raise RuntimeError("the audit log is closed")
        async with self._lock:
            async with self._db() as session, session.begin():
                await self._take_write_lock(session)
                head = (
                    await session.execute(
                        select(AuditEvent.id, AuditEvent.hash)
                        .order_by(AuditEvent.id.desc())
                        .limit(1)
                    )
                ).first()
                new_id, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
                at = self._clock()
                fields: dict[str, Any] = {
                    "id": new_id,
                    "at": at,
                    "actor_kind": actor_kind,
                    "officer_id": officer_id,
                    "action": action,
                    "object_type": object_type,
                    "object_id": object_id,
                    "address": address,
                    "detail": detail,
                    "prev_hash": prev,
                }
                digest = event_hash(**fields)
                await session.execute(insert(AuditEvent).values(**fields, hash=digest))
                signed = self._signed
                if signed is None:
                    signed = await _newest_checkpoint(session)
                due = (
                    new_id - signed.event_id >= self._sign_every
                    or signed.at is None
                    or (at - signed.at).total_seconds() >= self._sign_interval
                )
                if due:
                    signed = await self._sign(session, new_id, digest, at)
            # Committed: only now does this process's view move on.
            self._signed = signed
            self._unsigned = not due
        self._start_timer()

    async def checkpoint(self) -> bool:
        """Sign the current head if it is not signed yet; True when a checkpoint was written."""
        async with self._lock, self._db() as session, session.begin():
            # Under the write lock, checkpoint ids follow event ids: the newest is the last.
            await self._take_write_lock(session)
            head = (
                await session.execute(
                    select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
                )
            ).first()
            signed = await _newest_checkpoint(session)
            if head is None or head[0] <= signed.event_id:
                self._signed, self._unsigned = signed, False
                return False
            self._signed = await self._sign(session, head[0], head[1], self._clock())
            self._unsigned = False
            return True

    async def close(self) -> None:
        """Stop the timer and sign the head this process left unsigned. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            await self._timer.stop()  # a checkpoint it is writing finishes first
            self._timer = None
        if self._unsigned:
            await self.checkpoint()

    async def _take_write_lock(self, session: AsyncSession) -> None:
        conn = await session.connection()
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        else:
            # The sqlite3 driver has not begun a transaction yet (it does so lazily
            # before the first write): take the write lock now, before reading the head.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")

    async def _sign(
        self, session: AsyncSession, event_id: int, digest: str, at: datetime
    ) -> _Signed:
        signature = self._key.sign(checkpoint_message(event_id, digest, at))
        await session.execute(
            insert(AuditCheckpoint).values(
                event_id=event_id,
                event_hash=digest,
                key_id=self._key_id,
                signature=signature.hex(),
                signed_at=at,
            )
        )
        return _Signed(event_id, at)

    def _start_timer(self) -> None:
        if self._timer is None and not self._closed:
            self._timer = Periodic(
                self._sign_if_unsigned,
                every=self._sign_interval,
                name="audit-checkpoints",
                # The next append or wake-up tries again; the events themselves are safe.
                failure="could not sign the audit chain head",
            )
            self._timer.start()

    async def _sign_if_unsigned(self) -> None:
        if self._unsigned:
            await self.checkpoint()


async def _newest_checkpoint(session: AsyncSession) -> _Signed:
    row = (
        await session.execute(
            select(AuditCheckpoint.event_id, AuditCheckpoint.signed_at)
            .order_by(AuditCheckpoint.id.desc())
            .limit(1)
        )
    ).first()
    return _Signed(row[0], row[1]) if row else _Signed(0, None)


def _checked(
    actor_kind: str,
    officer_id: int | None,
    action: str,
    object_type: str,
    object_id: str | None,
    address: str | None,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    """Refuse what would not be stored exactly as given (the hash covers the stored form)."""
    for name, value, limit, pattern in (
        ("actor_kind", actor_kind, 16, _WORD),
        ("action", action, 48, _ACTION),
        ("object_type", object_type, 24, _WORD),
    ):
        if not isinstance(value, str) or len(value) > limit or not pattern.match(value):
            raise ValueError(
                f"audit {name} must be a lower_case name of at most {limit} characters"
            )
    for name, optional in (("object_id", object_id), ("address", address)):
        if optional is not None and (
            not isinstance(optional, str) or len(optional) > 64 or "\x00" in optional
        ):
            raise ValueError(f"audit {name} must be text of at most 64 characters")
    if officer_id is not None and (isinstance(officer_id, bool) or not isinstance(officer_id, int)):
        raise ValueError("audit officer_id must be an integer or None")
    if detail is None:
        return {}
    if not isinstance(detail, dict):
        raise ValueError("audit detail must be a JSON object")
    try:
        # The stored form: tuples become lists, keys become strings.
        normal: dict[str, Any] = json.loads(_canonical(detail))
    except (TypeError, ValueError):
        raise ValueError("audit detail must hold only JSON values (no NaN)") from None
    return normal


# --- verifying ------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first broken link: where, what kind, and a sentence saying what is wrong."""

    event_id: int
    kind: str
    """gap | prev_hash | hash | signature | checkpoint_hash | unknown_event"""
    message: str


@dataclass
class Verdict:
    """What :func:`verify` found. ``broken`` is None when the chain is intact."""

    events: int = 0
    checkpoints: int = 0
    last_signed_event_id: int = 0
    last_signed_at: datetime | None = None
    broken: Break | None = None
    warnings: list[str] = field(default_factory=list)


async def verify(
    db: async_sessionmaker[AsyncSession], public_key: Ed25519PublicKey, *, batch: int = 1000
) -> Verdict:
    """Recompute the whole chain in id order, ``batch`` rows at a time, and check every
    checkpoint against ``public_key``. Stops at the first broken link.

    Events and checkpoints appended while it runs are left for the next run.
    """
    verdict = Verdict()
    async with db() as session:
        # Checkpoints first: every checkpoint counted then names an event counted next.
        last_checkpoint = await session.scalar(select(func.max(AuditCheckpoint.id))) or 0
        head = await session.scalar(select(func.max(AuditEvent.id))) or 0
        async with (
            contextlib.aclosing(_events(session, head, batch)) as events,
            contextlib.aclosing(_checkpoints(session, last_checkpoint, batch)) as checkpoints,
        ):
            verdict.broken = await _walk(events, checkpoints, public_key, verdict)
    if verdict.broken is None and verdict.events > verdict.last_signed_event_id:
        first = verdict.last_signed_event_id + 1
        span = f"events {first}-{verdict.events} ({verdict.events - first + 1})"
        verdict.warnings.append(
            f"{span} come after the last checkpoint and are not signed yet"
            if verdict.checkpoints
            else f"{span} are not signed: there is no checkpoint yet"
        )
    return verdict


async def _walk(
    events: AsyncIterator[RowMapping],
    checkpoints: AsyncIterator[RowMapping],
    public_key: Ed25519PublicKey,
    verdict: Verdict,
) -> Break | None:
    """Both streams in event order, each event checked before the checkpoints naming it;
    counts what passed into ``verdict`` and returns the first broken link."""
    checkpoint = await anext(checkpoints, None)
    expected, prev = 1, GENESIS
    async for event in events:
        number: int = event["id"]
        if number != expected:
            where = f"goes from {expected - 1} to" if expected > 1 else "starts at"
            return Break(
                expected, "gap", f"event {expected} is missing: the chain {where} {number}"
            )
        if checkpoint is not None and checkpoint["event_id"] < number:
            return _unknown(checkpoint)
        if event["prev_hash"] != prev:
            return Break(
                number,
                "prev_hash",
                f"event {number} does not carry the hash of event {number - 1} "
                "(an event was replaced or inserted)",
            )
        if hash_of(event) != event["hash"]:
            return Break(
                number,
                "hash",
                f"event {number} does not match its hash (changed after it was written)",
            )
        while checkpoint is not None and checkpoint["event_id"] == number:
            broken = _check_signature(checkpoint, event["hash"], public_key)
            if broken is not None:
                return broken
            verdict.checkpoints += 1
            verdict.last_signed_event_id = number
            verdict.last_signed_at = checkpoint["signed_at"]
            checkpoint = await anext(checkpoints, None)
        verdict.events += 1
        expected, prev = number + 1, event["hash"]
    return None if checkpoint is None else _unknown(checkpoint)


def _check_signature(
    checkpoint: Mapping[Any, Any], stored_hash: str, public_key: Ed25519PublicKey
) -> Break | None:
    number: int = checkpoint["event_id"]
    expected_kid = key_id(public_key)
    if checkpoint["key_id"] != expected_kid:
        return Break(
            number,
            "signature",
            f"checkpoint {checkpoint['id']} for event {number} was signed with key "
            f"{checkpoint['key_id']}, not with the given key {expected_kid}",
        )
    message = checkpoint_message(number, checkpoint["event_hash"], checkpoint["signed_at"])
    try:
        public_key.verify(bytes.fromhex(checkpoint["signature"]), message)
    except (ValueError, InvalidSignature):
        return Break(
            number,
            "signature",
            f"checkpoint {checkpoint['id']} for event {number} has a bad signature",
        )
    if checkpoint["event_hash"] != stored_hash:
        return Break(
            number,
            "checkpoint_hash",
            f"event {number} is not the event checkpoint {checkpoint['id']} signed "
            "(the chain was rewritten after signing)",
        )
    return None


def _unknown(checkpoint: Mapping[Any, Any]) -> Break:
    number: int = checkpoint["event_id"]
    return Break(
        number,
        "unknown_event",
        f"checkpoint {checkpoint['id']} names event {number}, which is not in the chain "
        "(events were removed)",
    )


async def _events(session: AsyncSession, head: int, batch: int) -> AsyncGenerator[RowMapping, None]:
    columns = [*(AuditEvent.__table__.c[name] for name in HASHED), AuditEvent.hash]
    after = 0
    while True:
        rows = (
            await session.execute(
                select(*columns)
                .where(AuditEvent.id > after, AuditEvent.id <= head)
                .order_by(AuditEvent.id)
                .limit(batch)
            )
        ).mappings()
        count = 0
        for row in rows:
            count += 1
            after = row["id"]
            yield row
        if count < batch:
            return


async def _checkpoints(
    session: AsyncSession, last: int, batch: int
) -> AsyncGenerator[RowMapping, None]:
    after = (-1, 0)
    while True:
        rows = (
            await session.execute(
                select(*AuditCheckpoint.__table__.c)
                .where(
                    AuditCheckpoint.id <= last,
                    tuple_(AuditCheckpoint.event_id, AuditCheckpoint.id) > tuple_(*after),
                )
                .order_by(AuditCheckpoint.event_id, AuditCheckpoint.id)
                .limit(batch)
            )
        ).mappings()
        count = 0
        for row in rows:
            count += 1
            after = (row["event_id"], row["id"])
            yield row
        if count < batch:
            return
