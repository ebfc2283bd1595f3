"""recordings, their chunks and chain, legal holds

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import safecall.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = safecall.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("tracks", sa.JSON(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chain_head", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("last_chunk_at", _TIME, nullable=True),
        sa.Column("closed_at", _TIME, nullable=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.String(length=200), nullable=True),
        sa.Column("purged_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_recordings_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_recordings_officer_id_officers")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_recordings_session_id_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
    )
    op.create_index(op.f("ix_recordings_case_id"), "recordings", ["case_id"])
    op.create_index(op.f("ix_recordings_session_id"), "recordings", ["session_id"])
    op.create_index(op.f("ix_recordings_state"), "recordings", ["state"])
    op.create_table(
        "recording_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.String(length=40), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_recording_chunks_recording_id_recordings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_chunks")),
        sa.UniqueConstraint("recording_id", "index", name=op.f("uq_recording_chunks_recording_id")),
    )
    # Custody: a received chunk's row is never changed or removed (purge removes the
    # files and keeps the hashes). Same guard as the audit log (0002).
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER recording_chunks_no_{verb} BEFORE {verb.upper()} "
                "ON recording_chunks BEGIN SELECT RAISE(ABORT, 'recording_chunks is "
                f"append-only: {verb.upper()} refused'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER recording_chunks_append_only BEFORE UPDATE OR DELETE "
            "ON recording_chunks FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS recording_chunks_no_{verb}")
    else:
        op.execute("DROP TRIGGER IF EXISTS recording_chunks_append_only ON recording_chunks")
    op.drop_table("recording_chunks")
    op.drop_index(op.f("ix_recordings_state"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_session_id"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_case_id"), table_name="recordings")
    op.drop_table("recordings")
