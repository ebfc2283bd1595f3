"""The load: citizens chatting through the documented protocol, officers driven as the
console drives them, phone calls as Twilio makes them; every answer into the ledger.

* **The balancer** plays the reverse proxy of docs/operations.md: requests spread over
  the nodes in turn; a request whose node refuses the connection is retried on another
  for up to 5 s (no sticky sessions: any node serves any request).
* **Citizens** (women's line, chat): ``POST /api/contacts`` (a 503 is tried again after
  its ``Retry-After``, as her page says "trying again"), ``/ws`` join, a few chat
  messages once the officer is there, then ``hangup``. Each from an address of her own
  (``X-Forwarded-For``: the nodes run behind the balancer with trusted forwarding).
* **Officers** (female, women's line): log in, go available, look for an offer
  (``GET /api/queues/me``, the console's fallback to its event stream), accept,
  ``POST /api/contacts/{id}/answer``, join with the token, answer every chat, and when
  the session ends ``complete`` the task and go available again (wrap-up done).
* **Phone calls** (child line, which no driven officer serves, so they wait on hold):
  signed webhooks (the real ``RequestValidator``) through the menu by the ``<Gather>``
  actions, the hold loop, and Twilio's ``completed`` status callback; open loop at a
  fixed rate of webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from bench.faults.ledger import Contact, Ledger, PhoneCall
from bench.faults.page import Page
from bench.faults.processes import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL

PASSWORD = "faults-suite-password-1"
API_TIMEOUT = aiohttp.ClientTimeout(total=10)
LOGIN_TIMEOUT = aiohttp.ClientTimeout(total=30)
"""A login checks an argon2 hash: seconds of CPU on a busy machine."""
TWILIO_TIMEOUT = aiohttp.ClientTimeout(total=15)
COOKIE = "safecall_session"
"""Twilio waits 15 s for a webhook's answer, then plays its error and hangs up."""
PHONE_KEYS = ("2", "2", "1", "1")
"""English, the child line, a category, anonymous: then she is put in line."""
THINK = 1.0
HOLD_TURNS = 3


def _address() -> str:
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class Balancer:
    """The reverse proxy: each request to the next live node; refused connections retried."""

    def __init__(self, urls: Sequence[str], ledger: Ledger) -> None:
        self.urls = list(urls)
        self.down: set[str] = set()
        self.ledger = ledger
        self._turn = itertools.count()

    def pick(self) -> str:
        live = [u for u in self.urls if u not in self.down] or self.urls
        return live[next(self._turn) % len(live)]

    async def request(
        self,
        http: aiohttp.ClientSession,
        kind: str,
        method: str,
        path: str,
        limit: aiohttp.ClientTimeout = API_TIMEOUT,
        **kwargs: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, body: JSON, text or None, headers); 0 when no node answered."""
        began = time.monotonic()
        while True:
            base = self.pick()
            try:
                async with http.request(method, base + path, timeout=limit, **kwargs) as r:
                    text = await r.text()
                    kind_of = r.headers.get("Content-Type", "")
                    entry = self.ledger.answer(
                        kind, r.status, kind_of, "Retry-After" in r.headers, text, began
                    )
                    body: Any = text
                    if "json" in kind_of:
                        with contextlib.suppress(ValueError):
                            body = await r.json(content_type=None)
                        if r.status >= 400 and isinstance(body, dict):
                            entry.code = str((body.get("error") or {}).get("code", ""))
                    return r.status, body, dict(r.headers)
            except aiohttp.ClientConnectorError:
                if time.monotonic() - began < 5.0:
                    await asyncio.sleep(0.1)
                    continue
                self.ledger.answer(kind, 0, began=began)
                return 0, None, {}
            except (TimeoutError, aiohttp.ClientError):
                self.ledger.answer(kind, 0, began=began)
                return 0, None, {}


@dataclass(frozen=True)
class Login:
    """An officer's login, kept from one fault to the next as her browser keeps its cookie."""

    officer_id: int
    cookie: str
    address: str


@dataclass
class Rates:
    contacts_per_second: float = 1.0
    webhooks_per_second: float = 20.0
    chats: int = 3
    """Chat messages each side sends in a contact."""


