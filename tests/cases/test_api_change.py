"""The officer case API: status, edits, notes and session links; refusals change nothing."""

from __future__ import annotations

from sqlalchemy import select, text

from audit.models import AuditEvent
from cases import tracking_code
from cases.models import Case, CaseNote, ContactSession, TimelineEvent
from tests.cases.conftest import count

STATUS = "/api/cases/{case_id}/status"
CASE = "/api/cases/{case_id}"
NOTES = "/api/cases/{case_id}/notes"
LINK = "/api/sessions/{session_id}/link"


async def _send(browser, openapi, method, url, route, payload, status):
    response = await browser.request(method, url, json=payload)
    body = await response.json()
    assert response.status == status, body
    openapi.check(method, route, status, body)
    return body


async def _case(db, case_id) -> Case:
    async with db() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case


async def _actions(db) -> list[str]:
    async with db() as session:
        return list(
            (await session.execute(select(AuditEvent.action).order_by(AuditEvent.id))).scalars()
        )


# --- status -----------------------------------------------------------------


async def test_registering_an_fir(login_as, openapi, db, new_case, clock):
    case = await new_case()
    browser, officer = await login_as("officer")
    clock.advance(3600)
    body = await _send(
        browser,
        openapi,
        "POST",
        f"/api/cases/{case.id}/status",
        STATUS,
        {"status": "fir_registered", "fir_number": "457/2026", "police_station": "Model Town"},
        200,
    )
    assert (body["status"], body["public_status"]) == ("fir_registered", "with_police")
    assert (body["fir_number"], body["police_station"]) == ("457/2026", "Model Town")
    stored = await _case(db, case.id)
    assert stored.status == "fir_registered" and stored.updated_at == clock()
    async with db() as session:
        audited = await session.scalar(select(AuditEvent).where(AuditEvent.action == "case.status"))
    assert audited is not None and audited.officer_id == officer.id
    assert audited.detail == {"from": "new", "to": "fir_registered"}


BAD_STATUS_CHANGES = [
    ({"status": "fir_registered"}, 400, "fir_details_required"),
    ({"status": "fir_registered", "fir_number": "1"}, 400, "fir_details_required"),
    (
        {"status": "fir_registered", "fir_number": "", "police_station": "X"},
        400,
        "invalid_body",
    ),
    ({"status": "solved"}, 400, "invalid_body"),
    ({"status": 3}, 400, "invalid_body"),
    ({}, 400, "invalid_body"),
    ({"status": "referred", "fir_number": "1"}, 400, "fir_details_unexpected"),
    ({"status": "new"}, 409, "status_unchanged"),
]


async def test_bad_status_changes_change_nothing(login_as, openapi, db, new_case):
    case = await new_case()
    browser, _ = await login_as("officer")
    for payload, status, code in BAD_STATUS_CHANGES:
        body = await _send(
            browser, openapi, "POST", f"/api/cases/{case.id}/status", STATUS, payload, status
        )
        assert body["error"]["code"] == code, payload
    stored = await _case(db, case.id)
    assert (stored.status, stored.fir_number, stored.updated_at) == ("new", None, case.updated_at)
    assert await count(db, TimelineEvent) == 1  # case.opened only
    assert await _actions(db) == []


async def test_only_a_supervisor_reopens_a_closed_case(login_as, openapi, db, new_case):
    case = await new_case()
    officer, _ = await login_as("officer")
    supervisor, _ = await login_as("supervisor", lines=["women"])
    url = f"/api/cases/{case.id}/status"
    body = await _send(officer, openapi, "POST", url, STATUS, {"status": "closed"}, 200)
    assert body["closed_at"] is not None
    body = await _send(officer, openapi, "POST", url, STATUS, {"status": "in_progress"}, 409)
    assert body["error"]["code"] == "case_closed"
    body = await _send(supervisor, openapi, "POST", url, STATUS, {"status": "referred"}, 409)
    assert body["error"]["code"] == "case_closed"
    assert (await _case(db, case.id)).status == "closed"
    body = await _send(supervisor, openapi, "POST", url, STATUS, {"status": "in_progress"}, 200)
    assert body["status"] == "in_progress" and body["closed_at"] is None


