"""Public tracking by code: hits, misses that look alike, PINs, the visible timeline, limits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.models import AuditEvent
from cases.models import Case, ContactSession, TimelineEvent
from cases.tracking_code import check_digit, display, is_valid, new_code
from safecall.ratelimit import Limits
from tests.support import FakeClock, OpenAPIChecker

Db = async_sessionmaker[AsyncSession]
Client = TestClient[Any, Any]

# Cheap parameters keep the tests fast; the server reads them from the hash.
PINS = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
OPENED = datetime(2026, 10, 20, 8, 30, tzinfo=UTC)


async def make_case(db: Db, *, pin: str | None = None, **fields: Any) -> Case:
    values: dict[str, Any] = {
        "tracking_code": new_code(),
        "service_line": "women",
        "category": "domestic_violence",
        "status": "new",
        "district": "Lahore",
        "created_at": OPENED,
        "updated_at": OPENED + timedelta(days=2),
        "pin_hash": PINS.hash(pin) if pin is not None else None,
    }
    values.update(fields)
    async with db() as session:
        case = Case(**values)
        session.add(case)
        await session.commit()
    return case


async def add_event(
    db: Db,
    kind: str,
    *,
    visible: bool,
    at: datetime,
    case: Case | None = None,
    session_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    async with db() as session:
        session.add(
            TimelineEvent(
                key=uuid.uuid4().hex,
                case_id=case.id if case is not None else None,
                session_id=session_id,
                kind=kind,
                at=at,
                data=data or {},
                complainant_visible=visible,
            )
        )
        await session.commit()


async def track(client: Client, body: Any, **headers: str) -> tuple[int, Any, Any]:
    r = await client.post("/api/track", json=body, headers=headers)
    return r.status, await r.json(), r.headers


def unknown_code(taken: str) -> str:
    """A well-formed code no case has."""
    while (code := new_code()) == taken:
        pass
    return code


def wrong_check_digit(code: str) -> str:
    """The same first 11 digits with a check digit that does not match."""
    body = code[:11]
    wrong = str((int(check_digit(body)) + 1) % 10)
    return body + wrong


async def test_hit_without_pin_shows_coarse_status_only(
    client: Client, db: Db, openapi: OpenAPIChecker
) -> None:
    case = await make_case(
        db, pin="2468", status="fir_registered", fir_number="123/26", police_station="Model Town"
    )
    status, body, headers = await track(client, {"code": case.tracking_code})
    assert status == 200
    openapi.check("POST", "/api/track", status, body)
    assert body == {
        "tracking_code": display(case.tracking_code),
        "service_line": "women",
        "status": "with_police",
        "status_text": (
            "With the police: an FIR has been registered or the case is being investigated."
        ),
        "opened_on": "2026-10-20",
        "updated_on": "2026-10-22",
        "pin_accepted": False,
        "fir_number": None,
        "police_station": None,
        "timeline": None,
        "stages": None,
    }
    assert headers["Cache-Control"] == "no-store"


async def test_a_hit_is_audited_without_the_code_or_her_address(client: Client, db: Db) -> None:
    case = await make_case(db)
    status, _, _ = await track(client, {"code": display(case.tracking_code)})
    assert status == 200
    async with db() as session:
        events = list((await session.execute(select(AuditEvent))).scalars())
    assert [(e.actor_kind, e.officer_id, e.action, e.object_type, e.object_id) for e in events] == [
        ("public", None, "case.track", "case", str(case.id))
    ]
    assert events[0].address is None  # anonymous means anonymous
    assert events[0].detail == {"pin": False, "via": "web"}
    assert case.tracking_code not in repr(
        [events[0].detail, events[0].object_id, events[0].address]
    )


@pytest.mark.parametrize(
    "typed",
    ["{c}", "{c4} {c8} {c12}", "{c4}-{c8}-{c12}", "  {c}  ", "{c4}\u00a0{c8}\u00a0{c12}", "urdu"],
)
async def test_the_code_may_be_typed_with_spaces_dashes_or_urdu_digits(
    client: Client, db: Db, openapi: OpenAPIChecker, typed: str
) -> None:
    case = await make_case(db)
    code = case.tracking_code
    if typed == "urdu":
        text = "".join(chr(0x06F0 + int(d)) for d in code)
    else:
        text = typed.format(c=code, c4=code[:4], c8=code[4:8], c12=code[8:])
    status, body, _ = await track(client, {"code": text})
    assert status == 200, body
    openapi.check("POST", "/api/track", status, body)
    assert body["status"] == "received"


async def test_unknown_code_and_wrong_check_digit_get_the_same_answer(
    client: Client, db: Db, openapi: OpenAPIChecker
) -> None:
    case = await make_case(db)
    answers = []
    for code in (unknown_code(case.tracking_code), wrong_check_digit(case.tracking_code)):
        r = await client.post("/api/track", json={"code": code})
        raw = await r.read()
        headers = {k: v for k, v in r.headers.items() if k != "Date"}
        answers.append((r.status, raw, headers))
        openapi.check("POST", "/api/track", r.status, await r.json())
    assert not is_valid(wrong_check_digit(case.tracking_code))
    assert answers[0] == answers[1]
    status, raw, headers = answers[0]
    assert status == 404
    assert raw == (
        b'{"error": {"code": "tracking_code_unknown", "message": '
        b'"No case has this tracking code. Check the 12 digits and try again."}}'
    )
    assert headers["Cache-Control"] == "no-store"
    assert "Retry-After" not in headers


async def test_a_miss_with_a_pin_is_still_just_a_miss(client: Client, db: Db) -> None:
    case = await make_case(db, pin="2468")
    status, body, _ = await track(client, {"code": unknown_code(case.tracking_code), "pin": "2468"})
    assert (status, body["error"]["code"]) == (404, "tracking_code_unknown")
    async with db() as session:
        assert (await session.execute(select(AuditEvent))).first() is None


@pytest.mark.parametrize(
    "code",
    [
        "",
        " ",
        "123",
        "12345678901",
        "1234567890123",
        "12345678901a",
        "abcd efgh ijkl",
        "1" * 500,
        "1234_5678_9012",
        "+923001234567",
    ],
)
async def test_malformed_codes_are_refused(
    client: Client, db: Db, openapi: OpenAPIChecker, code: str
) -> None:
    status, body, headers = await track(client, {"code": code})
    assert status == 400
    openapi.check("POST", "/api/track", status, body)
    assert body == {
        "error": {"code": "invalid_tracking_code", "message": "A tracking code has 12 digits."}
    }
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_body"),
        ({"code": 123456789012}, "invalid_body"),
        ({"code": None}, "invalid_body"),
        ({"code": "123456789012", "name": "x"}, "invalid_body"),
        ({"code": "123456789012", "pin": 1234}, "invalid_body"),
        ({"code": "123456789012", "pin": "1" * 65}, "invalid_body"),
        ([], "invalid_body"),
    ],
)
async def test_bad_bodies_are_refused(
    client: Client, db: Db, openapi: OpenAPIChecker, body: Any, code: str
) -> None:
    status, answer, _ = await track(client, body)
    assert status == 400
    openapi.check("POST", "/api/track", status, answer)
    assert answer["error"]["code"] == code


async def test_not_json_is_refused(client: Client, db: Db, openapi: OpenAPIChecker) -> None:
    r = await client.post(
        "/api/track", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status == 400
    body = await r.json()
    openapi.check("POST", "/api/track", r.status, body)
    assert body["error"]["code"] == "invalid_json"
    r = await client.post("/api/track", data="code=123456789012")
    assert r.status == 415
    body = await r.json()
    openapi.check("POST", "/api/track", r.status, body)
    assert body["error"]["code"] == "unsupported_media_type"


async def test_the_right_pin_shows_fir_and_only_visible_events(
    client: Client, db: Db, openapi: OpenAPIChecker
) -> None:
    case = await make_case(
        db, pin="2468", status="fir_registered", fir_number="123/26", police_station="Model Town"
    )
    other = await make_case(db)
    async with db() as session:
        session.add(
            ContactSession(
                id="s1", case_id=case.id, service_line="women", channel="chat", arrived_at=OPENED
            )
        )
        session.add(
            ContactSession(
                id="s2", case_id=other.id, service_line="women", channel="chat", arrived_at=OPENED
            )
        )
        await session.commit()
    t = OPENED
    secret = {"text": "husband's name is Secret Person", "officer": "Inspector Hidden"}
    minute = timedelta(minutes=1)
    # The kinds cases.sessions and cases.casework write, and one nobody writes yet.
    for n, (kind, visible, where, data) in enumerate(
        [
            ("case.opened", True, "case", secret),
            ("contact.answered", True, "s1", secret),
            ("routing.offered", False, "s1", {}),
            ("case.note", False, "case", secret),
            ("case.note", True, "case", secret),
            ("case.status", True, "case", {"from": "new", "to": "in_progress"}),
            ("case.pin_set", True, "case", {}),
            ("case.linked", True, "case", {"session_id": "s1"}),
            ("case.status", True, "case", {"to": "fir_registered", "fir": "123/26"}),
            ("case.status", True, "case", {"to": "no_such_status"}),
            ("case.updated", True, "case", secret),
        ]
    ):
        await add_event(
            db,
            kind,
            visible=visible,
            at=t + n * minute,
            case=case if where == "case" else None,
            session_id=None if where == "case" else where,
            data=data,
        )
    # Another case's visible events never show on this one.
    await add_event(db, "case.opened", visible=True, at=t, case=other)
    await add_event(db, "contact.answered", visible=True, at=t, session_id="s2")

    urdu_pin = "".join(chr(0x06F0 + int(d)) for d in "2468")  # typed on an Urdu keyboard
    status, body, _ = await track(client, {"code": case.tracking_code, "pin": f" {urdu_pin} "})
    assert status == 200, body
    openapi.check("POST", "/api/track", status, body)
    assert body["pin_accepted"] is True
    assert body["status"] == "with_police"
    assert (body["fir_number"], body["police_station"]) == ("123/26", "Model Town")
    assert [(e["kind"], e["topic"], e["status"], e["text"]) for e in body["timeline"]] == [
        ("case.opened", "opened", None, "Your case was opened."),
        ("contact.answered", "contact", None, "You were in touch with an officer."),
        ("case.note", "note", None, "An officer added a note to your case."),
        (
            "case.status",
            "status",
            "in_progress",
            "Status: In progress: an officer is working on your case.",
        ),
        ("case.pin_set", "pin", None, "A PIN was set for your case."),
        ("case.linked", "contact", None, "You were in touch with an officer."),
        ("case.status", "fir", "with_police", "A First Information Report (FIR) was registered."),
        ("case.status", "update", None, "Your case was updated."),
        ("case.updated", "update", None, "Your case was updated."),
    ]
    assert body["timeline"][0]["at"].startswith("2026-10-20T08:30:00")
    assert "Secret" not in str(body) and "Hidden" not in str(body)

    async with db() as session:
        audit = list((await session.execute(select(AuditEvent))).scalars())
    assert [(a.action, a.detail) for a in audit] == [("case.track", {"pin": True, "via": "web"})]


async def test_a_wrong_pin_is_refused_and_shows_nothing(
    client: Client, db: Db, openapi: OpenAPIChecker
) -> None:
    case = await make_case(db, pin="2468", fir_number="123/26")
    status, body, headers = await track(client, {"code": case.tracking_code, "pin": "1357"})
    assert status == 403
    openapi.check("POST", "/api/track", status, body)
    assert body == {
        "error": {"code": "pin_wrong", "message": "That PIN is not right for this case."}
    }
    assert headers["Cache-Control"] == "no-store"
    assert "Retry-After" not in headers
    async with db() as session:
        audit = list((await session.execute(select(AuditEvent))).scalars())
    assert [(a.action, a.object_id) for a in audit] == [("case.track_pin_wrong", str(case.id))]


async def test_an_empty_pin_is_no_pin(client: Client, db: Db) -> None:
    case = await make_case(db, pin="2468", fir_number="123/26")
    status, body, _ = await track(client, {"code": case.tracking_code, "pin": "  "})
    assert status == 200
    assert (body["pin_accepted"], body["fir_number"], body["timeline"]) == (False, None, None)


async def test_a_pin_for_a_case_without_one_is_wrong(client: Client, db: Db) -> None:
    case = await make_case(db)
    status, body, _ = await track(client, {"code": case.tracking_code, "pin": "2468"})
    assert (status, body["error"]["code"]) == (403, "pin_wrong")


async def test_pin_attempts_meet_growing_delays_then_the_right_pin_works(
    client: Client, db: Db, clock: FakeClock, openapi: OpenAPIChecker
) -> None:
    case = await make_case(db, pin="2468")
    attempt = {"code": case.tracking_code, "pin": "0000"}
    for _ in range(3):  # free tries
        status, _, headers = await track(client, attempt)
        assert status == 403 and "Retry-After" not in headers
    status, body, headers = await track(client, attempt)
    assert (status, headers["Retry-After"]) == (403, "60")
    assert body["error"]["message"] == (
        "That PIN is not right for this case. You can try again in a minute."
    )
    # During the delay even the right PIN is not checked.
    status, body, headers = await track(client, {**attempt, "pin": "2468"})
    assert status == 429
    openapi.check("POST", "/api/track", status, body)
    assert body["error"] == {
        "code": "too_many_attempts",
        "message": "There have been too many wrong PINs for this case. "
        "Please try again in a minute.",
    }
    assert headers["Retry-After"] == "60"
    # The coarse status stays available without the PIN.
    assert (await track(client, {"code": case.tracking_code}))[0] == 200

    clock.advance(60)
    status, _, headers = await track(client, attempt)
    assert (status, headers["Retry-After"]) == (403, "120")  # the delay doubles
    clock.advance(119)
    status, _, headers = await track(client, {**attempt, "pin": "2468"})
    assert (status, headers["Retry-After"]) == (429, "1")
    clock.advance(1)
    status, body, _ = await track(client, {**attempt, "pin": "2468"})
    assert (status, body["pin_accepted"]) == (200, True)
    # A right PIN starts the count again: three free tries.
    for _ in range(3):
        status, _, headers = await track(client, attempt)
        assert status == 403 and "Retry-After" not in headers


async def test_pin_delays_are_per_case(client: Client, db: Db) -> None:
    first = await make_case(db, pin="2468")
    second = await make_case(db, pin="1357")
    for _ in range(4):
        await track(client, {"code": first.tracking_code, "pin": "0000"})
    assert (await track(client, {"code": first.tracking_code, "pin": "2468"}))[0] == 429
    status, body, _ = await track(client, {"code": second.tracking_code, "pin": "1357"})
    assert (status, body["pin_accepted"]) == (200, True)


async def test_many_hits_from_one_address_are_served(client: Client, db: Db) -> None:
    """Behind carrier-grade NAT many honest people share one address: hits cost no misses."""
    cases = [await make_case(db) for _ in range(5)]
    for i in range(int(2 * Limits().misses_burst)):  # twice what misses would allow
        status, _, _ = await track(client, {"code": cases[i % 5].tracking_code})
        assert status == 200


async def test_misses_from_one_address_are_limited_and_refill(
    client: Client, db: Db, clock: FakeClock, openapi: OpenAPIChecker
) -> None:
    case = await make_case(db)
    for _ in range(10):
        status, _, _ = await track(client, {"code": unknown_code(case.tracking_code)})
        assert status == 404
    # Out of misses: every lookup from the address waits, a hit too (else a 200 would
    # answer the guess).
    for code in (unknown_code(case.tracking_code), case.tracking_code):
        status, body, headers = await track(client, {"code": code})
        assert status == 429
        openapi.check("POST", "/api/track", status, body)
        assert body["error"] == {
            "code": "too_many_attempts",
            "message": "There have been too many tries from your network. "
            "Please try again in a minute.",
        }
        assert headers["Retry-After"] == "60"
        assert headers["Cache-Control"] == "no-store"
    clock.advance(60)
    assert (await track(client, {"code": case.tracking_code}))[0] == 200
    assert (await track(client, {"code": unknown_code(case.tracking_code)}))[0] == 404
    assert (await track(client, {"code": case.tracking_code}))[0] == 429


async def test_wrong_check_digits_are_typos_not_charged_as_misses(client: Client, db: Db) -> None:
    case = await make_case(db)
    for _ in range(25):
        status, _, _ = await track(client, {"code": wrong_check_digit(new_code())})
        assert status == 404
    assert (await track(client, {"code": case.tracking_code}))[0] == 200


async def test_malformed_codes_are_not_charged_as_misses(client: Client, db: Db) -> None:
    case = await make_case(db)
    for _ in range(25):
        assert (await track(client, {"code": "12345"}))[0] == 400
    assert (await track(client, {"code": case.tracking_code}))[0] == 200
