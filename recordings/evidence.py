"""Evidence bundles: a case's recordings, timeline and audit trail, signed, checkable offline.

A bundle is a folder::

    manifest.json        what is in it: the case, officers, recordings with their
                         chunk chains and hashes, and the SHA-256 of every other file
    manifest.sig         Ed25519 signature (hex) over the bytes of manifest.json
    timeline.json        the case's timeline
    audit.json           the audit events about the case and its recordings,
                         each with its chain fields and hash
    recordings/<id>.<ext>  each recording, decrypted

:func:`verify_bundle` needs nothing but the folder and the public key the
verifier trusts (never one carried in the bundle) and names the first thing
that does not match: the signature, a missing, altered or unlisted file, a
chunk whose hash or chain link is wrong, a recording whose whole hash is
wrong, or an audit event that does not match its hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.log import HASHED, AuditLog, hash_of, key_id
from audit.models import AuditEvent
from cases.models import Case
from cases.timeline import timeline
from officers.models import Officer
from recordings.custody import chain, chunks_of, read_chunks
from recordings.models import Recording
from recordings.store import ChunkStore

FORMAT = "safecall-evidence/1"
_EXTENSIONS = {"video/webm": "webm", "audio/webm": "webm", "audio/wav": "wav", "video/mp4": "mp4"}
_BLOCK = 1024 * 1024


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _make_folders(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=False, mode=0o700)
    (out / "recordings").mkdir(mode=0o700)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


# --- export -----------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    path: Path
    recordings: int
    audit_events: int


async def export(
    db: async_sessionmaker[AsyncSession],
    store: ChunkStore,
    audit: AuditLog,
    signing_key: Ed25519PrivateKey,
    case_id: int,
    out: Path,
    now: datetime,
) -> Exported:
    """Write the bundle of ``case_id`` into the new folder ``out`` (which must not exist).

    The export itself is audited first, so the bundle's trail includes it.
    """
    async with db() as session:
        case = await session.get(Case, case_id)
    if case is None:
        raise ValueError(f"there is no case {case_id}")
    await asyncio.to_thread(_make_folders, out)
    await audit.record(
        actor_kind="system",
        officer_id=None,
        action="evidence.export",
        object_type="case",
        object_id=str(case_id),
        detail={"signing_key": key_id(signing_key.public_key())},
    )
    async with db() as session:
        recordings = list(
            (
                await session.scalars(
                    select(Recording)
                    .where(Recording.case_id == case_id)
                    .order_by(Recording.started_at, Recording.id)
                )
            ).all()
        )
        chunks = {r.id: await chunks_of(session, r.id) for r in recordings}
        events = await timeline(session, case_id=case_id)
        trail = await _audit_trail(session, case_id, [r.id for r in recordings])
        officer_ids = {r.officer_id for r in recordings} | {e.officer_id for e in events}
        officer_ids |= {e["officer_id"] for e in trail} | {case.assigned_officer_id}
        officers = list(
            (
                await session.scalars(
                    select(Officer).where(Officer.id.in_([i for i in officer_ids if i]))
                )
            ).all()
        )

    files: dict[str, str] = {}
    entries = []
    for r in recordings:
        entry: dict[str, Any] = {
            "id": r.id,
            "session_id": r.session_id,
            "kind": r.kind,
            "media_type": r.media_type,
            "tracks": list(r.tracks or []),
            "state": r.state,
            "reason": r.reason,
            "officer_id": r.officer_id,
            "key_id": r.key_id,
            "started_at": _time(r.started_at),
            "closed_at": _time(r.closed_at),
            "duration_seconds": r.duration_seconds,
            "size": r.size,
            "sha256": r.sha256,
            "chain_head": r.chain_head,
            "legal_hold": r.legal_hold,
            "purged_at": _time(r.purged_at),
            "file": None,
            "chunks": [
                {
                    "index": c.index,
                    "size": c.size,
                    "sha256": c.sha256,
                    "chain_hash": c.chain_hash,
                    "received_at": _time(c.received_at),
                }
                for c in chunks[r.id]
            ],
        }
        if r.purged_at is None and chunks[r.id]:
            name = f"recordings/{r.id}.{_EXTENSIONS.get(r.media_type.split(';')[0], 'bin')}"
            files[name] = await _write_recording(store, r, chunks, out / name)
            entry["file"] = name
        entries.append(entry)

    timeline_doc = [
        {
            "id": e.id,
            "kind": e.kind,
            "at": _time(e.at),
            "session_id": e.session_id,
            "case_id": e.case_id,
            "officer_id": e.officer_id,
            "data": e.data,
        }
        for e in events
    ]
    for name, doc in (("timeline.json", timeline_doc), ("audit.json", trail)):
        data = _json_bytes(doc)
        _write_new(out / name, data)
        files[name] = hashlib.sha256(data).hexdigest()

    manifest = {
        "format": FORMAT,
        "exported_at": _time(now),
        "signing_key_id": key_id(signing_key.public_key()),
        # Not the tracking code: it is her key to the case, not evidence.
        "case": {
            "id": case.id,
            "service_line": case.service_line,
            "category": case.category,
            "status": case.status,
            "fir_number": case.fir_number,
            "police_station": case.police_station,
            "district": case.district,
            "assigned_officer_id": case.assigned_officer_id,
            "created_at": _time(case.created_at),
            "closed_at": _time(case.closed_at),
        },
        "officers": [
            {"id": o.id, "badge": o.badge, "name": o.name, "role": o.role}
            for o in sorted(officers, key=lambda o: o.id)
        ],
        "recordings": entries,
        "files": dict(sorted(files.items())),
    }
    manifest_bytes = _json_bytes(manifest)
    _write_new(out / "manifest.json", manifest_bytes)
    _write_new(out / "manifest.sig", (signing_key.sign(manifest_bytes).hex() + "\n").encode())
    return Exported(out, len(recordings), len(trail))


async def _write_recording(
    store: ChunkStore,
    recording: Recording,
    chunks: dict[str, Any],
    path: Path,
) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        async for data in read_chunks(store, recording.id, chunks[recording.id]):
            digest.update(data)
            await asyncio.to_thread(f.write, data)
    return digest.hexdigest()


async def _audit_trail(
    session: AsyncSession, case_id: int, recording_ids: list[str]
) -> list[dict[str, Any]]:
    about = [and_(AuditEvent.object_type == "case", AuditEvent.object_id == str(case_id))]
    if recording_ids:
        about.append(
            and_(AuditEvent.object_type == "recording", AuditEvent.object_id.in_(recording_ids))
        )
    columns = [*(AuditEvent.__table__.c[name] for name in HASHED), AuditEvent.hash]
    rows = (
        await session.execute(select(*columns).where(or_(*about)).order_by(AuditEvent.id))
    ).mappings()
    return [
        {**{name: row[name] for name in HASHED}, "at": _time(row["at"]), "hash": row["hash"]}
        for row in rows
    ]


# --- verify -----------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """The first thing in a bundle that does not match: where, and a sentence."""

    where: str
    message: str


@dataclass(frozen=True)
class Checked:
    recordings: int
    chunks: int
    files: int
    audit_events: int


def verify_bundle(bundle: Path, public_key: Ed25519PublicKey) -> Checked | Mismatch:
    """Check a bundle against the pinned ``public_key``; see the module docstring."""
    try:
        manifest_bytes = (bundle / "manifest.json").read_bytes()
        signature_text = (bundle / "manifest.sig").read_text().strip()
    except FileNotFoundError as exc:
        return Mismatch(Path(str(exc.filename)).name, "is missing from the bundle")
    try:
        public_key.verify(bytes.fromhex(signature_text), manifest_bytes)
    except (ValueError, InvalidSignature):
        return Mismatch(
            "manifest.sig",
            f"the manifest is not signed by the given key {key_id(public_key)} "
            "(it was altered, or signed with another key)",
        )
    manifest = json.loads(manifest_bytes)
    if manifest.get("format") != FORMAT:
        return Mismatch("manifest.json", f"unknown bundle format {manifest.get('format')!r}")
    files: dict[str, str] = manifest["files"]
    present = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {
        "manifest.json",
        "manifest.sig",
    }
    for name in sorted(present - set(files)):
        return Mismatch(name, "is in the bundle but not in the signed manifest")
    for name, expected in files.items():
        path = bundle / name
        if not path.is_file():
            return Mismatch(name, "is listed in the manifest but missing from the bundle")
        if _sha256_file(path) != expected:
            return Mismatch(name, "does not match its SHA-256 in the manifest (altered)")
    chunk_count = 0
    for entry in manifest["recordings"]:
        found = _check_recording(bundle, entry)
        if found is not None:
            return found
        chunk_count += len(entry["chunks"])
    trail = json.loads((bundle / "audit.json").read_bytes())
    for event in trail:
        fields = {name: event[name] for name in HASHED}
        fields["at"] = datetime.fromisoformat(event["at"])
        if hash_of(fields) != event["hash"]:
            return Mismatch(
                "audit.json", f"audit event {event['id']} does not match its hash (altered)"
            )
    return Checked(len(manifest["recordings"]), chunk_count, len(files), len(trail))


def _pieces(path: Path, sizes: list[int]) -> Iterator[bytes]:
    with path.open("rb") as f:
        for size in sizes:
            yield f.read(size)
        yield f.read(1)  # anything past the last chunk


def _check_recording(bundle: Path, entry: dict[str, Any]) -> Mismatch | None:
    rid = entry["id"]
    where = f"recording {rid}"
    prev: str | None = None
    for expected, chunk in enumerate(entry["chunks"]):
        if chunk["index"] != expected:
            return Mismatch(where, f"chunk {expected} is missing from its chain")
        if chain(prev, chunk["index"], chunk["sha256"]) != chunk["chain_hash"]:
            return Mismatch(
                f"{where} chunk {expected}", "its chain hash does not follow from the one before"
            )
        prev = chunk["chain_hash"]
    if entry["chunks"] and prev != entry["chain_head"]:
        return Mismatch(where, "the last chunk is not the recorded chain head")
    if entry["file"] is None:
        return None
    path = bundle / entry["file"]
    sizes = [c["size"] for c in entry["chunks"]]
    digest = hashlib.sha256()
    pieces = _pieces(path, sizes)
    for chunk, data in zip(entry["chunks"], pieces, strict=False):
        digest.update(data)
        if hashlib.sha256(data).hexdigest() != chunk["sha256"]:
            return Mismatch(
                f"{where} chunk {chunk['index']}",
                f"bytes {sum(sizes[: chunk['index']])}-"
                f"{sum(sizes[: chunk['index'] + 1]) - 1} of {entry['file']} "
                "do not match the hash taken when the chunk arrived",
            )
    if next(pieces, b""):
        return Mismatch(where, f"{entry['file']} is longer than its chunks")
    if entry["sha256"] is not None and digest.hexdigest() != entry["sha256"]:
        return Mismatch(where, "its content does not match the hash taken when it closed")
    return None