async def test_changing_a_case_you_cannot_see_is_not_found(login_as, openapi, db, new_case):
    case = await new_case(service_line="child")
    browser, _ = await login_as("officer", lines=["women"])
    for method, url, route, payload in (
        ("POST", f"/api/cases/{case.id}/status", STATUS, {"status": "closed"}),
        ("PATCH", f"/api/cases/{case.id}", CASE, {"priority": 3}),
        ("POST", f"/api/cases/{case.id}/notes", NOTES, {"text": "x"}),
        ("POST", "/api/cases/424242/status", STATUS, {"status": "closed"}),
    ):
        body = await _send(browser, openapi, method, url, route, payload, 404)
        assert body["error"]["code"] == "case_not_found"
    stored = await _case(db, case.id)
    assert (stored.status, stored.priority) == ("new", 0)
    assert await count(db, CaseNote) == 0


# --- edits ------------------------------------------------------------------


async def test_editing_a_case(login_as, openapi, db, new_case):
    case = await new_case()
    browser, _ = await login_as("supervisor", lines=["women"])
    _, assignee = await login_as("officer", lines=["women"])
    body = await _send(
        browser,
        openapi,
        "PATCH",
        f"/api/cases/{case.id}",
        CASE,
        {
            "category": "harassment",
            "district": "Lahore",
            "priority": 5,
            "assigned_officer_id": assignee.id,
        },
        200,
    )
    assert (body["category"], body["district"], body["priority"]) == ("harassment", "Lahore", 5)
    assert body["assigned_officer_id"] == assignee.id
    body = await _send(
        browser,
        openapi,
        "PATCH",
        f"/api/cases/{case.id}",
        CASE,
        {"district": None, "assigned_officer_id": None},
        200,
    )
    assert (body["district"], body["assigned_officer_id"]) == (None, None)
    async with db() as session:
        audited = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "case.update"))
        ).scalars()
        details = [e.detail for e in audited]
    assert details[-1] == {"fields": ["assigned_officer_id", "district"]}


BAD_EDITS = [
    ({}, 400, "empty_patch"),
    ({"priority": None}, 400, "invalid_body"),
    ({"priority": "5"}, 400, "invalid_body"),
    ({"priority": 10}, 400, "invalid_body"),
    ({"category": "theft"}, 400, "unknown_category"),
    ({"status": "closed"}, 400, "invalid_body"),
    # Every field but the last is fine: none of them may be applied.
    (
        {"category": "harassment", "priority": 4, "assigned_officer_id": 999999},
        400,
        "unknown_officer",
    ),
    ({"category": "harassment", "district": "\u0007bell"}, 400, "invalid_district"),
]


async def test_bad_edits_change_nothing(login_as, openapi, db, new_case):
    case = await new_case()
    browser, _ = await login_as("supervisor", lines=["women"])
    for payload, status, code in BAD_EDITS:
        body = await _send(
            browser, openapi, "PATCH", f"/api/cases/{case.id}", CASE, payload, status
        )
        assert body["error"]["code"] == code, payload
    stored = await _case(db, case.id)
    assert (stored.category, stored.district, stored.priority) == (None, None, 0)
    assert stored.assigned_officer_id is None
    assert await count(db, TimelineEvent) == 1
    assert await _actions(db) == []


async def test_an_officer_assigns_only_herself(login_as, openapi, db, new_case):
    case = await new_case()
    browser, me = await login_as("officer", lines=["women"])
    _, colleague = await login_as("officer", lines=["women"])
    url = f"/api/cases/{case.id}"
    body = await _send(
        browser, openapi, "PATCH", url, CASE, {"assigned_officer_id": colleague.id}, 403
    )
    assert body["error"]["code"] == "assign_forbidden"
    body = await _send(browser, openapi, "PATCH", url, CASE, {"assigned_officer_id": me.id}, 200)
    assert body["assigned_officer_id"] == me.id


