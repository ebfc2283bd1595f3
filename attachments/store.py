"""Storing an attachment: hashed as it arrives, sealed with the recordings key, written once.

The file is sealed as a one-chunk "recording" of the chunk store
(:mod:`recordings.store`: AES-256-GCM, the id and key id bound into the
associated data) under ``<var>/attachments``: the same custody as a
recording, so the same key rotation and the same checks apply.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.models import Attachment
from recordings.keys import RecordingsKey
from recordings.store import ChunkStore, DirectoryStore
from safecall.refusals import Invalid, TooLarge, Unavailable
from safecall.state import SETTINGS

MEDIA_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "audio/ogg": "ogg",
    "audio/amr": "amr",
    "audio/mpeg": "mp3",
    "video/mp4": "mp4",
    "application/pdf": "pdf",
}
"""What may be kept: pictures, voice notes, short videos and documents she sends."""
MAX_BYTES = 16 * 1024 * 1024
"""Twilio's own limit for inbound media is 5 MB per file (WhatsApp: 16 MB)."""


class AttachmentStore:
    """The chunk store of attachments (its key read on first use)."""

    def __init__(self, root: Path, key_file: Path) -> None:
        self.root = root
        self.key_file = key_file
        self._store: ChunkStore | None = None

    @property
    def chunks(self) -> ChunkStore:
        if self._store is None:
            try:
                key = RecordingsKey.load(self.key_file)
            except ValueError:
                raise Unavailable(
                    "attachments_unavailable",
                    "Attachments cannot be stored: the recordings key is missing "
                    "(run `safecall keys`).",
                ) from None
            self._store = DirectoryStore(self.root, key)
        return self._store

    async def add(
        self,
        session: AsyncSession,
        data: bytes,
        media_type: str,
        *,
        case_id: int,
        source: str,
        now: datetime,
        session_id: str | None = None,
        referral_id: str | None = None,
        officer_id: int | None = None,
    ) -> Attachment:
        """Seal and write ``data``, and add its row in the caller's transaction."""
        media_type = media_type.split(";")[0].strip().lower()
        if media_type not in MEDIA_TYPES:
            raise Invalid(
                "unsupported_media_type",
                "Only pictures (JPEG, PNG, WebP, GIF), voice notes, MP4 videos and PDFs are kept.",
            )
        if not data:
            raise Invalid("empty_attachment", "The file is empty.")
        if len(data) > MAX_BYTES:
            raise TooLarge("attachment_too_large", "A file may be at most 16 MB.")
        attachment_id = secrets.token_hex(16)
        digest = hashlib.sha256(data).hexdigest()
        blob, kid = await self.chunks.write(attachment_id, 0, data, session)
        attachment = Attachment(
            id=attachment_id,
            case_id=case_id,
            session_id=session_id,
            referral_id=referral_id,
            source=source,
            media_type=media_type,
            size=len(data),
            sha256=digest,
            key_id=kid,
            blob=blob,
            officer_id=officer_id,
            received_at=now,
        )
        session.add(attachment)
        await session.flush()
        return attachment

    async def read(self, attachment: Attachment) -> bytes:
        """The file, opened (:class:`~recordings.store.ChunkError` when altered)."""
        return await self.chunks.read(attachment.id, 0, attachment.blob)


ATTACHMENTS = web.AppKey("attachments", AttachmentStore)


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[ATTACHMENTS] = AttachmentStore(
        settings.var_dir / "attachments", settings.recordings_key_file
    )