@dataclass
class Driver:
    balancer: Balancer
    ledger: Ledger
    badges: list[str]
    rates: Rates
    logins: dict[str, Login] = field(default_factory=dict)
    running: bool = True
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _officer_ids: dict[str, int] = field(default_factory=dict)
    webhook_rate: float = 0.0

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.ledger.notes[f"driver failed: {task.exception()!r}"[:160]] += 1

    # ---- citizens -----------------------------------------------------------------------

    async def citizens(self, http: aiohttp.ClientSession) -> None:
        """New chat contacts at the rate, until stopped."""
        gap = 1.0 / self.rates.contacts_per_second
        due = time.monotonic()
        while self.running:
            self._spawn(self.citizen(http))
            due += gap
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def citizen(self, http: aiohttp.ClientSession) -> None:
        address = _address()
        headers = {"X-Forwarded-For": address}
        body = {"service_line": "women", "channel": "chat", "language": "ur"}
        give_up = time.monotonic() + 20.0
        attempted = time.monotonic()
        self.ledger.start_attempts.append(attempted)
        while True:
            status, answer, got = await self.balancer.request(
                http, "contact.start", "POST", "/api/contacts", json=body, headers=headers
            )
            if status == 201:
                break
            if not self.running or time.monotonic() > give_up or status in (400, 429):
                return
            await asyncio.sleep(float(got.get("Retry-After", "1") or 1))
        contact = Contact(answer["session_id"], time.monotonic())
        contact.attempted_at = attempted  # type: ignore[attr-defined]
        self.ledger.contacts[contact.session_id] = contact
        page = Page(http, self.balancer.pick, self.ledger, contact, "citizen", answer["token"],
                    headers)  # fmt: skip
        page.start()
        try:
            await self._her_conversation(page)
        finally:
            contact.ended_at = time.monotonic() if page.ended.is_set() else None
            await page.close()

    async def _her_conversation(self, page: Page) -> None:
        waited = time.monotonic()
        while not page.peer_here.is_set():
            if page.ended.is_set():
                return
            if not self.running and time.monotonic() - waited > 5.0:
                break  # the run is over and nobody came: she gives up
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(page.peer_here.wait(), 0.5)
        if page.peer_here.is_set():
            for n in range(self.rates.chats):
                await page.send({"type": "chat", "text": f"citizen says {n}"})
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(page.chats_in.get(), 5.0)
                await asyncio.sleep(0.3)
        await page.send({"type": "hangup"})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(page.ended.wait(), 30.0)

    # ---- officers -----------------------------------------------------------------------

    async def officer(self, badge: str) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        kept = self.logins.get(badge)
        if kept is not None:  # her login of an earlier fault (logins live in the database)
            self._officer_ids[badge] = kept.officer_id
            jar.update_cookies({COOKIE: kept.cookie}, URL("http://127.0.0.1/"))
        address = kept.address if kept is not None else _address()
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            headers = {"X-Forwarded-For": address}
            handling: set[str] = set()
            logged_in = kept is not None
            while self.running or handling:
                if not logged_in:
                    logged_in = await self._log_in(http, jar, badge, address)
                    if not logged_in:
                        await asyncio.sleep(1.0)
                        continue
                status, me, _ = await self.balancer.request(
                    http, "officer.me", "GET", "/api/queues/me", headers=headers
                )
                if status == 401:
                    self.ledger.notes["officer.logged_out"] += 1
                    logged_in = False
                    continue
                if status == 200 and me["presence"] != "available" and not handling:
                    await self._available(http, headers)
                offer = me.get("offer") if status == 200 else None
                if offer and self.running and offer["task_id"] not in handling:
                    task_id = offer["task_id"]
                    contact = self.ledger.contacts.get(task_id)
                    if contact is not None and contact.offered_at is None:
                        contact.offered_at = time.monotonic()
                    status, _, _ = await self.balancer.request(
                        http, "officer.accept", "POST",
                        f"/api/queues/offers/{task_id}/accept", headers=headers,
                    )  # fmt: skip
                    if status == 200:
                        self.ledger.accepted[task_id].add(self._officer_ids[badge])
                        handling.add(task_id)
                        self._spawn(self._take(http, headers, badge, task_id, handling))
                    continue
                await asyncio.sleep(0.25)

    async def _log_in(
        self, http: aiohttp.ClientSession, jar: aiohttp.CookieJar, badge: str, address: str
    ) -> bool:
        status, body, _ = await self.balancer.request(
            http, "officer.login", "POST", "/api/login", limit=LOGIN_TIMEOUT,
            json={"badge": badge, "password": PASSWORD}, headers={"X-Forwarded-For": address},
        )  # fmt: skip
        if status != 200:
            return False
        officer_id = int(body.get("id") or 0)
        self._officer_ids[badge] = officer_id
        cookie = next((c.value for c in jar if c.key == COOKIE), None)
        if cookie is not None:
            self.logins[badge] = Login(officer_id, cookie, address)
        return True

    async def _available(self, http: aiohttp.ClientSession, headers: Any) -> bool:
        status, _, _ = await self.balancer.request(
            http, "officer.state", "POST", "/api/queues/me/state",
            json={"state": "available"}, headers=headers,
        )  # fmt: skip
        return status == 200

    async def _take(
        self,
        http: aiohttp.ClientSession,
        headers: dict[str, str],
        badge: str,
        task_id: str,
        handling: set[str],
    ) -> None:
        try:
            await self._conversation(http, headers, badge, task_id)
        finally:
            handling.discard(task_id)

    async def _conversation(
        self, http: aiohttp.ClientSession, headers: dict[str, str], badge: str, task_id: str
    ) -> None:
        for _ in range(10):  # the console asks again when the answer was cut
            status, answer, got = await self.balancer.request(
                http, "officer.answer", "POST", f"/api/contacts/{task_id}/answer", headers=headers
            )
            if status not in (0, 503):
                break
            await asyncio.sleep(float(got.get("Retry-After", "1") or 1))
        if status == 200:
            self.ledger.answered[task_id].add(self._officer_ids[badge])
            if answer.get("token"):  # none: it ended meanwhile, the console opens in wrap-up
                await self._talk(http, headers, task_id, answer["token"])
        for _ in range(10):  # wrap-up done: complete, then available again
            status, _, got = await self.balancer.request(
                http, "officer.complete", "POST", f"/api/queues/tasks/{task_id}/complete",
                headers=headers,
            )  # fmt: skip
            if status not in (0, 503):
                break
            await asyncio.sleep(float(got.get("Retry-After", "1") or 1))
        await self._available(http, headers)

    async def _talk(
        self, http: aiohttp.ClientSession, headers: dict[str, str], task_id: str, token: str
    ) -> None:
        contact = self.ledger.contacts.get(task_id) or Contact(task_id, time.monotonic())
        page = Page(http, self.balancer.pick, self.ledger, contact, "officer", token, headers)
        page.start()
        try:
            n = 0
            while not page.ended.is_set():
                heard = asyncio.ensure_future(page.chats_in.get())
                ended = asyncio.ensure_future(page.ended.wait())
                done, _ = await asyncio.wait({heard, ended}, timeout=60.0,
                                             return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                for future in (heard, ended):
                    if future not in done:
                        future.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await future
                if heard in done:
                    await page.send({"type": "chat", "text": f"officer answers {n}"})
                    n += 1
                if not done:
                    await page.send({"type": "hangup"})  # she went quiet: end it
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(page.ended.wait(), 30.0)
                    break
        finally:
            await page.close()

    # ---- phone calls --------------------------------------------------------------------

    async def phones(self, http: aiohttp.ClientSession) -> None:
        """Calls at the rate that makes ``webhook_rate`` webhooks a second (open loop)."""
        steps = 1 + len(PHONE_KEYS) + HOLD_TURNS + 1
        due = time.monotonic()
        while self.running:
            rate = self.webhook_rate or self.rates.webhooks_per_second
            if rate <= 0:
                await asyncio.sleep(0.2)
                due = time.monotonic()
                continue
            self._spawn(self.phone_call(http))
            due += steps / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def _webhook(
        self,
        http: aiohttp.ClientSession,
        kind: str,
        url: str,
        params: dict[str, str],
        call: PhoneCall,
    ) -> str | None:
        from twilio.request_validator import RequestValidator

        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        status, body, _ = await self.balancer.request(
            http, f"twilio.{kind}", "POST", path, limit=TWILIO_TIMEOUT,
            data=params, headers={"X-Twilio-Signature": signature},
        )  # fmt: skip
        call.trace.append(f"{kind} {status} @{time.monotonic() - self.ledger.began:.1f}s")
        if status != 200 or not isinstance(body, str) or "<Response" not in body:
            return None
        return body

    async def phone_call(self, http: aiohttp.ClientSession) -> None:
        sid = "CA" + secrets.token_hex(16)
        caller = "+92300" + "".join(random.choice("0123456789") for _ in range(7))
        call = PhoneCall(sid, time.monotonic())
        self.ledger.calls[sid] = call

        def params(**extra: str) -> dict[str, str]:
            return {
                "CallSid": sid, "AccountSid": ACCOUNT_SID, "From": caller, "To": "+9215",
                "Caller": caller, "Called": "+9215", "CallStatus": "in-progress",
                "Direction": "inbound", "ApiVersion": "2010-04-01", **extra,
            }  # fmt: skip

        text = await self._webhook(
            http, "voice", PUBLIC_URL + "/twilio/voice", params(CallStatus="ringing"), call
        )
        for key in PHONE_KEYS:
            action = _gather_action(text)
            if action is None:
                break
            await asyncio.sleep(THINK)
            text = await self._webhook(http, "menu", action, params(Digits=key), call)
        if text is not None and "/twilio/ivr/wait" in text:
            call.queued = True
            for _ in range(HOLD_TURNS):
                await asyncio.sleep(THINK)
                await self._webhook(http, "wait", PUBLIC_URL + "/twilio/ivr/wait", params(), call)
        await asyncio.sleep(THINK)
        # She hangs up (whatever she heard): Twilio always sends its status callback.
        await self._webhook(
            http, "status", PUBLIC_URL + "/twilio/status",
            params(CallStatus="completed", CallDuration="12"), call,
        )  # fmt: skip
        call.status_sent = True

    # ---- the whole ----------------------------------------------------------------------

    async def finish(self, seconds: float) -> None:
        """Stop starting anything; let what is under way end (citizens hang up, officers
        complete), at most ``seconds``."""
        self.running = False
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)
        for task in list(self._tasks):
            task.cancel()


def _gather_action(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    gather = root.find("Gather")
    return None if gather is None else gather.get("action")


def run_officers(driver: Driver) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(driver.officer(badge)) for badge in driver.badges]
