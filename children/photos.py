"""A report's photos: sealed like recordings (the attachments' chunk store), hashed on
arrival (SHA-256 for custody, a perceptual hash to find the same photo on another report),
read only by those who may see the report, each read audited."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.store import AttachmentStore
from attachments.upload import MAX_PHOTO
from children.models import ChildPhoto, ChildReport
from children.photo_hash import photo_hash_bytes
from safecall.refusals import Conflict, Invalid, NotFound, TooLarge

PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MAX_PHOTOS = 6


def perceptual(data: bytes) -> str | None:
    """The photo's 64-bit perceptual hash as hex, or None when it cannot be worked out."""
    try:
        return f"{photo_hash_bytes(data):016x}"
    except Exception:  # not a picture Pillow can open: kept, but without a hash
        return None


async def add_photo(
    session: AsyncSession,
    store: AttachmentStore,
    report: ChildReport,
    data: bytes,
    media_type: str,
    *,
    officer_id: int,
    now: datetime,
) -> ChildPhoto:
    """Seal and write a photo, its row added in the caller's transaction."""
    media_type = media_type.split(";")[0].strip().lower()
    if media_type not in PHOTO_TYPES:
        raise Invalid("unsupported_media_type", "A photo is a JPEG, PNG or WebP picture.")
    if not data:
        raise Invalid("empty_photo", "The photo is empty.")
    if len(data) > MAX_PHOTO:
        raise TooLarge("photo_too_large", "A photo may be at most 5 MB.")
    if report.status == "closed":
        raise Conflict("report_closed", "This report is closed.")
    count = len(
        list(await session.scalars(select(ChildPhoto.id).where(ChildPhoto.report_id == report.id)))
    )
    if count >= MAX_PHOTOS:
        raise Invalid("too_many_photos", f"A report holds at most {MAX_PHOTOS} photos.")
    photo_id = secrets.token_hex(16)
    phash = await asyncio.to_thread(perceptual, data)
    blob, kid = await store.chunks.write(photo_id, 0, data, session)
    photo = ChildPhoto(
        id=photo_id,
        report_id=report.id,
        media_type=media_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        phash=phash,
        key_id=kid,
        blob=blob,
        officer_id=officer_id,
        received_at=now,
    )
    session.add(photo)
    await session.flush()
    return photo


async def duplicates(session: AsyncSession, photo: ChildPhoto) -> list[str]:
    """Other reports holding the same photo (the same file, or the same perceptual hash)."""
    same = ChildPhoto.sha256 == photo.sha256
    if photo.phash is not None:
        same = same | (ChildPhoto.phash == photo.phash)
    rows = await session.scalars(
        select(ChildPhoto.report_id).where(same, ChildPhoto.report_id != photo.report_id)
    )
    return sorted(set(rows))


async def read_photo(
    session: AsyncSession, store: AttachmentStore, report: ChildReport, photo_id: str
) -> tuple[ChildPhoto, bytes]:
    photo = await session.get(ChildPhoto, photo_id) if len(photo_id) <= 32 else None
    if photo is None or photo.report_id != report.id:
        raise NotFound("photo_not_found", "There is no such photo on this report.")
    return photo, await store.chunks.read(photo.id, 0, photo.blob)


async def photo_list(session: AsyncSession, report_id: str) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(ChildPhoto).where(ChildPhoto.report_id == report_id).order_by(ChildPhoto.received_at)
    )
    return [{"id": p.id, "sha256": p.sha256, "size": p.size} for p in rows]


async def photo_hashes(session: AsyncSession, report_ids: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    if not report_ids:
        return found
    rows = await session.execute(
        select(ChildPhoto.report_id, ChildPhoto.phash).where(
            ChildPhoto.report_id.in_(report_ids), ChildPhoto.phash.is_not(None)
        )
    )
    for report_id, phash in rows:
        if phash is not None:
            found.setdefault(report_id, []).append(int(phash, 16))
    return found
