"""The phone menu through Twilio's signed webhooks: every path ends in line, never in a hang-up."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import func, select

from audit.models import AuditEvent
from cases.models import Case, Complainant, ContactSession, TimelineEvent
from ivr.models import PhoneCall
from ivr.signature import AUDITED, WINDOW, ForgeryLog, write_summaries
from queues.service import ROUTER
from tests.ivr.conftest import CALLER, PUBLIC_URL, Phone, count_contacts

WOMEN_NAMED_SAFE = ("1", "1", "2", "2", "1")  # Urdu, women, harassment, give number, safe


async def the_call(db: Any, phone: Phone) -> tuple[PhoneCall, ContactSession, Case]:
    async with db() as session:
        call = await session.get(PhoneCall, phone.call_sid)
        assert call is not None, "no call was put in line"
        contact = await session.get(ContactSession, call.session_id)
        assert contact is not None
        case = await session.get(Case, contact.case_id)
        assert case is not None
    return call, contact, case


def assert_holding(reply: Any) -> None:
    assert reply.status == 200, reply.text
    assert reply.texts("Redirect")[-1] == f"{PUBLIC_URL}/twilio/ivr/wait"
    assert any(url.endswith("/common/hold.wav") for url in reply.texts("Play"))
    assert not reply.all("Hangup")


async def test_the_call_is_asked_its_language_in_every_language(phone: Phone) -> None:
    reply = await phone.call()
    gather = reply.first("Gather")
    assert gather.get("input") == "dtmf speech"
    assert gather.get("action") == f"{PUBLIC_URL}/twilio/ivr/language"
    played = reply.texts("Play")
    assert [url.split("/")[-2] for url in played] == ["ur", "en", "pa"]
    # Silence falls through the Gather to the same question's URL.
    assert reply.texts("Redirect") == [gather.get("action")]


async def test_the_prompts_are_served_as_audio(phone: Phone, client: Any) -> None:
    reply = await phone.call()
    for url in reply.texts("Play"):
        response = await client.get(url.removeprefix(PUBLIC_URL))
        assert response.status == 200
        assert response.content_type == "audio/wav"
        assert (await response.read())[:4] == b"RIFF"
    for bad in (
        "/twilio/prompts/ur/nothing.wav",
        "/twilio/prompts/xx/line.wav",
        "/twilio/prompts/ur/..%2Fmenu.toml",
    ):
        assert (await client.get(bad)).status == 404


async def test_women_line_named_and_safe_to_call_back(phone: Phone, db: Any, app: Any) -> None:
    reply = await phone.press_through(*WOMEN_NAMED_SAFE)
    assert_holding(reply)
    assert reply.first("Gather").get("action") == f"{PUBLIC_URL}/twilio/ivr/hold-key"
    call, contact, case = await the_call(db, phone)
    assert (contact.channel, contact.service_line, contact.language) == ("phone", "women", "ur")
    assert contact.anonymous is False and contact.silent is False
    assert contact.queued_at == contact.arrived_at is not None  # in line as she arrived
    assert case.category == "harassment"
    assert call.callback_safe is True
    async with db() as session:
        details = await session.scalar(select(Complainant).where(Complainant.case_id == case.id))
    assert details is not None and details.callback_safe is True
    assert CALLER.encode() not in details.phone_sealed
    assert app[ROUTER].placement(contact.id).status == "waiting"
    task = app[ROUTER].board.tasks[contact.id]
    assert task.callback_safe and task.channel == "phone" and task.category == "harassment"
    # No phone number in any URL she was sent to.
    assert "923001234567" not in reply.text


async def test_child_line_anonymous_keeps_no_number(phone: Phone, db: Any, app: Any) -> None:
    reply = await phone.press_through("2", "2", "9", "1")  # English, child, skip, anonymous
    assert_holding(reply)
    assert not any(g.get("action", "").endswith("hold-key") for g in reply.all("Gather"))
    call, contact, case = await the_call(db, phone)
    assert (contact.service_line, contact.language, contact.anonymous) == ("child", "en", True)
    assert case.category is None
    assert call.callback_safe is False
    assert call.phone_hash is not None  # kept only as a keyed hash, for prank marks
    async with db() as session:
        assert (
            await session.scalar(select(Complainant).where(Complainant.case_id == case.id)) is None
        )


async def test_danger_now_goes_straight_to_line_as_an_emergency(
    phone: Phone, db: Any, app: Any
) -> None:
    reply = await phone.press_through("3", "4")  # Punjabi, in danger now
    assert_holding(reply)
    _, contact, _ = await the_call(db, phone)
    assert contact.language == "pa"
    task = app[ROUTER].board.tasks[contact.id]
    assert task.priority == app[ROUTER].config.emergency_priority


async def test_words_work_like_keys(phone: Phone, db: Any) -> None:
    reply = await phone.call()
    reply = await phone.answer(reply, speech="English please")
    assert reply.first("Gather").get("action", "").startswith(f"{PUBLIC_URL}/twilio/ivr/line?")
    reply = await phone.answer(reply, speech="I am in danger")
    assert_holding(reply)
    _, contact, _ = await the_call(db, phone)
    assert contact.language == "en"


async def test_the_silent_key_queues_a_silent_call_at_once(phone: Phone, db: Any) -> None:
    reply = await phone.press_through("0")
    assert_holding(reply)
    assert reply.texts("Play")[0].endswith("/ur/silent_queued.wav")
    _, contact, _ = await the_call(db, phone)
    assert contact.silent is True and contact.service_line == "women"


async def test_silence_asks_again_then_queues_a_silent_call(
    phone: Phone, db: Any, settings: Any
) -> None:
    reply = await phone.call()
    for _ in range(2):
        reply = await phone.stay_silent(reply)
        assert reply.status == 200 and not reply.all("Hangup")
        assert reply.texts("Play")[0].endswith("/ur/retry.wav")
        assert await count_contacts(db) == 0
    reply = await phone.stay_silent(reply)
    assert_holding(reply)
    _, contact, _ = await the_call(db, phone)
    assert contact.silent is True


async def test_wrong_keys_ask_again_then_go_to_the_general_queue(phone: Phone, db: Any) -> None:
    reply = await phone.press_through("2")  # English
    for key in ("7", "8"):
        reply = await phone.answer(reply, key)
        assert reply.texts("Play")[0].endswith("/en/retry.wav")
    reply = await phone.answer(reply, "#")
    assert_holding(reply)
    _, contact, _ = await the_call(db, phone)
    assert (contact.service_line, contact.silent, contact.language) == ("women", False, "en")


async def test_the_same_webhook_twice_opens_one_contact(phone: Phone, db: Any) -> None:
    reply = await phone.press_through("1", "1", "9")  # anonymous question next
    action = reply.first("Gather").get("action", "")
    first = await phone.post(action, phone.params(Digits="1"))
    again = await phone.post(action, phone.params(Digits="1"))
    assert_holding(first)
    assert_holding(again)
    assert await count_contacts(db) == 1
    async with db() as session:  # the repeat rolled back whole: no second case, no events
        assert await session.scalar(select(func.count()).select_from(Case)) == 1
        kinds = await session.scalars(
            select(TimelineEvent.kind).where(
                TimelineEvent.kind.in_(["case.opened", "contact.arrived"])
            )
        )
        assert sorted(kinds) == ["case.opened", "contact.arrived"]
    # Twilio asking for the call again finds her in line.
    assert_holding(await phone.call())
    assert await count_contacts(db) == 1


async def test_the_same_webhook_at_once_opens_one_contact(phone: Phone, db: Any) -> None:
    import asyncio

    reply = await phone.press_through("1", "1", "9")
    action = reply.first("Gather").get("action", "")
    replies = await asyncio.gather(
        *(phone.post(action, phone.params(Digits="1")) for _ in range(3))
    )
    for each in replies:
        assert_holding(each)
    assert await count_contacts(db) == 1


async def test_waiting_hears_her_place(phone: Phone, db: Any, new_phone: Any) -> None:
    await phone.press_through("2", "1", "9", "1")
    second = new_phone("+923007654321")
    await second.press_through("2", "1", "9", "1")
    reply = await second.post("/twilio/ivr/wait")
    assert_holding(reply)
    heard = [url.removeprefix(f"{PUBLIC_URL}/twilio/prompts/") for url in reply.texts("Play")]
    assert heard[:3] == ["en/position_before.wav", "en/n2.wav", "en/position_after.wav"]
    assert not reply.all("Say")  # every word recorded: no text-to-speech needed


async def test_hanging_up_while_waiting_abandons_and_makes_a_callback(
    phone: Phone, db: Any, app: Any
) -> None:
    await phone.press_through(*WOMEN_NAMED_SAFE)
    _, contact, _ = await the_call(db, phone)
    first = await phone.status("completed")
    again = await phone.status("completed")
    assert first.status == again.status == 200
    _, contact, _ = await the_call(db, phone)
    assert contact.disposition == "abandoned" and contact.ended_at is not None
    router = app[ROUTER]
    assert router.placement(contact.id).status == "abandoned"
    callbacks = [t for t in router.board.tasks.values() if t.is_callback]
    assert [t.session_id for t in callbacks] == [contact.id]
    call, _, _ = await the_call(db, phone)
    assert call.state == "ended" and call.end_status == "completed"


async def test_hanging_up_when_not_safe_makes_no_callback(phone: Phone, db: Any, app: Any) -> None:
    await phone.press_through("1", "1", "9", "2", "2")  # gave the number, not safe
    await phone.status("no-answer")
    _, contact, _ = await the_call(db, phone)
    assert contact.disposition == "abandoned"
    assert not [t for t in app[ROUTER].board.tasks.values() if t.is_callback]


async def test_hanging_up_in_the_menu_opens_nothing(phone: Phone, db: Any) -> None:
    await phone.press_through("1")
    assert (await phone.status("completed")).status == 200
    assert await count_contacts(db) == 0


async def test_the_callback_key_while_waiting(phone: Phone, db: Any, app: Any) -> None:
    await phone.press_through(*WOMEN_NAMED_SAFE)
    reply = await phone.post("/twilio/ivr/hold-key", phone.params(Digits="1"))
    assert reply.all("Hangup")
    assert reply.texts("Play")[0].endswith("/ur/callback_booked.wav")
    _, contact, _ = await the_call(db, phone)
    assert contact.disposition == "transferred"
    callbacks = [t for t in app[ROUTER].board.tasks.values() if t.is_callback]
    assert len(callbacks) == 1
    # The hang-up after it changes nothing more.
    await phone.status("completed")
    _, contact, _ = await the_call(db, phone)
    assert contact.disposition == "transferred"


async def test_other_keys_while_waiting_keep_her_waiting(phone: Phone, db: Any) -> None:
    await phone.press_through("1", "1", "9", "1")  # anonymous: no callback
    reply = await phone.post("/twilio/ivr/hold-key", phone.params(Digits="1"))
    assert reply.texts("Redirect") == [f"{PUBLIC_URL}/twilio/ivr/wait"]
    _, contact, _ = await the_call(db, phone)
    assert contact.ended_at is None


# --- signatures -------------------------------------------------------------------------


async def bad_signatures(db: Any) -> list[AuditEvent]:
    async with db() as session:
        return list(
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "twilio.bad_signature")
                )
            ).scalars()
        )


@pytest.mark.parametrize("how", ["missing", "wrong", "other_url", "other_host", "other_form"])
async def test_unsigned_or_forged_requests_are_refused_and_change_nothing(
    phone: Phone, db: Any, settings: Any, how: str
) -> None:
    from twilio.request_validator import RequestValidator

    reply = await phone.press_through("1", "1", "9")  # the next answer would queue her
    action = reply.first("Gather").get("action", "")
    form = phone.params(Digits="1")
    validator = RequestValidator(settings.twilio_auth_token)
    signature = {
        "missing": "",
        "wrong": RequestValidator("not-the-token-at-all").compute_signature(action, form),
        "other_url": validator.compute_signature(action.replace("anonymous", "callback"), form),
        "other_host": validator.compute_signature(
            action.replace(PUBLIC_URL, "https://evil.example.org"), form
        ),
        "other_form": validator.compute_signature(action, {**form, "Digits": "2"}),
    }[how]
    refused = await phone.post(action, form, signature=signature)
    assert refused.status == 403
    assert '"bad_signature"' in refused.text
    assert await count_contacts(db) == 0
    events = await bad_signatures(db)
    assert len(events) == 1
    event = events[0]
    assert event.actor_kind == "twilio" and event.object_id == "/twilio/ivr/anonymous"
    assert event.detail == {"reason": "missing" if how == "missing" else "wrong"}
    assert "3001234567" not in str(event.detail) + str(event.object_id)


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/status", "/twilio/ivr/wait"])
async def test_every_webhook_checks_the_signature(phone: Phone, db: Any, path: str) -> None:
    assert (await phone.post(path, signature="")).status == 403
    assert len(await bad_signatures(db)) == 1


async def test_a_flood_of_forged_requests_is_audited_a_few_times_then_summed_up(
    phone: Phone, db: Any, app: Any, clock: Any
) -> None:
    async def summaries() -> list[AuditEvent]:
        async with db() as session:
            query = select(AuditEvent).where(AuditEvent.action == "twilio.bad_signature_summary")
            return list((await session.scalars(query)).all())

    for _ in range(AUDITED + 7):
        assert (await phone.post("/twilio/voice", signature="")).status == 403
    assert len(await bad_signatures(db)) == AUDITED  # the first few, one by one
    assert await summaries() == []  # the rest are counted until the window is over
    clock.advance(WINDOW)
    assert await write_summaries(app, clock().timestamp()) == 1  # the background flush
    (summary,) = await summaries()
    assert summary.address == "127.0.0.1" and summary.object_id == "/twilio/voice"
    assert (summary.detail["more"], summary.detail["window_seconds"]) == (7, WINDOW)
    assert (await phone.post("/twilio/status", signature="")).status == 403  # a new window
    assert len(await bad_signatures(db)) == AUDITED + 1
    assert await write_summaries(app, clock().timestamp() + WINDOW) == 0  # nothing counted


def test_the_forgery_log_stays_bounded_and_loses_no_count() -> None:
    forgeries = ForgeryLog(audited=1, window=60.0, max_keys=3)
    for n in range(10):
        assert forgeries.note(f"10.0.0.{n}", "/twilio/voice", 0.0)
        assert not forgeries.note(f"10.0.0.{n}", "/twilio/voice", 0.0)
    early = forgeries.due(0.0)  # closed early to stay within max_keys
    assert len(forgeries._windows) == 3
    assert sum(s.more for s in early + forgeries.due(60.0)) == 10


async def test_without_a_twilio_account_the_webhooks_are_off(
    aiohttp_client: Any, settings: Any, clock: Any
) -> None:
    from safecall.app import create_app

    off = dataclasses.replace(settings, twilio_account_sid=None, twilio_auth_token=None)
    client = await aiohttp_client(create_app(off, clock=clock))
    response = await client.post("/twilio/voice", data={"CallSid": "CA" + "0" * 32})
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "ivr_off"


async def test_a_request_without_a_call_sid_is_refused(phone: Phone, db: Any) -> None:
    reply = await phone.post("/twilio/voice", {"From": CALLER})
    assert reply.status == 400
    assert await count_contacts(db) == 0


async def test_a_stopping_process_keeps_nothing_and_tries_again_after_a_hold(
    phone: Phone, db: Any, app: Any
) -> None:
    """The line cannot take her on this turn: nothing of her contact is kept (no case,
    no session, no call), she hears the hold music, and Twilio asks again."""
    from signaling.routes import HUB

    app[HUB].draining = True  # this process is shutting down
    reply = await phone.press_through("1", "1", "2", "1")  # harassment
    assert reply.status == 200 and not reply.all("Hangup")
    assert any(url.endswith("/common/hold.wav") for url in reply.texts("Play"))
    again = reply.texts("Redirect")[-1]
    assert again.startswith(f"{PUBLIC_URL}/twilio/ivr/enqueue?")
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(ContactSession)) == 0
        assert await session.scalar(select(func.count()).select_from(Case)) == 0
        assert await session.get(PhoneCall, phone.call_sid) is None
    app[HUB].draining = False  # the next turn (on a live process) puts her in line
    assert_holding(await phone.post(again))
    _, contact, case = await the_call(db, phone)
    assert app[ROUTER].placement(contact.id).status == "waiting"
    assert app[ROUTER].board.tasks[contact.id].category == "harassment"
    assert case.category == "harassment"
    assert_holding(await phone.post(again))  # Twilio repeated it: still one contact
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(ContactSession)) == 1
