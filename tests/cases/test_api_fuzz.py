"""Fuzz the case API from its served OpenAPI document (schemathesis) against a real server.

The server runs in its own thread and event loop (schemathesis calls are
blocking), on loopback, with a logged-in supervisor. Every generated request,
valid or not, must get no 5xx, a documented status, a documented content type
and a body that matches the document; requests that break the document must
be refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from cases.sessions import ComplainantDetails, open_contact
from officers.auth import COOKIE, start_login
from officers.models import Officer
from safecall.app import create_app
from safecall.settings import Settings
from safecall.state import CLOCK, DATA_KEY, DB
from tests.threaded_server import threaded_server

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 150 if LONG else 8
"""Per operation and mode. The examples are derandomized (the same on every run, so a
failure is reproducible); ``HYPOTHESIS_PROFILE=long`` runs many more, at random."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class LiveServer:
    base_url: str
    cookie: str
    case_id: int
    session_id: str


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    with threaded_server(create_app(settings)) as (server, run):

        async def start() -> LiveServer:
            app = server.app
            now = app[CLOCK]()
            async with app[DB]() as session, session.begin():
                supervisor = Officer(
                    badge="FUZZ-1",
                    name="Fuzz supervisor",
                    role="supervisor",
                    gender="female",
                    languages=["ur"],
                    skills={},
                    lines=["women", "child"],
                    password_hash="not-a-hash",
                )
                session.add(supervisor)
                await session.flush()
                token = await start_login(session, supervisor, "127.0.0.1", now, 1)
                contact, case = await open_contact(
                    session,
                    app[DATA_KEY],
                    service_line="women",
                    channel="phone",
                    now=now,
                    anonymous=False,
                    complainant=ComplainantDetails(phone="+92 300 1234567", callback_safe=True),
                )
            return LiveServer(str(server.make_url("")).rstrip("/"), token, case.id, contact.id)

        yield run(start())


def _fuzz(live: LiveServer, operation: Any, mode: GenerationMode, **fixed: Any) -> None:
    checks = [*CHECKS, negative_data_rejection] if mode.is_negative else CHECKS
    strategy = operation.as_strategy(generation_mode=mode, cookies={COOKIE: live.cookie}, **fixed)

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
        case.validate_response(response, checks=checks)

    run()


def test_the_case_api_survives_fuzzing(live_server: LiveServer) -> None:
    # The case API only: recordings, her updates and court steps under these paths have
    # their own tests (tests/recordings, tests/messaging).
    schema = (
        schemathesis.openapi.from_url(f"{live_server.base_url}/api/openapi.json")
        .include(path_regex="^/api/(cases|sessions)")
        .exclude(path_regex="recording|/updates$|/steps$")
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8
    for operation in operations:
        for mode in GenerationMode:
            _fuzz(live_server, operation, mode)
        # Again on a case and a session that exist, so the handlers go past the lookup.
        if "{case_id}" in operation.path:
            _fuzz(
                live_server,
                operation,
                GenerationMode.POSITIVE,
                path_parameters={"case_id": str(live_server.case_id)},
            )
        if "{session_id}" in operation.path:
            _fuzz(
                live_server,
                operation,
                GenerationMode.POSITIVE,
                path_parameters={"session_id": live_server.session_id},
            )
