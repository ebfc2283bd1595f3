"""Regenerate 0001_initial_schema.py from the models (used by `make migration`).

Hand-written later revisions (0002 onwards: triggers and the like) chain after
0001; they are set aside while 0001 is generated, or Alembic could not resolve
their ``down_revision``.
"""

import shutil
import tempfile
from pathlib import Path

from alembic import command

from safecall.migrate import HERE, alembic_config

versions = HERE / "migrations" / "versions"
later = [p for p in versions.glob("*.py") if not p.name.startswith("0001_")]
with tempfile.TemporaryDirectory() as aside:
    for path in later:
        shutil.move(path, Path(aside) / path.name)
    try:
        cfg = alembic_config("sqlite+aiosqlite:////tmp/safecall-migration.db")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    finally:
        for path in later:
            shutil.move(Path(aside) / path.name, path)
