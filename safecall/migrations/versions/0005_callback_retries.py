"""the helpline: unanswered callbacks put back in line after a while

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import safecall.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = safecall.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ivr_callback_retries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin_session_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("due_at", _TIME, nullable=False),
        sa.Column("claimed_until", _TIME, nullable=True),
        sa.Column("done_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["origin_session_id"],
            ["sessions.id"],
            name=op.f("fk_ivr_callback_retries_origin_session_id_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_callback_retries")),
        sa.UniqueConstraint(
            "origin_session_id", "attempt", name=op.f("uq_ivr_callback_retries_origin_session_id")
        ),
    )
    op.create_index(op.f("ix_ivr_callback_retries_due_at"), "ivr_callback_retries", ["due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ivr_callback_retries_due_at"), table_name="ivr_callback_retries")
    op.drop_table("ivr_callback_retries")
