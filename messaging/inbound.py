"""Texts to the centre's number (SMS) or WhatsApp sender: a channel of their own.

``POST /twilio/messaging`` (signed by Twilio) takes each message:

- STOP (and Twilio's other opt-out words; on WhatsApp, which has no opt-out of its own,
  we answer it ourselves) stops every update to that number; she is told;
- a message from a number with an open text contact held here goes to the officer's chat;
- otherwise it opens a contact on the desk (channel ``sms`` or ``whatsapp``, silent,
  anonymous, on the line of ``TEXT_LINE``: the women's line, whose officers are female),
  routed like chat, and she is told in one neutral line that it arrived.

Photos and other media she sends are fetched from Twilio at once and stored as
attachments of her case, sealed like recordings; the officer's chat says one arrived.
Her number is kept sealed (to answer her) and as a keyed hash (to find her contact
and her updates); it never reaches a log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import encode_basic_auth, web
from multidict import MultiDictProxy
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from attachments.store import ATTACHMENTS
from cases.models import ContactSession
from contacts import request as contact
from contacts.service import DESK, VOCABULARY
from ivr.signature import twilio_form, twilio_webhook
from ivr.twilio_api import TWILIO_BASE
from messaging.models import OutboundMessage, TextContact
from messaging.routes import MESSENGER
from messaging.service import BODY_FIELD, PHONE_FIELD
from messaging.text_side import TextSides
from safecall.refusals import Refusal
from safecall.state import CLOCK, DATA_KEY, DB, SETTINGS
from signaling.events import ChatPosted, HubEvent
from signaling.routes import HUB

log = logging.getLogger(__name__)

TEXT_LINE = "women"
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "بند"})
FROM_FIELD = "messaging.from"
MAX_TEXT = 2000
ARRIVED = {
    "ur": "آپ کا پیغام مل گیا ہے۔ ابھی کوئی جواب دے گا۔ خطرے میں ہوں تو 15 پر فون کریں۔",
    "en": "Your message has reached us. Someone will write back shortly. "
    "If you are in danger, call 15.",
}
STOPPED = {
    "ur": "آپ کو مزید پیغامات نہیں بھیجے جائیں گے۔",
    "en": "You will get no more messages from us.",
}
_URDU = re.compile(r"[\u0600-\u06ff]")


def twiml(*messages: str) -> web.Response:
    body = "".join(f"<Message>{escape(m)}</Message>" for m in messages)
    return web.Response(
        text=f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        content_type="application/xml",
    )


@twilio_webhook("a text (SMS or WhatsApp) to the centre: opens or continues a text contact.")
async def incoming(request: web.Request) -> web.Response:
    form = await twilio_form(request)
    app = request.app
    sender = form.get("From", "")
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    number = sender.removeprefix("whatsapp:")
    body = form.get("Body", "").strip()[:MAX_TEXT]
    language = "ur" if _URDU.search(body) else "en"
    if not number:
        return twiml()
    if body.upper() in STOP_WORDS or form.get("OptOutType") == "STOP":
        await app[MESSENGER].stop(via=f"{channel}_stop", phone=number)
        # On SMS Twilio has answered STOP itself; on WhatsApp nobody has.
        held = await _open_text(app, number, channel)
        if held is not None:
            await app[TEXT_SIDES].say(held.session_id, body)
        return twiml(STOPPED[language]) if channel == "whatsapp" else twiml()
    held = await _open_text(app, number, channel)
    first = held is None
    if held is None:
        held = await _open_contact(app, form, channel, number, language)
        if held is None:
            return twiml(
                "We cannot take messages just now. If you are in danger, call 15."
                if language == "en"
                else "ہم ابھی پیغام نہیں لے سکتے۔ خطرے میں ہوں تو 15 پر فون کریں۔"
            )
    await _note_inbound(app, held.session_id)
    sides = app[TEXT_SIDES]
    if body:
        await sides.say(held.session_id, body)
    for note in await _media(app, form, held, channel):
        await sides.say(held.session_id, note)
    return twiml(ARRIVED[language]) if first else twiml()


async def _open_text(app: web.Application, number: str, channel: str) -> TextContact | None:
    """Her open text contact on this channel, when this process holds its side."""
    phone_hash = app[DATA_KEY].phone_hash(number)
    async with app[DB]() as session:
        rows = list(
            await session.scalars(
                select(TextContact)
                .join(ContactSession, ContactSession.id == TextContact.session_id)
                .where(
                    TextContact.phone_hash == phone_hash,
                    TextContact.channel == channel,
                    TextContact.ended_at.is_(None),
                    ContactSession.ended_at.is_(None),
                )
            )
        )
    sides = app[TEXT_SIDES]
    for row in rows:
        if sides.holds(row.session_id):
            return row
    if rows:
        # Held by a process that has gone (or another node): this message opens a new
        # contact, so that nothing she writes waits unseen (docs/messaging.md, limits).
        await _closed(app, [r.session_id for r in rows])
    return None


async def _open_contact(
    app: web.Application,
    form: MultiDictProxy[str],
    channel: str,
    number: str,
    language: str,
) -> TextContact | None:
    data_key = app[DATA_KEY]
    phone_hash = data_key.phone_hash(number)
    asked = contact.contact_request(
        app[VOCABULARY],
        line=TEXT_LINE,
        channel=channel,
        language=language,
        anonymous=True,
        silent=True,
        caller_hash=phone_hash,
    )
    row = TextContact(
        channel=channel,
        phone_hash=phone_hash,
        from_sealed=data_key.seal(number, FROM_FIELD),
        to_number=form.get("To", "")[:64],
        last_inbound_at=app[CLOCK](),
        messages_in=0,
    )

    async def write(session: AsyncSession, opened: ContactSession) -> None:
        row.session_id = opened.id
        session.add(row)

    async def unwrite(session: AsyncSession, session_id: str) -> None:
        await session.execute(delete(TextContact).where(TextContact.session_id == session_id))

    try:
        opened = await app[DESK].open(asked, write=write, unwrite=unwrite)
    except Refusal as refusal:
        log.warning("messaging: a text contact could not open (%s)", refusal.code)
        return None
    await app[TEXT_SIDES].take(opened.session_id, opened.citizen_token)
    return row


async def _note_inbound(app: web.Application, session_id: str) -> None:
    async with app[DB]() as session, session.begin():
        await session.execute(
            update(TextContact)
            .where(TextContact.session_id == session_id)
            .values(last_inbound_at=app[CLOCK](), messages_in=TextContact.messages_in + 1)
        )


async def _media(
    app: web.Application, form: MultiDictProxy[str], held: TextContact, channel: str
) -> list[str]:
    """Fetch each photo (or file) she sent and keep it sealed on her case; the chat notes."""
    count = int(form.get("NumMedia", "0") or 0) if form.get("NumMedia", "0").isdigit() else 0
    notes = []
    for index in range(min(count, 10)):
        url = form.get(f"MediaUrl{index}", "")
        kind = form.get(f"MediaContentType{index}", "")
        try:
            data = await _fetch(app, url)
            async with app[DB]() as session, session.begin():
                found = await session.get(ContactSession, held.session_id)
                assert found is not None
                stored = await app[ATTACHMENTS].add(
                    session,
                    data,
                    kind,
                    case_id=found.case_id,
                    session_id=held.session_id,
                    source=channel,
                    now=app[CLOCK](),
                )
            notes.append(
                f"[She sent a {stored.media_type} ({stored.size // 1024 or 1} KB), kept sealed "
                f"in the case's evidence: {stored.id}]"
            )
        except (Refusal, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("messaging: a file she sent could not be kept (%s)", type(exc).__name__)
            notes.append("[She sent a file that could not be kept; ask her to send it again]")
    return notes


async def _fetch(app: web.Application, url: str) -> bytes:
    settings = app[SETTINGS]
    if not url.startswith(TWILIO_BASE + "/"):
        raise ValueError("a media URL outside Twilio's API")
    where = settings.twilio_api_base.rstrip("/") + url[len(TWILIO_BASE) :]
    auth = encode_basic_auth(settings.twilio_account_sid or "", settings.twilio_auth_token or "")
    timeout = aiohttp.ClientTimeout(total=20)
    async with (
        aiohttp.ClientSession(timeout=timeout) as client,
        client.get(where, headers={"Authorization": auth}) as response,
    ):
        response.raise_for_status()
        return await response.read()


async def _closed(app: web.Application, session_ids: list[str]) -> None:
    async with app[DB]() as session, session.begin():
        await session.execute(
            update(TextContact)
            .where(TextContact.session_id.in_(session_ids), TextContact.ended_at.is_(None))
            .values(ended_at=app[CLOCK]())
        )


async def _officer_wrote(app: web.Application, event: ChatPosted) -> None:
    """The officer (or a colleague she asked to join) answered a text contact: the text
    goes to her by SMS or WhatsApp."""
    if event.side not in ("officer", "colleague"):
        return
    async with app[DB]() as session:
        row = await session.get(TextContact, event.session_id)
        found = None if row is None else await session.get(ContactSession, event.session_id)
    if row is None or found is None:
        return
    data_key = app[DATA_KEY]
    number = data_key.open(row.from_sealed, FROM_FIELD)
    now: datetime = app[CLOCK]()
    async with app[DB]() as session, session.begin():
        message = OutboundMessage(
            key=f"chat:{event.session_id}:{int(now.timestamp() * 1e6)}",
            case_id=found.case_id,
            session_id=event.session_id,
            purpose="chat",
            channel=row.channel,
            to_sealed=data_key.seal(number, PHONE_FIELD),
            body_sealed=data_key.seal(event.text[:1600], BODY_FIELD),
            language=found.language,
            status="held",
            due_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(message)
        await session.flush()
        message_id = message.id
    await app[MESSENGER].send_one(message_id)


TEXT_SIDES = web.AppKey("text_sides", TextSides)


async def text_context(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx`` entry (after the hub's and the desk's): the sides of text contacts
    held here, and the officers' answers sent on."""

    async def ended(session_id: str) -> None:
        await _closed(app, [session_id])

    sides = TextSides(app[HUB], ended)
    app[TEXT_SIDES] = sides

    async def hear(event: HubEvent) -> None:
        if isinstance(event, ChatPosted):
            try:
                await _officer_wrote(app, event)
            except Exception:
                log.exception("messaging: an answer to a text contact was not sent")

    app[HUB].add_listener(hear)
    yield
    await sides.close()


def setup(app: web.Application) -> None:
    app.router.add_post("/twilio/messaging", incoming)
