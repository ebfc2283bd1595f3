"""A short fuzz pass over the whole API (issue 13): no request may get a 5xx.

schemathesis generates requests from the server's own OpenAPI document, valid and
invalid, for every public operation (no cookie) and every officer operation (with
an ordinary officer's login), and sends them to the real app on SQLite, served on
loopback from a thread of this process. The case API has its own, stricter pass
(tests/cases/test_api_fuzz.py); this one is wide and shallow: a bounded number of
derandomized examples per operation (``HYPOTHESIS_PROFILE=long`` runs many more).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode

from officers.auth import COOKIE, start_login
from officers.models import Officer
from safecall.app import create_app
from safecall.settings import Settings
from safecall.state import CLOCK, DB
from tests.support import copy_sqlite
from tests.threaded_server import threaded_server

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 100 if LONG else 3
"""Per operation and mode; derandomized (the same every run) unless ``long``."""

STREAMS = "^/api/(console|wallboard)/events$"
"""Server-Sent Events: answers that never end (their own tests read them)."""


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: what is proved is the handlers' input checks, not the database."""
    return copy_sqlite(sqlite_template, tmp_path / "safecall.db")


@dataclass
class Live:
    base_url: str
    cookie: str


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    # The phone line on (its webhooks then check signatures rather than answer 503
    # ivr_off); its REST base is a closed port, never reached without a valid signature.
    settings = dataclasses.replace(
        settings,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="fuzz-" + "t" * 27,
        twilio_api_base="http://127.0.0.1:9",
        twilio_caller_id="+924200000000",
    )
    with threaded_server(create_app(settings)) as (server, run):

        async def start() -> Live:
            app = server.app
            async with app[DB]() as session, session.begin():
                officer = Officer(
                    badge="FUZZ-2",
                    name="Fuzz officer",
                    role="officer",
                    gender="female",
                    languages=["ur", "en"],
                    skills={},
                    lines=["women", "child"],
                    password_hash="not-a-hash",
                )
                session.add(officer)
                await session.flush()
                token = await start_login(session, officer, "127.0.0.1", app[CLOCK](), 1)
            return Live(str(server.make_url("")).rstrip("/"), token)

        yield run(start())


def _fuzz(live: Live, operation: Any, cookies: dict[str, str]) -> list[str]:
    """Send the operation's examples in both modes; the 5xx answers, described."""
    found: list[str] = []
    for mode in GenerationMode:
        strategy = operation.as_strategy(generation_mode=mode, cookies=cookies)

        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=not LONG,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=live.base_url, timeout=30)
            if response.status_code >= 500:
                found.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code} "
                    f"{response.text[:200]} (sent: {case.as_curl_command()})"
                )

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            assert mode.is_negative  # nothing to break in it (no parameters, no body)
    return found


def test_no_request_gets_a_server_error(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.base_url}/api/openapi.json").exclude(
        path_regex=STREAMS
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    public = [op for op in operations if "x-roles" not in op.definition.raw]
    staff = [op for op in operations if "x-roles" in op.definition.raw and op.path != "/api/logout"]
    assert len(public) >= 15 and len(staff) >= 35
    found: list[str] = []
    for operation in public:
        found += _fuzz(live, operation, {})
    for operation in staff:
        found += _fuzz(live, operation, {COOKIE: live.cookie})
    assert found == []
