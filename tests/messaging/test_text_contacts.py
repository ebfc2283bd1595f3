"""Texts to the centre: an SMS and a WhatsApp conversation answered from the console's side
(the queue's accept, the desk's answer, the officer's chat on /ws), a photo kept sealed.

Through the emulated Twilio Messaging: her messages arrive as signed webhooks, the officer's
answers leave through the Messages resource and their receipts come back.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from attachments.models import Attachment
from attachments.store import ATTACHMENTS
from cases.models import ContactSession
from messaging.models import OutboundMessage, TextContact
from tests.messaging.conftest import WHATSAPP
from tests.messaging.support import Browser, officer, until
from tests.support import FakeClock
from tests.twilio.fixtures import HttpsApp

HER = "+923004445566"
JPEG = b"\xff\xd8\xff\xe0" + b"JFIF-bruise-photo" * 64 + b"\xff\xd9"


@pytest.fixture
async def centre(
    texting: HttpsApp, db: async_sessionmaker[AsyncSession], clock: FakeClock
) -> AsyncIterator[Browser]:
    browser = await officer(texting, db, clock)
    code, _ = await browser.call("POST", "/api/queues/me/state", json={"state": "available"})
    assert code == 200
    yield browser
    await browser.close()


async def _offered(centre: Browser) -> str:
    found: list[str] = []

    async def offered() -> bool:
        code, me = await centre.call("GET", "/api/queues/me")
        offer = me.get("offer") if code == 200 else None
        if offer:
            found.append(str(offer["task_id"]))
        return bool(found)

    await until(offered)
    return found[0]


async def _answer(centre: Browser, session_id: str) -> dict[str, Any]:
    code, _ = await centre.call("POST", f"/api/queues/offers/{session_id}/accept")
    assert code == 200
    code, answered = await centre.call("POST", f"/api/contacts/{session_id}/answer")
    assert code == 200, answered
    return dict(answered)


async def _chat_from_her(page: Any, text: str) -> None:
    while True:
        message = await page.expect("chat", "peer-joined", "peer-left", "offer", "candidate")
        if message["type"] == "chat" and message["text"] == text:
            await page.ack()
            return


async def test_an_sms_conversation_with_a_photo(
    texting: HttpsApp, centre: Browser, db: async_sessionmaker[AsyncSession]
) -> None:
    cloud = texting.cloud
    first = await cloud.messaging.incoming(HER, "Meri madad karein, woh mujhe maar raha hai")
    assert first.status == 200
    assert first.replies and first.replies[0].startswith("Your message has reached us")

    session_id = await _offered(centre)
    async with db() as session:
        contact = await session.get(ContactSession, session_id)
        held = await session.get(TextContact, session_id)
    assert contact is not None and contact.channel == "sms" and contact.silent
    assert held is not None and HER.encode() not in held.from_sealed
    answered = await _answer(centre, session_id)
    assert answered["channel"] == "sms"

    console = await centre.console_socket()
    await console.join(session_id, answered["token"])
    await console.send("chat", text="I am here. Are you somewhere safe?")

    def replies() -> list[dict[str, Any]]:
        return [m for m in cloud.messages if m["to"] == HER and m["direction"] == "outbound-api"]

    async def answered_her() -> bool:
        return bool(replies())

    await until(answered_her)
    reply = replies()[-1]
    assert reply["body"] == "I am here. Are you somewhere safe?"
    assert reply["from"] == texting.settings.twilio_caller_id

    photo = await cloud.messaging.incoming(HER, "", media=[("image/jpeg", JPEG)])
    assert photo.status == 200 and photo.replies == []  # one acknowledgement per contact
    async with db() as session:
        stored = (await session.scalars(select(Attachment))).one()
    assert stored.session_id == session_id and stored.source == "sms"
    assert stored.sha256 == hashlib.sha256(JPEG).hexdigest() and stored.size == len(JPEG)
    on_disk = texting.app[ATTACHMENTS].chunks.path(stored.id, stored.blob).read_bytes()
    assert b"JFIF-bruise-photo" not in on_disk  # sealed at rest
    assert await texting.app[ATTACHMENTS].read(stored) == JPEG
    await _chat_from_her(
        console, f"[She sent a image/jpeg (1 KB), kept sealed in the case's evidence: {stored.id}]"
    )

    async def delivered() -> bool:
        async with db() as session:
            return list(await session.scalars(select(OutboundMessage.status))) == ["delivered"]

    await until(delivered)
    await console.ws.close()


async def test_a_whatsapp_conversation(
    texting: HttpsApp, centre: Browser, db: async_sessionmaker[AsyncSession]
) -> None:
    cloud = texting.cloud
    first = await cloud.messaging.incoming(HER, "مدد چاہیے", whatsapp=True, profile_name="A")
    assert first.replies[0].startswith("آپ کا پیغام مل گیا ہے")
    session_id = await _offered(centre)
    answered = await _answer(centre, session_id)
    assert answered["channel"] == "whatsapp" and answered["language"] == "ur"
    assert answered["chat"] == [{"side": "citizen", "text": "مدد چاہیے"}]

    console = await centre.console_socket()
    await console.join(session_id, answered["token"])
    again = await cloud.messaging.incoming(HER, "وہ گھر پر ہے", whatsapp=True)
    assert again.replies == []
    await _chat_from_her(console, "وہ گھر پر ہے")
    await console.send("chat", text="آپ محفوظ ہیں؟")
    await cloud.messaging.delivered.wait()
    sent = [m for m in cloud.messages if m["to"] == f"whatsapp:{HER}"]
    assert [m["body"] for m in sent] == ["آپ محفوظ ہیں؟"] and sent[0]["from"] == WHATSAPP
    assert sent[0]["status"] == "delivered"  # she wrote within 24 hours: free text allowed
    await console.ws.close()


async def test_forged_texts_are_refused(
    texting: HttpsApp, db: async_sessionmaker[AsyncSession]
) -> None:
    forged = await texting.cloud.messaging.incoming(HER, "hello", signature_token="x" * 32)
    assert forged.status == 403
    texting.cloud.take_errors()
    async with db() as session:
        assert list(await session.scalars(select(TextContact))) == []
