"""Running Alembic migrations from code (``safecall migrate``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from safecall.private_files import private_sqlite

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(
    database_url: str, revision: str = "head", *, data_key_file: Path | None = None
) -> None:
    """Bring the database to ``revision`` (blocking; run it outside the event loop).

    ``data_key_file`` lets a migration seal values that were kept in clear before."""
    private_sqlite(database_url)
    config = alembic_config(database_url)
    if data_key_file is not None:
        config.attributes["data_key_file"] = data_key_file
    command.upgrade(config, revision)
