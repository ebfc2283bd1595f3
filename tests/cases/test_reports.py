"""Reports: figures counted by the database against rows the test inserts, JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.models import AuditEvent
from cases.models import Case, ContactSession
from cases.tracking_code import new_code
from cases.vocabulary import BUILTIN_CATEGORIES
from tests.support import OpenAPIChecker

Db = async_sessionmaker[AsyncSession]
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = "from=2026-11-01&to=2026-11-30"
SUMMARY = "/api/reports/summary"

# (service line, category, status, fir number, district, opened)
CASES: list[tuple[str, str | None, str, str | None, str | None, datetime]] = [
    ("women", "domestic_violence", "resolved_by_reconciliation", None, "Lahore", NOV_1),
    ("women", "domestic_violence", "resolved_by_reconciliation", None, "Lahore", NOV_1),
    ("women", "domestic_violence", "fir_registered", "101/26", "Lahore", NOV_1),
    ("women", "harassment", "under_investigation", "102/26", "Multan", NOV_1),
    ("women", "harassment", "under_investigation", None, "Multan", NOV_1),
    ("women", "acid_attack", "fast_tracked", "103/26", None, NOV_1),
    ("women", None, "new", None, None, NOV_1),
    ("women", "cyber_harassment", "closed", None, "Lahore", NOV_1),
    ("child", "missing_child", "referred", None, "Lahore", NOV_1),
    ("child", "runaway_child", "fir_registered", "", "Faisalabad", NOV_1),
    ("child", "vulnerable_child", "in_progress", None, "=HYPERLINK(1)", NOV_1),
    # The edges of the period: the last moment of 30 November is in it ...
    (
        "women",
        "harassment",
        "in_progress",
        None,
        "Lahore",
        datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC),
    ),
    # ... the first of December and the last of October are not.
    ("women", "harassment", "closed", None, "Lahore", datetime(2026, 12, 1, tzinfo=UTC)),
    (
        "child",
        "missing_child",
        "closed",
        None,
        "Lahore",
        datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC),
    ),
]

# (service line, channel, disposition, wait seconds, arrived)
SESSIONS: list[tuple[str, str, str | None, float | None, datetime]] = [
    ("women", "browser_video", "answered", 10.0, NOV_1),
    ("women", "chat", "answered", 20.0, NOV_1),
    ("women", "phone", "abandoned", 60.0, NOV_1),
    ("women", "phone", None, None, NOV_1),
    ("child", "phone", "missed", 90.0, NOV_1),
    ("child", "chat", "answered", 5.0, NOV_1),
    ("women", "phone", "answered", 999.0, datetime(2026, 12, 1, tzinfo=UTC)),  # outside
]


@pytest.fixture
async def rows(db: Db) -> None:
    async with db() as session:
        first = None
        for line, category, status, fir, district, opened in CASES:
            case = Case(
                tracking_code=new_code(),
                service_line=line,
                category=category,
                status=status,
                fir_number=fir,
                district=district,
                created_at=opened,
                updated_at=opened,
            )
            session.add(case)
            await session.flush()
            first = first or case.id
        for n, (line, channel, disposition, wait, arrived) in enumerate(SESSIONS):
            session.add(
                ContactSession(
                    id=f"s{n}",
                    case_id=first,
                    service_line=line,
                    channel=channel,
                    disposition=disposition,
                    wait_seconds=wait,
                    arrived_at=arrived,
                )
            )
        await session.commit()


def zeros(names: Any) -> dict[str, int]:
    return dict.fromkeys(names, 0)


STATUSES = [
    "new",
    "in_progress",
    "resolved_by_reconciliation",
    "fir_registered",
    "under_investigation",
    "fast_tracked",
    "challan_submitted",
    "in_trial",
    "decided",
    "referred",
    "closed",
]
CHANNELS = ["chat", "browser_audio", "browser_video", "phone", "sms", "whatsapp"]
DISPOSITIONS = ["answered", "abandoned", "missed", "transferred", "dropped", "failed"]


async def get_json(browser: Any, url: str, openapi: OpenAPIChecker) -> tuple[int, Any]:
    r = await browser.get(url)
    body = await r.json()
    openapi.check("GET", SUMMARY, r.status, body)
    return r.status, body


async def test_an_admin_sees_every_figure_for_every_line(
    login_as: Any, rows: None, openapi: OpenAPIChecker
) -> None:
    admin, _ = await login_as("admin", lines=[])
    status, body = await get_json(admin, f"{SUMMARY}?{PERIOD}", openapi)
    assert status == 200
    assert body == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "service_lines": ["women", "child"],
        "headline": {
            "complaints_received": 12,
            "resolved": 4,  # 2 reconciled, 1 referred, 1 closed
            "resolved_by_reconciliation": 2,
            "firs_registered": 4,  # by status or by a recorded FIR number
            "firs_by_offence": {
                "acid_attack": 1,
                "domestic_violence": 1,
                "harassment": 1,
                "runaway_child": 1,
            },
            "under_investigation": 2,
            "fast_tracked": 1,
        },
        "cases": {
            "total": 12,
            "by_status": zeros(STATUSES)
            | {
                "new": 1,
                "in_progress": 2,
                "resolved_by_reconciliation": 2,
                "fir_registered": 2,
                "under_investigation": 2,
                "fast_tracked": 1,
                "referred": 1,
                "closed": 1,
            },
            "by_category": zeros(BUILTIN_CATEGORIES)
            | {
                "domestic_violence": 3,
                "harassment": 3,
                "acid_attack": 1,
                "cyber_harassment": 1,
                "missing_child": 1,
                "runaway_child": 1,
                "vulnerable_child": 1,
                "uncategorised": 1,
            },
            "by_service_line": {"women": 9, "child": 3},
            "by_district": {
                "=HYPERLINK(1)": 1,
                "Faisalabad": 1,
                "Lahore": 6,
                "Multan": 2,
                "unknown": 2,
            },
        },
        "sessions": {
            "total": 6,
            "by_channel": zeros(CHANNELS) | {"browser_video": 1, "chat": 2, "phone": 3},
            "by_disposition": zeros(DISPOSITIONS)
            | {
                "answered": 3,
                "abandoned": 1,
                "missed": 1,
                "open": 1,
            },
            "average_wait_seconds": 37.0,
        },
    }


async def test_a_supervisor_sees_only_her_lines(
    login_as: Any, rows: None, openapi: OpenAPIChecker
) -> None:
    supervisor, _ = await login_as("supervisor", lines=["child"])
    status, body = await get_json(supervisor, f"{SUMMARY}?{PERIOD}", openapi)
    assert status == 200
    assert body["service_lines"] == ["child"]
    assert body["headline"]["complaints_received"] == 3
    assert body["headline"]["firs_by_offence"] == {"runaway_child": 1}
    assert body["headline"]["resolved"] == 1
    assert body["cases"]["by_service_line"] == {"child": 3}
    assert body["sessions"]["total"] == 2
    assert body["sessions"]["average_wait_seconds"] == 47.5

    status, same = await get_json(supervisor, f"{SUMMARY}?{PERIOD}&service_line=child", openapi)
    assert (status, same) == (200, body)

    status, refused = await get_json(supervisor, f"{SUMMARY}?{PERIOD}&service_line=women", openapi)
    assert status == 403
    assert refused["error"]["code"] == "service_line_forbidden"


async def test_one_line_for_an_admin(login_as: Any, rows: None, openapi: OpenAPIChecker) -> None:
    admin, _ = await login_as("admin")
    status, body = await get_json(admin, f"{SUMMARY}?{PERIOD}&service_line=women", openapi)
    assert status == 200
    assert body["service_lines"] == ["women"]
    assert body["headline"]["complaints_received"] == 9


async def test_an_empty_period_gives_zeros(
    login_as: Any, rows: None, openapi: OpenAPIChecker
) -> None:
    admin, _ = await login_as("admin")
    status, body = await get_json(admin, f"{SUMMARY}?from=2025-01-01&to=2025-01-31", openapi)
    assert status == 200
    assert body["headline"]["complaints_received"] == 0
    assert body["headline"]["firs_by_offence"] == {}
    assert body["cases"]["by_district"] == {}
    assert body["sessions"]["average_wait_seconds"] is None
    assert set(body["cases"]["by_status"].values()) == {0}


async def test_the_csv_holds_the_same_figures(
    login_as: Any, rows: None, openapi: OpenAPIChecker
) -> None:
    admin, _ = await login_as("admin")
    _, summary = await get_json(admin, f"{SUMMARY}?{PERIOD}", openapi)
    r = await admin.get(f"{SUMMARY}.csv?{PERIOD}")
    assert r.status == 200
    openapi.check("GET", f"{SUMMARY}.csv", r.status, None)
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"] == (
        'attachment; filename="safecall-summary-2026-11-01-2026-11-30.csv"'
    )
    table = list(csv.reader(io.StringIO(await r.text())))
    assert table[0] == ["dimension", "value", "count"]
    got = {(d, v): c for d, v, c in table[1:]}
    assert len(got) == len(table) - 1  # one row per (dimension, value)

    head = summary["headline"]
    expected = {("headline", k): str(v) for k, v in head.items() if k != "firs_by_offence"}
    expected |= {("firs_by_offence", k): str(v) for k, v in head["firs_by_offence"].items()}
    cases = summary["cases"]
    expected[("cases", "total")] = str(cases["total"])
    for dimension, key in (
        ("status", "by_status"),
        ("category", "by_category"),
        ("service_line", "by_service_line"),
        ("district", "by_district"),
    ):
        expected |= {(dimension, k): str(v) for k, v in cases[key].items()}
    # A value that a spreadsheet would run as a formula is defused.
    expected[("district", "'=HYPERLINK(1)")] = expected.pop(("district", "=HYPERLINK(1)"))
    sessions = summary["sessions"]
    expected[("sessions", "total")] = str(sessions["total"])
    expected |= {("session_channel", k): str(v) for k, v in sessions["by_channel"].items()}
    expected |= {("session_disposition", k): str(v) for k, v in sessions["by_disposition"].items()}
    expected[("sessions", "average_wait_seconds")] = "37.0"
    assert got == expected


async def test_report_reads_are_audited(login_as: Any, rows: None, db: Db) -> None:
    supervisor, officer = await login_as("supervisor", lines=["women", "child"])
    assert (await supervisor.get(f"{SUMMARY}?{PERIOD}&service_line=women")).status == 200
    assert (await supervisor.get(f"{SUMMARY}.csv?{PERIOD}")).status == 200
    async with db() as session:
        events = list((await session.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars())
    assert [(e.actor_kind, e.officer_id, e.action, e.object_type, e.detail) for e in events] == [
        (
            "officer",
            officer.id,
            "report.read",
            "report",
            {
                "from": "2026-11-01",
                "to": "2026-11-30",
                "service_lines": ["women"],
                "format": "json",
            },
        ),
        (
            "officer",
            officer.id,
            "report.read",
            "report",
            {
                "from": "2026-11-01",
                "to": "2026-11-30",
                "service_lines": ["women", "child"],
                "format": "csv",
            },
        ),
    ]


@pytest.mark.parametrize("path", [SUMMARY, f"{SUMMARY}.csv"])
async def test_officers_and_strangers_may_not_read_reports(
    client: Any, login_as: Any, openapi: OpenAPIChecker, path: str
) -> None:
    r = await client.get(f"{path}?{PERIOD}")
    assert r.status == 401
    body = await r.json()
    openapi.check("GET", path, r.status, body)
    assert body["error"]["code"] == "not_logged_in"
    officer, _ = await login_as("officer")
    r = await officer.get(f"{path}?{PERIOD}")
    assert r.status == 403
    body = await r.json()
    openapi.check("GET", path, r.status, body)
    assert body["error"]["code"] == "forbidden"


BAD_PERIODS = [
    ("from=2026-13-01&to=2026-11-30", "invalid_date"),
    ("from=2026-02-30&to=2026-03-30", "invalid_date"),
    ("from=2026-1-1&to=2026-11-30", "invalid_date"),
    ("from=20261101&to=2026-11-30", "invalid_date"),
    ("from=yesterday&to=2026-11-30", "invalid_date"),
    ("from=2026-11-01&to=", "invalid_date"),
    ("from=2026-11-01", "invalid_query"),
    ("to=2026-11-01", "invalid_query"),
    ("", "invalid_query"),
    ("from=2026-11-30&to=2026-11-01", "date_range_reversed"),
    ("from=2025-11-01&to=2026-11-02", "date_range_too_long"),
    ("from=2026-11-01&to=2026-11-30&service_line=men", "invalid_query"),
    ("from=2026-11-01&to=2026-11-30&district=Lahore", "invalid_query"),
]


@pytest.mark.parametrize("path", [SUMMARY, f"{SUMMARY}.csv"])
async def test_bad_periods_are_refused_with_a_clear_code(
    login_as: Any, db: Db, openapi: OpenAPIChecker, path: str
) -> None:
    admin, _ = await login_as("admin")
    for query, code in BAD_PERIODS:
        r = await admin.get(f"{path}?{query}")
        body = await r.json()
        assert (r.status, body["error"]["code"]) == (400, code), query
        openapi.check("GET", path, r.status, body)
    async with db() as session:  # a refused read is not audited as a read
        assert (await session.execute(select(AuditEvent))).first() is None


async def test_a_whole_leap_year_is_allowed(login_as: Any, openapi: OpenAPIChecker) -> None:
    admin, _ = await login_as("admin")
    status, body = await get_json(admin, f"{SUMMARY}?from=2028-01-01&to=2028-12-31", openapi)
    assert status == 200
    assert body["headline"]["complaints_received"] == 0  # 2028 has 366 days, ends included
