"""Regenerate 0001_initial_schema.py from the models (used by `make migration`)."""

from alembic import command

from safecall.migrate import alembic_config

cfg = alembic_config("sqlite+aiosqlite:////tmp/safecall-migration.db")
command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
