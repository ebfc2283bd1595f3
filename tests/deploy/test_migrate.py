"""Nodes that start together may each migrate: on PostgreSQL one migrates, the others wait."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from safecall.db import create_engine
from tests.deploy.conftest import admin_sql
from tests.support import POSTGRES_ADMIN_URL


@pytest.fixture
def new_database() -> Iterator[str]:
    name = f"safecall_migrate_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_three_nodes_migrating_at_once_all_succeed(new_database: str) -> None:
    env = {**os.environ, "SAFECALL_DATABASE_URL": new_database}
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "safecall", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [node.communicate(timeout=120)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0, 0], outputs

    async def version() -> list[str]:
        engine = create_engine(new_database)
        try:
            async with engine.connect() as conn:
                return list(
                    (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars()
                )
        finally:
            await engine.dispose()

    from alembic.script import ScriptDirectory

    from safecall.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(new_database)).get_current_head()
    assert asyncio.run(version()) == [head]
