"""the console: ready replies; the live location her page shares during a contact

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import safecall.db

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = safecall.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ready_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["officers.id"], name=op.f("fk_ready_replies_updated_by_officers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ready_replies")),
    )
    op.create_table(
        "session_locations",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("place_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_session_locations_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_locations")),
    )


def downgrade() -> None:
    op.drop_table("session_locations")
    op.drop_table("ready_replies")
