"""``TwilioCloud``: the emulated Twilio a test talks to, on 127.0.0.1.

It is two things at once, as Twilio is:

* a REST server (plain http on a free loopback port; ``rest_base``) with the
  Calls and Messages resources (see tests/twilio/rest.py), which the app's real
  ``twilio.rest.Client`` reaches through an http client that swaps
  https://api.twilio.com for ``rest_base``;
* a telephone network that calls the app: signed webhooks
  (https://www.twilio.com/docs/usage/webhooks/webhooks-security), TwiML
  executed strictly (tests/twilio/call.py, tests/twilio/twiml.py), Media Streams
  over wss (tests/twilio/stream.py).

Every Twilio error is recorded in ``cloud.errors`` and raised to the test as
``CallFailed`` by the call's waiting methods; the ``twilio_cloud`` fixture fails
the test at teardown on any error the test never saw (``take_errors()`` to
expect them).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import ssl
import string
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from aiohttp import web

from tests.twilio import rest
from tests.twilio.call import Call, Document, WebhookRequest, _Fetch, _Outcome
from tests.twilio.conference import Conferences
from tests.twilio.errors import Fail, TwilioError
from tests.twilio.messaging import Messaging
from tests.twilio.signing import SIGNATURE_HEADER, signature
from tests.twilio.twiml import parse

TWILIO_TEST_CALLER_ID = "+15005550006"
"""Twilio's documented magic "From" number for test credentials
(https://www.twilio.com/docs/iam/test-credentials)."""


@dataclass
class RestRequest:
    """One request the app made to the REST API, and the answer it got."""

    method: str
    path: str
    params: dict[str, list[str]]
    status: int
    body: str


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class TwilioCloud:
    """Emulated Twilio: ``await cloud.start()``, use, ``await cloud.close()``.

    Settings (all keyword arguments, all attributes you may change later):
    ``voice_url`` / ``status_callback``: the phone number's configuration
    (where incoming calls and their completed callback go);
    ``ssl_context``: what the "Twilio side" trusts when calling https/wss;
    ``webhook_timeout``: seconds an app has to answer a webhook (Twilio: 15);
    ``time_scale``: real seconds per simulated second of Pause/Play/Say (and of a
    Gather timeout when the caller stays silent); ``wait_timeout``: default limit of
    the calls' ``wait_*``/``gather``/``press`` (a safety net, not a timing check);
    ``stream_silence``: send silence frames between test audio, as a phone line does.
    """

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        voice_url: str | None = None,
        status_callback: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        webhook_timeout: float = 15.0,
        time_scale: float = 0.01,
        wait_timeout: float = 10.0,
        stream_silence: bool = True,
        max_webhooks: int = 1000,
    ) -> None:
        alphabet = string.ascii_letters + string.digits
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or "".join(secrets.choice(alphabet) for _ in range(32))
        self.voice_url = voice_url
        self.status_callback = status_callback
        self.ssl_context = ssl_context
        self.webhook_timeout = webhook_timeout
        self.time_scale = time_scale
        self.wait_timeout = wait_timeout
        self.stream_silence = stream_silence
        self.max_webhooks = max_webhooks
        self.proxies: dict[str, str] = {}
        """Public host -> host:port where the app is served in plain http: a reverse proxy that
        ends TLS in front of it. Twilio signs for, and is told, the public ``https``/``wss``
        URL; its requests and streams reach ``http``/``ws`` at the other address."""
        self.owned_numbers: set[str] = {TWILIO_TEST_CALLER_ID}
        """Numbers the account owns: the only valid From of REST calls and messages."""
        self.calls: dict[str, Call] = {}
        self.requests: list[RestRequest] = []
        """Every REST request the app made, in order."""
        self.messages: list[dict[str, Any]] = []
        """Every SMS created, as Message resource JSON (``to``, ``from``, ``body``, ``sid``...)."""
        self.webhooks: list[WebhookRequest] = []
        """Every request the emulator made to the app, in order."""
        self.errors: list[TwilioError] = []
        self.conferences = Conferences(self)
        """Conference rooms of ``<Dial><Conference>`` (tests/twilio/conference.py)."""
        self.messaging = Messaging(self)
        """Twilio Messaging: inbound texts, receipts, STOP, WhatsApp (tests/twilio/messaging.py)."""
        self.rest_base = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: deque[_Outcome] = deque()
        self._outbound: deque[Call] = deque()
        self._outbound_added = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(rest.routes(self))
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = _free_socket()
        await web.SockSite(self._runner, sock).start()
        self.rest_base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())

    async def hang_up_all(self) -> None:
        """End every live call as if the caller hung up (streams get ``stop``, the app its
        completed callback); returns when all have ended."""
        for call in list(self.calls.values()):
            if not call.ending:
                call.finish("completed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain(), 10)

    async def close(self) -> None:
        """Hang up every live call, then stop serving. Safe to call twice."""
        await self.hang_up_all()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _drain(self) -> None:
        for call in list(self.calls.values()):
            with contextlib.suppress(Exception):
                await call.ended.wait()

    async def __aenter__(self) -> TwilioCloud:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "start() the cloud first"
        return self._session

    def reach(self, url: str) -> str:
        """Where a request to ``url`` really goes (through ``proxies``)."""
        parts = urlsplit(url)
        served = self.proxies.get(parts.netloc)
        if served is None:
            return url
        scheme = {"https": "http", "wss": "ws"}.get(parts.scheme, parts.scheme)
        return urlunsplit((scheme, served, parts.path, parts.query, parts.fragment))

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold a background task until it is done (and cancel it on close)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- calls -----------------------------------------------------------------------------------

    def new_call(self, **kwargs: Any) -> Call:
        call = Call(self, **kwargs)
        self.calls[call.sid] = call
        return call

    async def incoming_call(
        self,
        from_: str = "+923001234567",
        to: str = "+9215",
        *,
        url: str | None = None,
        method: str = "POST",
        status_callback: str | None = None,
        status_events: tuple[str, ...] = ("completed",),
        signature_token: str | None = None,
        forwarded_from: str | None = None,
        caller_name: str | None = None,
        twiml: str | None = None,
    ) -> Call:
        """Someone dials ``to``: Twilio requests the voice URL (``url`` or ``voice_url``) with
        CallStatus=ringing, and runs the TwiML in the background. Returns at once.

        ``status_events``: a number's status callback gets ``completed`` only; add
        "ringing" / "answered" to emulate a callback configured for more.
        ``signature_token``: sign with another token (a forged request).
        ``twiml``: the number runs a TwiML Bin instead of a voice URL
        (https://www.twilio.com/docs/serverless/twiml-bins): this document, hosted by
        Twilio, so no request reaches an app (relative URLs in it are refused, 12200)."""
        target = url or self.voice_url
        if not target and twiml is None:
            raise AssertionError(
                "set cloud.voice_url (the number's Voice URL), or pass url= or twiml="
            )
        extra = {}
        if forwarded_from:
            extra["ForwardedFrom"] = forwarded_from
        if caller_name:
            extra["CallerName"] = caller_name
        call = self.new_call(
            from_=from_,
            to=to,
            direction="inbound",
            status_callback=status_callback or self.status_callback,
            status_events=status_events,
            signature_token=signature_token,
            extra_params=extra,
        )
        call.start(Document("", parse(twiml)) if twiml is not None else _Fetch(str(target), method))
        return call

    def answer_next_outbound(
        self, outcome: str = "answered", *, answered_by: str | None = None
    ) -> None:
        """Decide now what happens to the next call the app places through REST:
        "answered", "no-answer", "busy" or "failed" (queued: one per call)."""
        if outcome not in ("answered", "no-answer", "busy", "failed"):
            raise ValueError(outcome)
        self._outcomes.append(_Outcome(outcome, answered_by))

    def dialled(self, call: Call) -> None:
        """A REST-created call is ringing; apply a queued outcome, if any."""
        if self._outcomes:
            call._decide(self._outcomes.popleft())
        self._outbound.append(call)
        self._outbound_added.set()

    async def next_outbound(self, limit: float | None = None) -> Call:
        """The next call the app placed through REST (each one is returned once, in order)."""
        async with asyncio.timeout(self.wait_timeout if limit is None else limit):
            while not self._outbound:
                self._outbound_added.clear()
                await self._outbound_added.wait()
        return self._outbound.popleft()

    def call(self, sid: str) -> Call:
        return self.calls[sid]

    def take_errors(self) -> list[TwilioError]:
        """Every Twilio error so far, marked seen (the test expected them)."""
        for error in self.errors:
            error.seen = True
        return list(self.errors)

    def unseen_errors(self) -> list[TwilioError]:
        return [e for e in self.errors if not e.seen]

    # -- http to the app ------------------------------------------------------------

    async def request(
        self,
        call: Call,
        method: str,
        url: str,
        params: dict[str, str],
        *,
        kind: str,
        idempotency_token: str | None = None,
    ) -> WebhookRequest:
        """A signed request to the app about ``call``; raises Fail on no answer in time."""
        token = call.signature_token or self.auth_token
        record = await self.signed_request(
            method, url, params, token=token, kind=kind, idempotency_token=idempotency_token
        )
        call.requests.append(record)
        return record

    async def signed_request(
        self,
        method: str,
        url: str,
        params: dict[str, str] | None = None,
        *,
        token: str | None = None,
        kind: str = "manual",
        idempotency_token: str | None = None,
    ) -> WebhookRequest:
        """Send one request as Twilio would (form POST or GET with a query string), signed with
        ``token`` (default: the account's). For tests that craft webhooks by hand."""
        params = dict(params or {})
        method = method.upper()
        if method == "GET" and params:
            url = url + ("&" if "?" in url else "?") + urlencode(params)
        signed = signature(token or self.auth_token, url, () if method == "GET" else params.items())
        headers = {
            SIGNATURE_HEADER: signed,
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "I-Twilio-Idempotency-Token": idempotency_token or str(uuid.uuid4()),
        }
        record = WebhookRequest(
            kind, method, url, params, signed, headers["I-Twilio-Idempotency-Token"]
        )
        self.webhooks.append(record)
        try:
            async with self.session.request(
                method,
                self.reach(url),
                data=params if method == "POST" else None,
                headers=headers,
                ssl=self.ssl_context or True,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                record.status = response.status
                record.content_type = response.content_type
                record.body = await response.read()
        except TimeoutError:
            raise Fail(
                TwilioError(
                    11205,
                    f"no answer within {self.webhook_timeout:g} s (Twilio's webhook timeout)",
                    url,
                )
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise Fail(TwilioError(11205, f"HTTP connection failure: {exc}", url)) from None
        return record


__all__ = ["TWILIO_TEST_CALLER_ID", "Document", "RestRequest", "TwilioCloud"]
