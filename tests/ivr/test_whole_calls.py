"""Whole calls through the Twilio emulator (tests/twilio/): the app over https, the real
``twilio`` library on both sides of the contract, the caller scripted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from cases.models import Case, ContactSession
from ivr.models import PhoneCall
from queues.model import OfficerProfile, Presence
from queues.service import ROUTER

CALLER = "+923001234567"


async def phone_call(db: Any, call_sid: str) -> tuple[PhoneCall, ContactSession]:
    for _ in range(250):
        async with db() as session:
            call = await session.get(PhoneCall, call_sid)
            if call is not None:
                contact = await session.get(ContactSession, call.session_id)
                assert contact is not None
                return call, contact
        await asyncio.sleep(0.02)
    raise AssertionError("the call never reached the line")


async def until(check: Any, what: str) -> None:
    for _ in range(300):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def test_a_caller_goes_through_the_menu_and_reaches_an_officer(
    https_app: Any, db: Any
) -> None:
    cloud, app = https_app.cloud, https_app.app
    call = await cloud.incoming_call(from_=CALLER)
    prompt = await call.gather()
    assert [h.value.split("/")[-2] for h in prompt.heard if h.verb == "play"] == ["ur", "en", "pa"]
    await call.press("2")  # English
    await call.gather()
    await call.speak("the women's line please")
    await call.gather()
    await call.press("9")  # skip the category
    await call.gather()
    await call.press("2")  # give the number
    await call.gather()
    await call.press("1")  # safe to call back
    await call.wait_for(lambda heard: any(h.value.endswith("/common/hold.wav") for h in heard))
    _, contact = await phone_call(db, call.sid)
    assert (contact.channel, contact.language, contact.anonymous) == ("phone", "en", False)
    router = app[ROUTER]
    assert router.placement(contact.id).status == "waiting"

    # An officer comes on and accepts: the call leaves the hold loop for the media bridge.
    await router.register(
        OfficerProfile(
            id=7001, gender="female", lines=frozenset({"women"}), languages=frozenset({"en"})
        )
    )
    await router.set_presence(7001, Presence.AVAILABLE)
    await router.accept(contact.id, 7001)
    stream = await call.wait_stream()
    assert stream.parameters.get("token")
    update = [r for r in cloud.requests if r.path.endswith(f"/Calls/{call.sid}.json")]
    assert update, "the call was not updated through the Calls resource"

    async def bridged() -> bool:
        async with db() as session:
            found = await session.get(PhoneCall, call.sid)
            return found is not None and found.state == "bridged"

    await until(bridged, "the call is marked bridged")
    assert "923001234567" not in " ".join(r.url for r in call.requests)


async def test_a_silent_caller_is_queued_silent(https_app: Any, db: Any) -> None:
    call = await https_app.cloud.incoming_call(from_=CALLER)
    await call.stay_silent(times=3)
    await call.wait_for(lambda heard: any(h.value.endswith("/silent_queued.wav") for h in heard))
    _, contact = await phone_call(db, call.sid)
    assert contact.silent is True and contact.service_line == "women"


async def test_hanging_up_while_waiting_leaves_a_callback(https_app: Any, db: Any) -> None:
    cloud, app = https_app.cloud, https_app.app
    call = await cloud.incoming_call(from_=CALLER)
    for key in ("1", "1", "2", "2", "1"):
        await call.gather()
        await call.press(key)
    await call.wait_for(lambda heard: any(h.value.endswith("/common/hold.wav") for h in heard))
    _, contact = await phone_call(db, call.sid)
    await call.hang_up()

    async def abandoned() -> bool:
        async with db() as session:
            found = await session.get(ContactSession, contact.id)
            return found is not None and found.disposition == "abandoned"

    await until(abandoned, "the contact is abandoned")
    callbacks = [t for t in app[ROUTER].board.tasks.values() if t.is_callback]
    assert [t.session_id for t in callbacks] == [contact.id]
    # Twilio repeating the status callback changes nothing.
    await call.replay_last_webhook()
    async with db() as session:
        count = len(list((await session.execute(select(ContactSession.id))).scalars()))
    assert count == 1
    assert len([t for t in app[ROUTER].board.tasks.values() if t.is_callback]) == 1


async def test_a_forged_call_is_refused(https_app: Any, db: Any) -> None:
    cloud = https_app.cloud
    call = await cloud.incoming_call(from_=CALLER, signature_token="x" * 32)
    await asyncio.wait_for(call.ended.wait(), 10)
    errors = cloud.take_errors()  # Twilio reports the refused webhook (and status callback)
    assert any("403" in str(error) and "/twilio/voice" in str(error) for error in errors)
    async with db() as session:
        assert list((await session.execute(select(PhoneCall.call_sid))).scalars()) == []


async def test_a_repeated_webhook_opens_one_contact(https_app: Any, db: Any) -> None:
    call = await https_app.cloud.incoming_call(from_=CALLER)
    for key in ("1", "1", "9"):
        await call.gather()
        await call.press(key)
    await call.gather()
    await call.press("1")  # anonymous: the end of the menu
    await call.wait_for(lambda heard: any(h.value.endswith("/common/hold.wav") for h in heard))
    await phone_call(db, call.sid)
    replayed = await call.replay_last_webhook()
    assert replayed.status == 200
    async with db() as session:
        assert len(list((await session.execute(select(ContactSession.id))).scalars())) == 1


@pytest.mark.parametrize(
    ("script", "expect"),
    [
        # (what the caller does, (line, language, silent, anonymous, category))
        (("k1", "k1", "k1", "k2", "k2"), ("women", "ur", False, False, "domestic_violence")),
        (("k3", "k2", "s", "k4", "k1"), ("child", "pa", False, True, "missing_child")),
        (("k2", "k7", "k8", "k9"), ("women", "en", False, True, None)),  # wrong keys, then general
        (("k2", "k1", "k0"), ("women", "en", True, True, None)),  # the silent key
        (("wenglish", "wchild", "wskip", "wanonymous"), ("child", "en", False, True, None)),
    ],
)
async def test_menu_paths_end_in_line(
    https_app: Any, db: Any, script: tuple[str, ...], expect: tuple[Any, ...]
) -> None:
    call = await https_app.cloud.incoming_call(from_=CALLER)
    for step in script:
        await call.gather()
        kind, value = step[0], step[1:]
        if kind == "k":
            await call.press(value)
        elif kind == "w":
            await call.speak(value)
        else:
            await call.stay_silent()
    await call.wait_for(lambda heard: any(h.value.endswith("/common/hold.wav") for h in heard))
    _, contact = await phone_call(db, call.sid)
    async with db() as session:
        case = await session.get(Case, contact.case_id)
    assert case is not None
    got = (contact.service_line, contact.language, contact.silent, contact.anonymous, case.category)
    assert got == expect
    assert not [h for h in call.heard if h.verb == "hangup"]


async def test_tracking_a_case_by_phone(https_app: Any, db: Any) -> None:
    from datetime import UTC, datetime

    from cases.sessions import open_case
    from safecall.state import DATA_KEY

    async with db() as session, session.begin():
        case = await open_case(
            session, https_app.app[DATA_KEY], service_line="women", now=datetime.now(UTC)
        )
        code = case.tracking_code
    call = await https_app.cloud.incoming_call(from_=CALLER)
    await call.gather()
    await call.press("2")
    await call.gather()
    await call.press("3")  # track a case
    await call.gather()
    await call.press(code + "#")
    await call.gather()
    await call.press("#")  # no PIN
    heard = await call.wait_for(
        lambda heard: any(h.value.endswith("/en/status_received.wav") for h in heard)
    )
    assert code not in " ".join(r.url for r in call.requests)
    await call.gather()  # the line question again: she may still talk to an officer
    del heard
