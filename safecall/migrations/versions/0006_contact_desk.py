"""the contact desk: statements of returning complainants; callback times sealed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

A returning complainant's words about herself are kept on her contact
(``contact_statements``), never written over the case. Phone tracking tries are
counted by the one tracking limiter (``ivr_tracking_tries`` goes). Her callback times
("weekdays 10-12": her routine) are sealed like her name and number: existing
plain values are sealed with the data key that ``safecall migrate`` passes in
(``config.attributes["data_key_file"]``); without it the upgrade refuses when
there are values to seal.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import safecall.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = safecall.db.UTCDateTime(timezone=True)
TIMES_FIELD = "complainant.callback_times"


def upgrade() -> None:
    op.create_table(
        "contact_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("callback_safe", sa.Boolean(), nullable=False),
        sa.Column("callback_times_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("confirmed_at", _TIME, nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_contact_statements_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by"],
            ["officers.id"],
            name=op.f("fk_contact_statements_confirmed_by_officers"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_contact_statements_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_statements")),
        sa.UniqueConstraint("session_id", name=op.f("uq_contact_statements_session_id")),
    )
    op.create_index(
        op.f("ix_contact_statements_case_id"), "contact_statements", ["case_id"], unique=False
    )
    with op.batch_alter_table("complainants") as batch:
        batch.add_column(sa.Column("callback_times_sealed", sa.LargeBinary(), nullable=True))
    _seal_callback_times()
    with op.batch_alter_table("complainants") as batch:
        batch.drop_column("callback_times")
    # Phone tracking is charged by the one tracking limiter now (per number and per case).
    op.drop_table("ivr_tracking_tries")


def _seal_callback_times() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, callback_times FROM complainants WHERE callback_times IS NOT NULL")
    ).all()
    if not rows:
        return
    key_file = op.get_context().config.attributes.get("data_key_file")
    if key_file is None:
        raise RuntimeError(
            "complainants hold callback times to seal: run `safecall migrate`, which "
            "passes the data key (SAFECALL_DATA_KEY_FILE)."
        )
    from sealing.data_key import DataKey

    key = DataKey.load(key_file)
    for row in rows:
        bind.execute(
            sa.text("UPDATE complainants SET callback_times_sealed = :sealed WHERE id = :id"),
            {"sealed": key.seal(row.callback_times, TIMES_FIELD), "id": row.id},
        )


def downgrade() -> None:
    op.create_table(
        "ivr_tracking_tries",
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("phone_hash", name=op.f("pk_ivr_tracking_tries")),
    )
    with op.batch_alter_table("complainants") as batch:
        batch.add_column(sa.Column("callback_times", sa.String(length=120), nullable=True))
        batch.drop_column("callback_times_sealed")
    op.drop_index(op.f("ix_contact_statements_case_id"), table_name="contact_statements")
    op.drop_table("contact_statements")
