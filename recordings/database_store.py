"""The chunks as rows of the database every node shares (``SAFECALL_RECORDINGS_STORE=database``).

Several nodes behind one load balancer take one recording's chunks in turn (an
upload resumes on whichever node the balancer picks), and any node plays or
exports it: the sealed bytes live beside their custody rows, in the same
transaction, so a chunk is stored exactly when its row is committed. Sealing,
names and checks are those of :mod:`recordings.store`; the database never sees
a plaintext byte. Rows are only inserted, and deleted by a purge.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recordings.keys import RecordingsKey
from recordings.models import RecordingBlob
from recordings.store import ChunkError, check_blob, check_recording_id, new_blob, seal, unseal


class DatabaseStore:
    """Sealed chunks in the ``recording_blobs`` table."""

    kind = "database"

    def __init__(self, db: async_sessionmaker[AsyncSession], key: RecordingsKey) -> None:
        self.db = db
        self.key = key

    async def write(
        self, recording_id: str, index: int, plaintext: bytes, within: AsyncSession
    ) -> tuple[str, str]:
        sealed, kid = seal(self.key, check_recording_id(recording_id), index, plaintext)
        blob = new_blob(index)
        within.add(RecordingBlob(recording_id=recording_id, name=blob, data=sealed))
        return blob, kid

    async def read(self, recording_id: str, index: int, blob: str) -> bytes:
        async with self.db() as session:
            raw = await session.scalar(
                select(RecordingBlob.data).where(
                    RecordingBlob.recording_id == check_recording_id(recording_id),
                    RecordingBlob.name == check_blob(blob),
                )
            )
        if raw is None:
            raise ChunkError(
                f"chunk {index} of recording {recording_id}: its stored bytes {blob} are missing"
            )
        return unseal(self.key, recording_id, index, blob, raw)

    async def delete(self, recording_id: str) -> None:
        async with self.db() as session, session.begin():
            await session.execute(
                delete(RecordingBlob).where(
                    RecordingBlob.recording_id == check_recording_id(recording_id)
                )
            )
