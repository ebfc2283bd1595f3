"""Alembic environment: runs migrations on the async engine from the settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

import attachments.models  # noqa: F401  (registers the tables)
import audit.models  # noqa: F401
import cases.models  # noqa: F401
import children.models  # noqa: F401
import ivr.models  # noqa: F401
import locations.models  # noqa: F401
import messaging.models  # noqa: F401
import officers.models  # noqa: F401
import recordings.models  # noqa: F401
import referrals.models  # noqa: F401
import replies.models  # noqa: F401
from safecall.db import Base, create_engine

MIGRATION_LOCK = 7_206_530_101
"""PostgreSQL advisory lock key held while migrating (any constant of our own)."""

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Nodes started together may each run `safecall migrate`: one migrates
            # while the others wait here, then find the schema up to date.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def _main() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_main())