async def test_an_officer_cannot_take_a_case_a_colleague_holds(login_as, openapi, db, new_case):
    """Issue 13 item 8: assigning a held case to herself took it from her colleague."""
    case = await new_case()
    holder_browser, holder = await login_as("officer", lines=["women"])
    browser, me = await login_as("officer", lines=["women"])
    supervisor, _ = await login_as("supervisor", lines=["women"])
    url = f"/api/cases/{case.id}"
    hers = {"assigned_officer_id": holder.id}
    await _send(holder_browser, openapi, "PATCH", url, CASE, hers, 200)

    body = await _send(browser, openapi, "PATCH", url, CASE, {"assigned_officer_id": me.id}, 403)

    assert body["error"]["code"] == "assign_forbidden"
    assert "supervisor" in body["error"]["message"]
    assert (await _case(db, case.id)).assigned_officer_id == holder.id
    # Her own again is no change; a supervisor may move it; then it is hers.
    await _send(holder_browser, openapi, "PATCH", url, CASE, hers, 200)
    await _send(supervisor, openapi, "PATCH", url, CASE, {"assigned_officer_id": me.id}, 200)
    assert (await _case(db, case.id)).assigned_officer_id == me.id


async def test_bad_case_ids_in_the_path(login_as, openapi):
    browser, _ = await login_as("officer")
    body = await _send(browser, openapi, "PATCH", "/api/cases/1x", CASE, {"priority": 1}, 400)
    assert body["error"]["code"] == "invalid_case_id"
    body = await _send(browser, openapi, "PATCH", "/api/cases/0", CASE, {"priority": 1}, 404)
    assert body["error"]["code"] == "case_not_found"


# --- notes ------------------------------------------------------------------


async def test_notes_are_stored_sealed_and_read_back_opened(login_as, openapi, db, new_case):
    case = await new_case()
    browser, officer = await login_as("officer")
    body = await _send(
        browser,
        openapi,
        "POST",
        f"/api/cases/{case.id}/notes",
        NOTES,
        {"text": "Neighbour Rukhsana saw the attack."},
        201,
    )
    assert body["text"] == "Neighbour Rukhsana saw the attack."
    assert body["officer_id"] == officer.id
    async with db() as session:
        raw = b"".join(
            bytes(v)
            for v in (await session.execute(text("SELECT body_sealed FROM case_notes"))).scalars()
        )
        detail = await session.scalar(
            select(AuditEvent.detail).where(AuditEvent.action == "case.note_add")
        )
    assert b"Rukhsana" not in raw
    assert detail == {"note_id": body["id"]}
    read = await _send(browser, openapi, "GET", f"/api/cases/{case.id}", CASE, None, 200)
    assert [n["text"] for n in read["notes"]] == ["Neighbour Rukhsana saw the attack."]
    note_events = [e for e in read["timeline"] if e["kind"] == "case.note"]
    assert note_events[0]["complainant_visible"] is False


BAD_NOTES = [
    ({"text": ""}, "invalid_body"),
    ({"text": "   "}, "invalid_note"),
    ({"text": 42}, "invalid_body"),
    ({"text": "x" * 10_001}, "invalid_body"),
    ({"text": "a\u0000b"}, "invalid_note"),
    ({"body": "hello"}, "invalid_body"),
]


async def test_bad_notes_are_refused(login_as, openapi, db, new_case):
    case = await new_case()
    browser, _ = await login_as("officer")
    for payload, code in BAD_NOTES:
        body = await _send(
            browser, openapi, "POST", f"/api/cases/{case.id}/notes", NOTES, payload, 400
        )
        assert body["error"]["code"] == code, payload
    assert await count(db, CaseNote) == 0
    assert await count(db, TimelineEvent) == 1


# --- links ------------------------------------------------------------------


