"""Twilio Messaging as the tests' cloud plays it: the Messages resource, delivery receipts,
inbound SMS and WhatsApp with media, STOP, and WhatsApp's 24-hour window.

Built from the documented contract:

* https://www.twilio.com/docs/messaging/api/message-resource — ``POST .../Messages.json``
  (To, From | MessagingServiceSid, Body | ContentSid (+ContentVariables) | MediaUrl,
  StatusCallback); 201 with ``status`` "queued"; then, as the carrier answers, ``sent`` and
  ``delivered`` (or ``undelivered``/``failed`` with an ErrorCode) to the StatusCallback;
* https://www.twilio.com/docs/messaging/guides/track-outbound-message-status — the receipt's
  parameters: AccountSid, ApiVersion, From, To, MessageSid, MessageStatus, SmsSid,
  SmsStatus, ErrorCode on failure; signed like every webhook;
* https://www.twilio.com/docs/messaging/guides/webhook-request — an inbound message's
  parameters: MessageSid, SmsSid, SmsMessageSid, AccountSid, From, To, Body, NumMedia,
  NumSegments, MediaContentType{N}, MediaUrl{N}, ApiVersion, SmsStatus=received; WhatsApp
  adds ProfileName and WaId; the app answers TwiML (``<Response>``, ``<Message>``);
* https://www.twilio.com/docs/messaging/api/media-resource — a message's media at
  ``/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}`` (Basic auth);
* https://help.twilio.com/articles/223134027 (Advanced Opt-Out defaults) — on SMS, STOP,
  STOPALL, UNSUBSCRIBE, CANCEL, END or QUIT alone in a message opts the sender out: Twilio
  answers it itself, still passes the message to the app (with OptOutType=STOP), and refuses
  later messages to that number with error 21610; START, UNSTOP or YES opts back in;
* https://www.twilio.com/docs/whatsapp/key-concepts#the-24-hour-window — free text to a
  WhatsApp user only within 24 hours of their last message; otherwise an approved template
  (ContentSid), or the message fails with error 63016.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from aiohttp import web

from tests.twilio.call import new_sid, rfc2822
from tests.twilio.errors import TwilioError

if TYPE_CHECKING:
    from tests.twilio.cloud import TwilioCloud

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
OPT_OUT_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages from "
    "this number. Reply START to resubscribe."
)
WINDOW_SECONDS = 24 * 3600


@dataclass
class Inbound:
    """A message someone sent to one of our numbers, and how the app answered its webhook."""

    sid: str
    params: dict[str, str]
    status: int | None = None
    replies: list[str] = field(default_factory=list)
    """Bodies of the ``<Message>`` verbs the app answered with."""


def error(status: int, code: int, message: str) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status)


def _address(value: str) -> tuple[str, str]:
    """("whatsapp", "+92...") or ("sms", "+92...")."""
    if value.startswith("whatsapp:"):
        return "whatsapp", value.removeprefix("whatsapp:")
    return "sms", value


class Messaging:
    """The messaging side of the cloud (``cloud.messaging``)."""

    def __init__(self, cloud: TwilioCloud) -> None:
        self.cloud = cloud
        self.url: str | None = None
        """The numbers' "A message comes in" webhook (set by ``serve_https``)."""
        self.whatsapp_senders: set[str] = set()
        """Our WhatsApp senders (``whatsapp:+1415...``): the only valid WhatsApp From."""
        self.templates: dict[str, str] = {}
        """Approved templates: ContentSid -> text with {{1}}, {{2}}... variables."""
        self.opted_out: set[tuple[str, str]] = set()
        """(her number, our number) pairs that said STOP on SMS."""
        self.outcomes: dict[str, tuple[str, int | None]] = {}
        """Her number -> what the carrier does with messages to it: ("undelivered", 30003)..."""
        self.last_from: dict[str, float] = {}
        """Her WhatsApp number -> when she last wrote (monotonic seconds)."""
        self.inbound: list[Inbound] = []
        self.media: dict[str, tuple[str, bytes]] = {}
        """Media sid -> (content type, bytes)."""
        self.receipts: list[dict[str, str]] = []
        """Every delivery receipt sent to the app."""
        self.delivered = asyncio.Event()

    # -- the Messages resource ----------------------------------------------------------------

    def create(self, one: dict[str, str]) -> web.Response:
        cloud = self.cloud
        to, from_ = one.get("To", ""), one.get("From", "")
        body, content_sid = one.get("Body", ""), one.get("ContentSid")
        if not to:
            return error(400, 21604, "A 'To' phone number is required.")
        channel, number = _address(to)
        if not E164.fullmatch(number):
            return error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_ and not one.get("MessagingServiceSid"):
            return error(400, 21603, "A 'From' phone number is required.")
        if channel == "whatsapp":
            if from_ not in self.whatsapp_senders:
                return error(
                    400, 63007, f"Twilio could not find a Channel with the From address {from_}"
                )
        elif from_ and from_ not in cloud.owned_numbers:
            return error(
                400,
                21606,
                f"The From phone number {from_} is not a valid, SMS-capable inbound phone number "
                "or short code for your account.",
            )
        if content_sid is not None:
            template = self.templates.get(content_sid)
            if template is None:
                return error(400, 21655, "The ContentSid is Invalid.")
            try:
                variables = json.loads(one.get("ContentVariables", "{}"))
            except ValueError:
                return error(400, 21656, "The ContentVariables Parameter is invalid.")
            body = re.sub(r"\{\{(\d+)\}\}", lambda m: str(variables.get(m.group(1), "")), template)
        if not body and "MediaUrl" not in one:
            return error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        callback = one.get("StatusCallback")
        if callback is not None and not _absolute(callback):
            return error(400, 21609, f"The StatusCallback URL {callback} is not a valid URL.")
        if channel == "sms" and (number, from_) in self.opted_out:
            return error(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = new_sid("SM")
        now = rfc2822(datetime.now(UTC))
        message = {
            "account_sid": cloud.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_ or None,
            "messaging_service_sid": one.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(max(1, -(-len(body) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{cloud.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{cloud.account_sid}/Messages/{sid}.json",
        }
        cloud.messages.append(message)
        outcome = self.outcomes.get(number, ("delivered", None))
        if channel == "whatsapp" and content_sid is None:
            last = self.last_from.get(number)
            if last is None or time.monotonic() - last > WINDOW_SECONDS:
                outcome = ("failed", 63016)
        cloud.keep(asyncio.create_task(self._progress(message, callback, outcome)))
        return web.json_response(message, status=201)

    async def _progress(
        self, message: dict[str, Any], callback: str | None, outcome: tuple[str, int | None]
    ) -> None:
        final, code = outcome
        steps = ["failed"] if final == "failed" else ["sent", final]
        for status in steps:
            await asyncio.sleep(0.01)
            message["status"] = status
            message["date_updated"] = rfc2822(datetime.now(UTC))
            if status == "sent":
                message["date_sent"] = message["date_updated"]
            if code is not None and status in ("failed", "undelivered"):
                message["error_code"] = code
            if callback is None:
                continue
            params = {
                "AccountSid": self.cloud.account_sid,
                "ApiVersion": "2010-04-01",
                "From": message["from"] or "",
                "To": message["to"],
                "MessageSid": message["sid"],
                "MessageStatus": status,
                "SmsSid": message["sid"],
                "SmsStatus": status,
            }
            if code is not None and status in ("failed", "undelivered"):
                params["ErrorCode"] = str(code)
            self.receipts.append(params)
            try:
                answer = await self.cloud.signed_request("POST", callback, params, kind="status")
            except Exception as exc:  # recorded as Twilio's debugger would
                self.cloud.errors.append(TwilioError(11200, f"status callback: {exc}", callback))
                continue
            if not 200 <= (answer.status or 0) < 300:
                self.cloud.errors.append(
                    TwilioError(11200, f"status callback answered {answer.status}", callback)
                )
        self.delivered.set()

    def fetch_media(self, request: web.Request) -> web.Response:
        found = self.media.get(request.match_info["media"])
        if found is None:
            return error(404, 20404, f"The requested resource {request.path} was not found")
        content_type, data = found
        return web.Response(body=data, content_type=content_type)

    # -- someone writes to us --------------------------------------------------------------

    async def incoming(
        self,
        from_: str,
        body: str = "",
        *,
        to: str | None = None,
        whatsapp: bool = False,
        media: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
        profile_name: str = "",
        signature_token: str | None = None,
    ) -> Inbound:
        """She sends ``body`` (and ``media``: (content type, bytes) each) from ``from_``; the
        app's webhook gets it signed, as Twilio sends it. Returns once the app answered."""
        cloud = self.cloud
        assert self.url, "set cloud.messaging.url (the number's messaging webhook)"
        ours = to or (
            next(iter(self.whatsapp_senders)) if whatsapp else sorted(cloud.owned_numbers)[0]
        )
        sid = new_sid("MM" if media else "SM")
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": cloud.account_sid,
            "From": f"whatsapp:{from_}" if whatsapp else from_,
            "To": ours if (not whatsapp or ours.startswith("whatsapp:")) else f"whatsapp:{ours}",
            "Body": body,
            "NumMedia": str(len(media)),
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        for index, (content_type, data) in enumerate(media):
            media_sid = new_sid("ME")
            self.media[media_sid] = (content_type, data)
            params[f"MediaContentType{index}"] = content_type
            params[f"MediaUrl{index}"] = (
                f"https://api.twilio.com/2010-04-01/Accounts/{cloud.account_sid}"
                f"/Messages/{sid}/Media/{media_sid}"
            )
        if whatsapp:
            params["ProfileName"] = profile_name
            params["WaId"] = from_.lstrip("+")
            self.last_from[from_] = time.monotonic()
        word = body.strip().upper()
        if not whatsapp and word in OPT_OUT:
            self.opted_out.add((from_, params["To"]))
            params["OptOutType"] = "STOP"
            cloud.messages.append(
                {
                    "from": params["To"],
                    "to": from_,
                    "body": OPT_OUT_REPLY,
                    "direction": "outbound-reply",
                    "status": "delivered",
                }
            )
        elif not whatsapp and word in OPT_IN:
            self.opted_out.discard((from_, params["To"]))
            params["OptOutType"] = "START"
        record = Inbound(sid, params)
        self.inbound.append(record)
        answer = await cloud.signed_request(
            "POST", self.url, params, token=signature_token, kind="message"
        )
        record.status = answer.status
        if answer.status == 200 and answer.body:
            record.replies = _replies(answer.body, cloud)
        elif answer.status is None or not 200 <= answer.status < 300:
            cloud.errors.append(TwilioError(11200, f"HTTP {answer.status} answer", self.url))
        return record


def _replies(body: bytes, cloud: TwilioCloud) -> list[str]:
    """The ``<Message>`` bodies of a MessagingResponse; anything else is error 12200."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        cloud.errors.append(TwilioError(12100, "the messaging answer is not XML"))
        return []
    if root.tag != "Response":
        cloud.errors.append(TwilioError(12200, f"root <{root.tag}>, not <Response>"))
        return []
    replies = []
    for child in root:
        if child.tag != "Message":
            cloud.errors.append(TwilioError(12200, f"<{child.tag}> in a messaging answer"))
            continue
        replies.append("".join(child.itertext()).strip())
    return replies


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
