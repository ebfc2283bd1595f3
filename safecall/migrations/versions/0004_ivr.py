"""the helpline: marks on calling numbers (keyed hashes), phone tracking attempts, callback attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import safecall.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = safecall.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ivr_calls",
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=12), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("line", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("callback_safe", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("origin_session_id", sa.String(length=32), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("bridged_at", _TIME, nullable=True),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("end_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.ForeignKeyConstraint(["origin_session_id"], ["sessions.id"]),
        sa.PrimaryKeyConstraint("call_sid"),
    )
    op.create_index("ix_ivr_calls_session_id", "ivr_calls", ["session_id"])
    op.create_index("ix_ivr_calls_origin_session_id", "ivr_calls", ["origin_session_id"])
    op.create_index("ix_ivr_calls_phone_hash", "ivr_calls", ["phone_hash"])
    op.create_table(
        "ivr_number_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("cleared_at", _TIME, nullable=True),
        sa.Column("cleared_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.ForeignKeyConstraint(["cleared_by"], ["officers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
    )
    op.create_index("ix_ivr_number_marks_phone_hash", "ivr_number_marks", ["phone_hash"])
    op.create_table(
        "ivr_tracking_tries",
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("phone_hash"),
    )


def downgrade() -> None:
    op.drop_table("ivr_tracking_tries")
    op.drop_index("ix_ivr_number_marks_phone_hash", table_name="ivr_number_marks")
    op.drop_table("ivr_number_marks")
    op.drop_index("ix_ivr_calls_phone_hash", table_name="ivr_calls")
    op.drop_index("ix_ivr_calls_origin_session_id", table_name="ivr_calls")
    op.drop_index("ix_ivr_calls_session_id", table_name="ivr_calls")
    op.drop_table("ivr_calls")
