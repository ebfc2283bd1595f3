"""Shared test helpers: a clock the tests move, databases on both engines, OpenAPI checks."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

POSTGRES_ADMIN_URL = os.environ.get(
    "SAFECALL_TEST_POSTGRES_URL", "postgresql+asyncpg://safecall:safecall@127.0.0.1:5432/postgres"
)
REDIS_BASE = os.environ.get("SAFECALL_TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")
"""The Redis the tests use (each folder takes databases of its own on it); another port
lets two checkouts run their tests side by side."""


def redis_db(db: int) -> str:
    """The tests' Redis, database ``db``."""
    return f"{REDIS_BASE}/{db}"


class FakeClock:
    """Now, as the app sees it; ``advance`` moves it without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def copy_sqlite(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


class OpenAPIChecker:
    """Validates responses against the server's own OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry = Registry().with_resource("urn:safecall", resource)

    def check(self, method: str, route: str, status: int, body: Any) -> None:
        """Raise when ``body`` does not match what the document promises."""
        op = self.document["paths"][route][method.lower()]
        declared = op["responses"].get(str(status))
        assert declared is not None, f"{method} {route} answered {status}, not in the document"
        content = declared.get("content", {})
        if "application/json" not in content:
            return
        schema = content["application/json"]["schema"]
        rewritten = _rebase(schema)
        validator = jsonschema.Draft202012Validator(rewritten, registry=self.registry)
        validator.validate(body)


def _rebase(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: ("urn:safecall" + v if k == "$ref" and v.startswith("#") else _rebase(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


def put_in_env(monkeypatch: Any, settings: Any) -> None:
    """``settings`` as the ``SAFECALL_`` variables the ``safecall`` command reads."""
    for name, value in {
        "VAR_DIR": settings.var_dir,
        "DATABASE_URL": settings.database_url,
        "DATA_KEY_FILE": settings.data_key_file,
        "AUDIT_KEY_FILE": settings.audit_key_file,
        "RECORDINGS_KEY_FILE": settings.recordings_key_file,
        "EVIDENCE_KEY_FILE": settings.evidence_key_file,
        "RECORDINGS_STORE": settings.recordings_store,
    }.items():
        monkeypatch.setenv(f"SAFECALL_{name}", str(value))
