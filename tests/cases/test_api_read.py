"""The officer case API: listing, opening and reading cases; who sees what; bad input."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from audit.models import AuditEvent
from cases import tracking_code
from cases.models import Case, Complainant, TimelineEvent
from cases.sessions import ComplainantDetails
from tests.cases.conftest import DETAILS, T0, count


async def _get(browser, openapi, url, route, status=200):
    response = await browser.get(url)
    body = await response.json()
    assert response.status == status, body
    openapi.check("GET", route, status, body)
    return body


async def _post(browser, openapi, url, route, payload, status):
    response = await browser.post(url, json=payload)
    body = await response.json()
    assert response.status == status, body
    openapi.check("POST", route, status, body)
    return body


async def _audit(db, action):
    async with db() as session:
        return list(
            (await session.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars()
        )


# --- opening ----------------------------------------------------------------


async def test_an_officer_opens_a_case_with_a_tracking_code(login_as, openapi, db):
    browser, officer = await login_as("officer", lines=["women"])
    body = await _post(
        browser,
        openapi,
        "/api/cases",
        "/api/cases",
        {"service_line": "women", "category": "domestic_violence", "district": "Lahore"},
        201,
    )
    assert tracking_code.is_valid(body["tracking_code"])
    assert body["status"] == "new" and body["public_status"] == "received"
    assert body["assigned_officer_id"] == officer.id
    assert body["anonymous"] is True and body["complainant"] is None
    assert [e["kind"] for e in body["timeline"]][:1] == ["case.opened"]
    assert body["sessions"] == [] and body["notes"] == []
    [opened] = await _audit(db, "case.open")
    assert (opened.officer_id, opened.object_id) == (officer.id, str(body["id"]))


async def test_opening_with_her_details_masks_the_phone(login_as, openapi, db):
    browser, _ = await login_as("officer")
    body = await _post(
        browser,
        openapi,
        "/api/cases",
        "/api/cases",
        {
            "service_line": "women",
            "anonymous": False,
            "complainant": {"name": "Ayesha Bibi", "phone": "+92 300 1234567"},
        },
        201,
    )
    assert body["complainant"]["name"] == "Ayesha Bibi"
    assert body["complainant"]["phone"] == "+92••••••••67"
    assert body["complainant"]["phone_revealed"] is False


BAD_NEW_CASES = [
    ({"service_line": "men"}, 400, "invalid_body"),
    ({}, 400, "invalid_body"),
    ({"service_line": "women", "priority": "high"}, 400, "invalid_body"),
    ({"service_line": "women", "priority": 12}, 400, "invalid_body"),
    ({"service_line": "women", "anonymous": "no"}, 400, "invalid_body"),
    ({"service_line": "women", "colour": "red"}, 400, "invalid_body"),
    ({"service_line": "women", "category": "theft"}, 400, "unknown_category"),
    ({"service_line": "women", "district": "a\u0000b"}, 400, "invalid_district"),
    (
        {"service_line": "women", "complainant": {"name": "Ayesha"}},
        400,
        "anonymous_with_details",
    ),
    (
        {"service_line": "women", "anonymous": False, "complainant": {"phone": "12345678ab"}},
        400,
        "invalid_phone",
    ),
    (
        {"service_line": "women", "anonymous": False, "complainant": {"callback_safe": True}},
        400,
        "callback_needs_phone",
    ),
    ({"service_line": "child"}, 403, "not_on_line"),
    ([1, 2], 400, "invalid_body"),
]


async def test_bad_new_cases_are_refused_and_nothing_written(login_as, openapi, db):
    browser, _ = await login_as("officer", lines=["women"])
    for payload, status, code in BAD_NEW_CASES:
        body = await _post(browser, openapi, "/api/cases", "/api/cases", payload, status)
        assert body["error"]["code"] == code, payload
        assert body["error"]["message"]
    assert await count(db, Case) == 0 and await count(db, TimelineEvent) == 0


async def test_a_body_that_is_not_json_is_refused(login_as, openapi):
    browser, _ = await login_as("officer")
    response = await browser.post(
        "/api/cases", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400 and (await response.json())["error"]["code"] == "invalid_json"
    response = await browser.post("/api/cases", data="service_line=women")
    body = await response.json()
    assert response.status == 415
    openapi.check("POST", "/api/cases", 415, body)


async def test_a_male_supervisor_opening_a_womens_case_leaves_it_unassigned_or_refused(
    login_as, openapi, db
):
    browser, _ = await login_as("supervisor", gender="male", lines=["women"])
    body = await _post(browser, openapi, "/api/cases", "/api/cases", {"service_line": "women"}, 400)
    assert body["error"]["code"] == "assignee_not_eligible"
    assert await count(db, Case) == 0
    body = await _post(
        browser,
        openapi,
        "/api/cases",
        "/api/cases",
        {"service_line": "women", "assign_to_me": False},
        201,
    )
    assert body["assigned_officer_id"] is None


async def test_not_logged_in_is_refused(client, openapi):
    for method, url, route in (
        ("GET", "/api/cases", "/api/cases"),
        ("POST", "/api/cases", "/api/cases"),
        ("GET", "/api/cases/1", "/api/cases/{case_id}"),
    ):
        response = await client.request(method, url, json={})
        body = await response.json()
        assert response.status == 401
        openapi.check(method, route, 401, body)


# --- listing ----------------------------------------------------------------


async def test_officers_see_the_cases_of_their_lines(login_as, openapi, new_case):
    women = await new_case(service_line="women")
    child = await new_case(service_line="child", category="missing_child")
    officer, _ = await login_as("officer", lines=["women"])
    supervisor, _ = await login_as("supervisor", lines=["child"])
    admin, _ = await login_as("admin", lines=[])
    nobody, _ = await login_as("officer", lines=[])
    for browser, expected in (
        (officer, [women.id]),
        (supervisor, [child.id]),
        (admin, [child.id, women.id]),
        (nobody, []),
    ):
        body = await _get(browser, openapi, "/api/cases", "/api/cases")
        assert [c["id"] for c in body["cases"]] == expected
        assert body["next_cursor"] is None


async def test_sexual_violence_cases_only_to_the_assigned_officer_supervisors_and_admins(
    login_as, openapi, new_case, db
):
    officer, _ = await login_as("officer", lines=["women"])
    assigned, assignee = await login_as("officer", lines=["women"])
    women_supervisor, _ = await login_as("supervisor", lines=["women"])
    child_supervisor, _ = await login_as("supervisor", lines=["child"])
    admin, _ = await login_as("admin", lines=[])
    case = await new_case(category="sexual_violence")
    async with db() as session, session.begin():
        (await session.get(Case, case.id)).assigned_officer_id = assignee.id
    url = f"/api/cases/{case.id}"
    for browser, sees in (
        (officer, False),
        (assigned, True),
        (women_supervisor, True),
        (child_supervisor, False),
        (admin, True),
    ):
        listed = await _get(browser, openapi, "/api/cases", "/api/cases")
        assert ([c["id"] for c in listed["cases"]] == [case.id]) is sees
        if sees:
            await _get(browser, openapi, url, "/api/cases/{case_id}")
        else:
            body = await _get(browser, openapi, url, "/api/cases/{case_id}", 404)
            assert body["error"]["code"] == "case_not_found"


async def test_filters(login_as, openapi, new_case, db):
    browser, me = await login_as("officer")
    a = await new_case(category="harassment", district="Lahore", now=T0)
    b = await new_case(service_line="child", category="missing_child", now=T0 + timedelta(hours=1))
    c = await new_case(category="harassment", district="Multan", now=T0 + timedelta(hours=2))
    async with db() as session, session.begin():
        (await session.get(Case, c.id)).assigned_officer_id = me.id
        (await session.get(Case, b.id)).status = "referred"

    async def ids(query: str) -> list[int]:
        body = await _get(browser, openapi, f"/api/cases?{query}", "/api/cases")
        return [case["id"] for case in body["cases"]]

    assert await ids("") == [c.id, b.id, a.id]
    assert await ids("status=referred") == [b.id]
    assert await ids("status=new") == [c.id, a.id]
    assert await ids("service_line=child") == [b.id]
    assert await ids("category=harassment") == [c.id, a.id]
    assert await ids("district=Lahore") == [a.id]
    assert await ids("mine=true") == [c.id]
    assert await ids(f"assigned_officer_id={me.id}") == [c.id]
    assert await ids("created_from=2026-11-01T09:30:00Z") == [c.id, b.id]
    assert await ids("created_to=2026-11-01T10:00:00%2B00:00") == [a.id]
    assert await ids(f"tracking_code={tracking_code.display(b.tracking_code)}") == [b.id]
    assert await ids("category=harassment&district=Multan&mine=true") == [c.id]


async def test_paging_by_cursor_walks_every_case_once_newest_first(login_as, openapi, new_case):
    browser, _ = await login_as("officer")
    made = [await new_case(now=T0 + timedelta(minutes=n // 2)) for n in range(7)]
    seen: list[int] = []
    url = "/api/cases?limit=3"
    pages = 0
    while True:
        body = await _get(browser, openapi, url, "/api/cases")
        pages += 1
        seen += [c["id"] for c in body["cases"]]
        if body["next_cursor"] is None:
            break
        url = f"/api/cases?limit=3&cursor={body['next_cursor']}"
    assert pages == 3
    expected = sorted(made, key=lambda c: (c.created_at, c.id), reverse=True)
    assert seen == [c.id for c in expected]


BAD_LIST_QUERIES = [
    ("limit=1000", "invalid_query"),
    ("limit=0", "invalid_query"),
    ("limit=ten", "invalid_query"),
    ("status=solved", "invalid_query"),
    ("service_line=men", "invalid_query"),
    ("category=theft", "unknown_category"),
    ("district=%00", "invalid_district"),
    ("created_from=yesterday", "invalid_query"),
    ("created_from=2026-11-01T09:00:00", "invalid_query"),  # no zone
    ("created_from=9999-12-31T23:59:59-23:00", "invalid_query"),
    ("tracking_code=123456789012", "invalid_tracking_code"),
    ("cursor=nonsense", "invalid_cursor"),
    ("cursor=MjAyNi0xMS0wMVQwOTowMDowMHwx", "invalid_cursor"),  # zone-less time
    ("assigned_officer_id=-1", "invalid_query"),
    ("assigned_officer_id=99999999999", "invalid_query"),
    ("mine=perhaps", "invalid_query"),
    ("colour=red", "invalid_query"),
]


async def test_bad_list_queries(login_as, openapi):
    browser, _ = await login_as("officer")
    for query, code in BAD_LIST_QUERIES:
        body = await _get(browser, openapi, f"/api/cases?{query}", "/api/cases", 400)
        assert body["error"]["code"] == code, query
        assert body["error"]["message"]


async def test_listing_is_audited(login_as, openapi, db, new_case):
    await new_case()
    browser, officer = await login_as("officer")
    await _get(browser, openapi, "/api/cases?status=new", "/api/cases")
    [listed] = await _audit(db, "case.list")
    assert listed.officer_id == officer.id
    assert listed.detail == {"filters": ["status"], "count": 1}


# --- reading ----------------------------------------------------------------


async def test_reading_a_case_shows_timeline_sessions_and_legs(login_as, openapi, db, new_contact):
    contact, case = await new_contact(channel="phone", external_id="CA9")
    browser, officer = await login_as("officer", lines=["women"])
    body = await _get(browser, openapi, f"/api/cases/{case.id}", "/api/cases/{case_id}")
    assert body["tracking_code"] == case.tracking_code
    [session] = body["sessions"]
    assert session["id"] == contact.id and session["channel"] == "phone"
    assert [leg["external_id"] for leg in session["legs"]] == ["CA9"]
    assert [e["kind"] for e in body["timeline"]] == ["case.opened", "contact.arrived"]
    assert body["complainant"] is None
    [read] = await _audit(db, "case.read")
    assert (read.officer_id, read.object_id) == (officer.id, str(case.id))


async def test_an_anonymous_case_shows_no_details(login_as, openapi, db, new_case, data_key):
    case = await new_case(anonymous=False, complainant=DETAILS)
    # She later asks to stay anonymous: the details stay sealed and unshown.
    async with db() as session, session.begin():
        (await session.get(Case, case.id)).anonymous = True
    browser, _ = await login_as("officer")
    body = await _get(browser, openapi, f"/api/cases/{case.id}", "/api/cases/{case_id}")
    assert body["complainant"] is None
    body = await _get(
        browser,
        openapi,
        f"/api/cases/{case.id}?reveal=phone&reason=callback",
        "/api/cases/{case_id}",
        409,
    )
    assert body["error"]["code"] == "no_phone"


async def test_revealing_her_phone_for_a_callback(login_as, openapi, db, new_case):
    case = await new_case(anonymous=False, complainant=DETAILS)
    browser, officer = await login_as("officer")
    url = f"/api/cases/{case.id}"
    body = await _get(browser, openapi, url, "/api/cases/{case_id}")
    assert body["complainant"]["phone"] == "+92••••••••67"
    assert body["complainant"]["address"] == DETAILS.address
    body = await _get(browser, openapi, url + "?reveal=phone", "/api/cases/{case_id}", 400)
    assert body["error"]["code"] == "reason_required"
    assert await _audit(db, "case.reveal_phone") == []
    body = await _get(
        browser,
        openapi,
        url + "?reveal=phone&reason=callback%20as%20agreed",
        "/api/cases/{case_id}",
    )
    assert body["complainant"]["phone"] == "+92 300 1234567"
    assert body["complainant"]["phone_revealed"] is True
    [revealed] = await _audit(db, "case.reveal_phone")
    assert revealed.officer_id == officer.id
    assert revealed.detail == {"reason": "callback as agreed"}


async def test_no_reveal_without_her_consent(login_as, openapi, db, new_case):
    case = await new_case(
        anonymous=False,
        complainant=ComplainantDetails(phone="0300 1112223", callback_safe=False),
    )
    browser, _ = await login_as("officer")
    body = await _get(
        browser,
        openapi,
        f"/api/cases/{case.id}?reveal=phone&reason=callback",
        "/api/cases/{case_id}",
        409,
    )
    assert body["error"]["code"] == "no_callback_consent"
    assert await _audit(db, "case.reveal_phone") == []
    async with db() as session:
        assert await session.scalar(select(Complainant.callback_safe)) is False


REVEAL = "/api/cases/{case_id}/reveal-phone"


async def test_the_reveal_reason_travels_in_the_body_and_answers_are_never_cached(
    login_as, openapi, db, new_case
):
    """Issue 13 item 12: the reason was in the URL (proxy logs, history) and her details
    could stay in a shared computer's cache."""
    case = await new_case(anonymous=False, complainant=DETAILS)
    browser, officer = await login_as("officer")
    url = f"/api/cases/{case.id}/reveal-phone"

    response = await browser.post(url, json={"reason": "callback as agreed"})

    body = await response.json()
    assert response.status == 200, body
    openapi.check("POST", REVEAL, 200, body)
    assert body["complainant"]["phone"] == "+92 300 1234567"
    assert body["complainant"]["phone_revealed"] is True
    assert "reason" not in str(response.url)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    [revealed] = await _audit(db, "case.reveal_phone")
    assert (revealed.officer_id, revealed.detail) == (officer.id, {"reason": "callback as agreed"})
    read = await browser.get(f"/api/cases/{case.id}")
    assert read.headers["Cache-Control"] == "no-store"
    assert read.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_reveal_in_the_body_keeps_every_rule(login_as, openapi, db, new_case):
    browser, _ = await login_as("officer", lines=["child"])
    no_consent = await new_case(
        anonymous=False, complainant=ComplainantDetails(phone="0300 1112223")
    )
    anonymous = await new_case(anonymous=True)
    unseen = await new_case(anonymous=False, complainant=DETAILS)  # the women's line
    mine = await new_case(service_line="child", anonymous=False, complainant=DETAILS)
    for case_id, payload, status, code in [
        (mine.id, {}, 400, "invalid_body"),
        (mine.id, {"reason": "x"}, 400, "invalid_body"),
        (mine.id, {"reason": "\u0000\u0000\u0000"}, 400, "invalid_reason"),
        (mine.id, {"reason": "callback", "extra": 1}, 400, "invalid_body"),
        (unseen.id, {"reason": "callback"}, 404, "case_not_found"),
    ]:
        body = await _post(
            browser, openapi, f"/api/cases/{case_id}/reveal-phone", REVEAL, payload, status
        )
        assert body["error"]["code"] == code
    supervisor, _ = await login_as("supervisor")
    for case_id, code in [(no_consent.id, "no_callback_consent"), (anonymous.id, "no_phone")]:
        url = f"/api/cases/{case_id}/reveal-phone"
        body = await _post(supervisor, openapi, url, REVEAL, {"reason": "callback"}, 409)
        assert body["error"]["code"] == code
    assert await _audit(db, "case.reveal_phone") == []