async def test_linking_a_session_by_tracking_code_and_by_id(login_as, openapi, db, new_contact):
    contact, first = await new_contact()
    _, second = await new_contact()
    browser, officer = await login_as("officer")
    url = f"/api/sessions/{contact.id}/link"
    body = await _send(
        browser,
        openapi,
        "POST",
        url,
        LINK,
        {"tracking_code": tracking_code.display(second.tracking_code)},
        200,
    )
    assert body == {
        "session_id": contact.id,
        "case_id": second.id,
        "previous_case_id": first.id,
        "tracking_code": tracking_code.display(second.tracking_code),
    }
    body = await _send(browser, openapi, "POST", url, LINK, {"case_id": first.id}, 200)
    assert body["previous_case_id"] == second.id
    body = await _send(browser, openapi, "POST", url, LINK, {"case_id": first.id}, 409)
    assert body["error"]["code"] == "already_linked"
    async with db() as session:
        linked = await session.scalar(select(AuditEvent).where(AuditEvent.action == "session.link"))
    assert linked is not None and linked.object_id == contact.id
    assert linked.officer_id == officer.id
    assert linked.detail == {"from_case_id": first.id, "to_case_id": second.id}
    read = await _send(browser, openapi, "GET", f"/api/cases/{second.id}", CASE, None, 200)
    kinds = [e["kind"] for e in read["timeline"]]
    assert kinds.count("case.session_moved") == 1 and kinds.count("case.session_linked") == 1


async def test_a_session_moves_to_a_new_case_in_one_step(login_as, openapi, db, new_contact):
    contact, first = await new_contact()
    browser, officer = await login_as("officer")
    body = await _send(
        browser,
        openapi,
        "POST",
        f"/api/sessions/{contact.id}/link",
        LINK,
        {"new_case": True},
        200,
    )
    assert body["previous_case_id"] == first.id and body["case_id"] != first.id
    async with db() as session:
        new = await session.get(Case, body["case_id"])
        moved = await session.get(ContactSession, contact.id)
    assert new is not None and moved is not None
    assert moved.case_id == new.id
    assert new.service_line == first.service_line and new.assigned_officer_id == officer.id
    assert body["tracking_code"] == tracking_code.display(new.tracking_code)


BAD_LINKS = [
    ("mine", {}, 400, "invalid_body"),
    ("mine", {"tracking_code": "TARGET", "case_id": 1}, 400, "invalid_body"),
    ("mine", {"case_id": 1, "new_case": True}, 400, "invalid_body"),
    ("mine", {"new_case": False}, 400, "invalid_body"),
    ("mine", {"new_case": "yes"}, 400, "invalid_body"),
    ("hidden", {"new_case": True}, 404, "session_not_found"),
    ("mine", {"case_id": "1"}, 400, "invalid_body"),
    ("mine", {"tracking_code": "12345678901x"}, 400, "invalid_tracking_code"),
    ("mine", {"tracking_code": "1234 5678 9012"}, 404, "case_not_found"),
    ("mine", {"case_id": 999999}, 404, "case_not_found"),
    ("mine", {"case_id": "HIDDEN"}, 404, "case_not_found"),
    ("0" * 32, {"case_id": "TARGET"}, 404, "session_not_found"),
    ("not-a-session", {"case_id": "TARGET"}, 404, "session_not_found"),
    ("hidden", {"case_id": "TARGET"}, 404, "session_not_found"),
]


async def test_bad_links_change_nothing(login_as, openapi, db, new_contact):
    contact, own_case = await new_contact()
    _, target = await new_contact()
    hidden_contact, hidden = await new_contact(service_line="child")
    browser, _ = await login_as("officer", lines=["women"])
    for session, payload, status, code in BAD_LINKS:
        session_id = {"mine": contact.id, "hidden": hidden_contact.id}.get(session, session)
        payload = {
            k: {"TARGET": target.id, "HIDDEN": hidden.id}.get(v, v)
            if k == "case_id"
            else (target.tracking_code if v == "TARGET" else v)
            for k, v in payload.items()
        }
        body = await _send(
            browser, openapi, "POST", f"/api/sessions/{session_id}/link", LINK, payload, status
        )
        assert body["error"]["code"] == code, (session, payload)
    async with db() as session_:
        cases = dict(
            (await session_.execute(select(ContactSession.id, ContactSession.case_id))).all()
        )
    assert cases[contact.id] == own_case.id and cases[hidden_contact.id] == hidden.id
    assert await _actions(db) == []
