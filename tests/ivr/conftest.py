"""Fixtures for the phone line: a server with a Twilio account, and Twilio's signed form posts.

Until whole calls run through the emulator (tests/twilio/), webhooks are
driven the way Twilio sends them: form-encoded POSTs to the public URL,
signed with the real ``RequestValidator.compute_signature``.
"""

from __future__ import annotations

import dataclasses
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from cases.models import ContactSession
from safecall.settings import Settings
from tests.twilio.twiml import parse

PUBLIC_URL = "https://helpline.example.org"
CALLER = "+923001234567"


@dataclass
class CallsResource:
    """Twilio's Calls resource, as far as these tests need it (the emulator in
    tests/twilio/ does all of it): ``POST Calls/{CallSid}.json`` updates a live call.

    https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource:
    HTTP Basic auth with the account SID and auth token, form-encoded ``Twiml`` /
    ``Url`` / ``Status``; the answer is the call as JSON.
    """

    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    updates: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    failing: bool = False
    """Answer 500 (Twilio unreachable) instead."""
    base: str = ""

    async def update(self, request: web.Request) -> web.Response:
        expected = aiohttp.encode_basic_auth(self.account_sid, self.auth_token)
        if request.headers.get("Authorization") != expected:
            return web.json_response(
                {"code": 20003, "message": "Authenticate", "more_info": "", "status": 401},
                status=401,
            )
        if request.match_info["account"] != self.account_sid:
            return web.json_response({"code": 20404, "message": "Not found"}, status=404)
        if self.failing:
            return web.json_response({"code": 20500, "message": "Internal"}, status=500)
        sid = request.match_info["sid"].removesuffix(".json")
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.updates.append((sid, form))
        return web.json_response(
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "status": form.get("Status", "in-progress"),
                "to": "+9215",
                "from": CALLER,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json",
            }
        )


@pytest.fixture
async def calls_resource() -> Any:
    resource = CallsResource()
    server = web.Application()
    server.router.add_post("/2010-04-01/Accounts/{account}/Calls/{sid}", resource.update)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    resource.base = f"http://127.0.0.1:{port}"
    yield resource
    await runner.cleanup()


@pytest.fixture
def settings(settings: Settings, calls_resource: CallsResource) -> Settings:
    return dataclasses.replace(
        settings,
        public_url=PUBLIC_URL,
        twilio_account_sid=calls_resource.account_sid,
        twilio_auth_token=calls_resource.auth_token,
        twilio_caller_id="+15005550006",
        twilio_api_base=calls_resource.base,
    )


@dataclass
class Reply:
    status: int
    text: str
    root: ET.Element | None = None

    def all(self, tag: str) -> list[ET.Element]:
        assert self.root is not None
        return list(self.root.iter(tag))

    def texts(self, tag: str) -> list[str]:
        return [(e.text or "").strip() for e in self.all(tag)]

    def first(self, tag: str) -> ET.Element:
        found = self.all(tag)
        assert found, f"no <{tag}> in {self.text}"
        return found[0]


@dataclass
class Phone:
    """Posts webhooks as Twilio does, for one call."""

    client: Any
    settings: Settings
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    caller: str = CALLER

    def params(self, **extra: str) -> dict[str, str]:
        base = {
            "CallSid": self.call_sid,
            "AccountSid": self.settings.twilio_account_sid or "",
            "From": self.caller,
            "To": "+9215",
            "Caller": self.caller,
            "Called": "+9215",
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        base.update(extra)
        return base

    async def post(
        self, url: str, params: dict[str, str] | None = None, *, signature: str | None = None
    ) -> Reply:
        """POST to ``url`` (absolute, on the public URL, or a path), signed unless told."""
        if url.startswith("/"):
            url = PUBLIC_URL + url
        form = self.params() if params is None else params
        headers = {}
        if signature is None:
            token = self.settings.twilio_auth_token or ""
            signature = RequestValidator(token).compute_signature(url, form)
        if signature:
            headers["X-Twilio-Signature"] = signature
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = await self.client.post(path, data=form, headers=headers)
        text = await response.text()
        root = None
        if response.status == 200:
            parse(text)  # strict: what Twilio would refuse fails here
            root = ET.fromstring(text)
        return Reply(response.status, text, root)

    async def call(self) -> Reply:
        return await self.post("/twilio/voice", self.params(CallStatus="ringing"))

    async def answer(self, reply: Reply, digits: str = "", speech: str = "") -> Reply:
        """Answer the reply's question (its Gather) with a key or words."""
        action = reply.first("Gather").get("action", "")
        extra = {"Digits": digits} if digits else {}
        if speech:
            extra = {"SpeechResult": speech, "Confidence": "0.9"}
        return await self.post(action, self.params(**extra))

    async def stay_silent(self, reply: Reply) -> Reply:
        """Say nothing: the Gather times out and Twilio follows the Redirect."""
        redirects = reply.texts("Redirect")
        assert redirects, f"no <Redirect> after the question in {reply.text}"
        return await self.post(redirects[-1], self.params())

    async def status(self, status: str) -> Reply:
        return await self.post("/twilio/status", self.params(CallStatus=status, CallDuration="42"))

    async def press_through(self, *keys: str) -> Reply:
        reply = await self.call()
        for key in keys:
            reply = await self.answer(reply, key)
        return reply


@pytest.fixture
def phone(client: Any, settings: Settings) -> Phone:
    return Phone(client, settings)


@pytest.fixture
def new_phone(client: Any, settings: Settings) -> Any:
    def make(caller: str = CALLER) -> Phone:
        return Phone(client, settings, caller=caller)

    return make


async def count_contacts(db: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(ContactSession)) or 0)


from tests.twilio.fixtures import https_app, twilio_cloud  # noqa: E402, F401
