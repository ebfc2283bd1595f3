"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

A model changed without its migration (or a migration that drifts from the model) would
pass every other test, which all start from the migrated schema, until a column is missing
in production.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
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


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_the_migrated_schema_is_the_models_schema(database_url: str) -> None:
    async def compare() -> list[Any]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(_differences)
        finally:
            await engine.dispose()

    assert asyncio.run(compare()) == []