async def test_the_query_form_of_the_reveal_is_documented_as_deprecated(openapi):
    operation = openapi.document["paths"]["/api/cases/{case_id}"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["reveal"]["deprecated"] is True and params["reason"]["deprecated"] is True
    assert "reveal-phone" in operation["summary"]


BAD_READS = [
    ("/api/cases/999999", 404, "case_not_found"),
    ("/api/cases/99999999999999999999", 404, "case_not_found"),
    ("/api/cases/" + "9" * 5000, 404, "case_not_found"),
    ("/api/cases/abc", 400, "invalid_case_id"),
    ("/api/cases/1?reveal=email&reason=x", 400, "invalid_query"),
    ("/api/cases/1?reveal=phone&reason=%00%00%00", 400, "invalid_reason"),
]


async def test_bad_reads(login_as, openapi, new_case, db):
    await new_case()
    browser, _ = await login_as("officer")
    for path, status, code in BAD_READS:
        body = await _get(browser, openapi, path, "/api/cases/{case_id}", status)
        assert body["error"]["code"] == code, path
    assert await _audit(db, "case.read") == []


async def test_an_invisible_case_answers_like_a_missing_one(login_as, openapi, new_case):
    case = await new_case(service_line="child")
    browser, _ = await login_as("officer", lines=["women"])
    hidden = await _get(browser, openapi, f"/api/cases/{case.id}", "/api/cases/{case_id}", 404)
    missing = await _get(browser, openapi, "/api/cases/999999", "/api/cases/{case_id}", 404)
    assert hidden == missing
