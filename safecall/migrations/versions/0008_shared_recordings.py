"""recording_blobs: sealed chunks in the shared database (SAFECALL_RECORDINGS_STORE=database)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_blobs",
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_recording_blobs_recording_id_recordings"),
        ),
        sa.PrimaryKeyConstraint("recording_id", "name", name=op.f("pk_recording_blobs")),
    )
    # Written once: a sealed chunk is never changed (a purge deletes it, as it
    # deletes the files of the local store).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER recording_blobs_no_update BEFORE UPDATE ON recording_blobs "
            "BEGIN SELECT RAISE(ABORT, 'recording_blobs is append-only: UPDATE refused'); END"
        )
    else:
        op.execute(
            "CREATE TRIGGER recording_blobs_append_only BEFORE UPDATE "
            "ON recording_blobs FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS recording_blobs_no_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS recording_blobs_append_only ON recording_blobs")
    op.drop_table("recording_blobs")
