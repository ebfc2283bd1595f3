"""One emulated phone call: Twilio's TwiML executor plus a caller the test scripts.

Behaviour follows Twilio's documentation:

* webhook parameters (https://www.twilio.com/docs/usage/webhooks/voice-webhooks):
  AccountSid, ApiVersion, CallSid, CallStatus, Called, Caller, Direction, From,
  To and the country fields; CallStatus is ``ringing`` on an inbound call's
  first request and ``in-progress`` once a verb other than ``<Reject>`` ran;
* status callbacks (https://www.twilio.com/docs/voice/api/call-resource#statuscallback
  and #statuscallbackevent): events initiated / ringing / answered / completed, only those
  asked for (a number's status callback URL gets ``completed`` only), with
  CallbackSource=call-progress-events, SequenceNumber from 0, Timestamp, and
  CallDuration on completion;
* TwiML execution (https://www.twilio.com/docs/voice/twiml): verbs in order;
  relative URLs resolve against the document's URL; when the verbs run out
  the call hangs up; ``<Gather>`` (https://www.twilio.com/docs/voice/twiml/gather)
  POSTs Digits (+FinishedOnKey) or SpeechResult+Confidence to ``action``
  (default: the document's URL) and on no input falls through to the next
  verb (or posts an empty result when actionOnEmptyResult="true");
  ``<Redirect>`` fetches its URL (POST by default); ``<Hangup>`` ends the call;
  ``<Reject>`` first ends it unanswered (busy or no-answer,
  https://www.twilio.com/docs/voice/twiml/reject); ``<Connect><Stream>`` opens
  a Media Stream and, when it ends, requests ``action`` or runs the next verb
  (https://www.twilio.com/docs/voice/twiml/connect);
* a webhook that fails ends the call after Twilio's "application error"
  message: 11200 non-2xx answer (https://www.twilio.com/docs/api/errors/11200),
  11205 no answer in time, 15 s by default (https://www.twilio.com/docs/api/errors/11205),
  12300 not XML (https://www.twilio.com/docs/api/errors/12300), 12100/12200 bad TwiML;
* Calls(sid).update with Twiml or Url replaces whatever the call was doing
  (https://www.twilio.com/docs/voice/tutorials/how-to-modify-calls-in-progress).

Time: ``<Pause>``, ``<Play>`` and ``<Say>`` take their simulated length times the
cloud's ``time_scale``. A ``<Gather>`` waits for the script's next input
(press / speak / stay_silent); after ``stay_silent(None)`` every Gather times
out after its ``timeout`` (scaled) until the caller presses or speaks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from tests.twilio.audio import wav_seconds
from tests.twilio.errors import CallFailed, Fail, TwilioError
from tests.twilio.stream import MediaStream, StreamRefused
from tests.twilio.twiml import TwimlError, Verb, parse

if TYPE_CHECKING:
    from tests.twilio.cloud import TwilioCloud

APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def rfc2822(moment: datetime) -> str:
    """Twilio's date format: ``Tue, 31 Aug 2010 20:36:28 +0000``."""
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _country(number: str) -> str:
    for prefix, country in (("+92", "PK"), ("+1", "US"), ("+44", "GB")):
        if number.startswith(prefix):
            return country
    return ""


@dataclass
class Heard:
    """Something the caller heard: ``verb`` "say" (value = text), "play" (value = absolute URL)
    or "digits" (value = the DTMF tones of ``<Play digits>``)."""

    verb: str
    value: str
    language: str | None = None

    def __str__(self) -> str:
        return self.value


@dataclass
class WebhookRequest:
    """A request the emulator made to the app, and how the app answered."""

    kind: str
    """"twiml" (voice URL, Gather action, Redirect, Connect action), "status" or "media" (Play)."""
    method: str
    url: str
    params: dict[str, str]
    signature: str
    idempotency_token: str = ""
    """``I-Twilio-Idempotency-Token``: the same on a retried (replayed) request."""
    status: int | None = None
    content_type: str = ""
    body: bytes = b""


@dataclass
class GatherPrompt:
    """A ``<Gather>`` waiting for the caller."""

    attrs: dict[str, str]
    heard: list[Heard]
    """What its nested Say/Play said before it started waiting."""
    action: str
    """The absolute URL the input will go to."""

    @property
    def input(self) -> set[str]:
        return set(self.attrs.get("input", "dtmf").split())

    @property
    def text(self) -> str:
        """Everything its nested ``<Say>`` said, joined by spaces."""
        return " ".join(h.value for h in self.heard if h.verb == "say")


@dataclass
class Document:
    url: str
    """Where the TwiML came from ("" for TwiML given inline through the REST API)."""
    verbs: list[Verb]


@dataclass
class _Fetch:
    url: str
    method: str = "POST"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class _Input:
    kind: str  # "dtmf" | "speech" | "silence"
    value: str
    confidence: float
    done: asyncio.Future[None]


@dataclass
class _Outcome:
    status: str  # "answered" | "busy" | "no-answer" | "failed"
    answered_by: str | None = None


class Call:
    """A call through the emulated Twilio. Tests get one from ``cloud.incoming_call`` or
    ``cloud.next_outbound`` and drive the caller with press/speak/stay_silent/hang_up."""

    def __init__(
        self,
        cloud: TwilioCloud,
        *,
        from_: str,
        to: str,
        direction: str,
        status_callback: str | None,
        status_events: tuple[str, ...],
        status_method: str = "POST",
        signature_token: str | None = None,
        machine_detection: str | None = None,
        extra_params: dict[str, str] | None = None,
    ) -> None:
        self.cloud = cloud
        self.sid = new_sid("CA")
        self.account_sid = cloud.account_sid
        self.from_ = from_
        self.to = to
        self.direction = direction
        """"inbound" or "outbound-api"."""
        self.status = "ringing" if direction == "inbound" else "queued"
        self.answered_by: str | None = None
        self.status_callback = status_callback
        self.status_events = status_events
        self.status_method = status_method
        self.signature_token = signature_token
        """Sign this call's requests with another token (to test forged signatures)."""
        self.stream_signature_token: str | None = None
        """Sign only the Media Stream upgrade with another token (a forged upgrade)."""
        self.machine_detection = machine_detection
        self.extra_params = extra_params or {}
        self.created_at = datetime.now(UTC)
        self.answered_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.heard: list[Heard] = []
        self.requests: list[WebhookRequest] = []
        self.errors: list[TwilioError] = []
        self.stream: MediaStream | None = None
        """The Media Stream open right now, if any."""
        self.streams: list[MediaStream] = []
        self.conference: str | None = None
        """The conference room the call is in now, if any."""
        self.ended = asyncio.Event()
        self.source: Document | _Fetch | None = None
        """What an outbound call runs once answered (its Url or Twiml)."""
        self._inputs: deque[_Input] = deque()
        self._input_added = asyncio.Event()
        self._silent_forever = False
        self._gathering: GatherPrompt | None = None
        self._changed = asyncio.Event()
        self._program: asyncio.Task[None] | None = None
        self._ending = False
        self._callback_seq = 0
        self._outcome: asyncio.Future[_Outcome] = asyncio.get_running_loop().create_future()
        self._media_cache: dict[str, float] = {}
        self._fetches = 0

    # -- what the test reads ---------------------------------------------------------------

    @property
    def said(self) -> list[str]:
        """Texts of every ``<Say>`` heard so far."""
        return [h.value for h in self.heard if h.verb == "say"]

    @property
    def played(self) -> list[str]:
        """Absolute URLs of every ``<Play>`` heard so far."""
        return [h.value for h in self.heard if h.verb == "play"]

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def duration(self) -> int:
        """Whole seconds from answer to end (Twilio rounds up), 0 if never answered."""
        if self.answered_at is None:
            return 0
        end = self.ended_at or datetime.now(UTC)
        return math.ceil((end - self.answered_at).total_seconds())

    def params(self) -> dict[str, str]:
        """The parameters Twilio sends with every request about this call."""
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": self.status,
            "Called": self.to,
            "CalledCountry": _country(self.to),
            "Caller": self.from_,
            "CallerCountry": _country(self.from_),
            "Direction": self.direction,
            "From": self.from_,
            "FromCountry": _country(self.from_),
            "To": self.to,
            "ToCountry": _country(self.to),
            **self.extra_params,
        }
        if self.machine_detection and self.answered_by:
            params["AnsweredBy"] = self.answered_by
        return params

    def take_errors(self) -> list[TwilioError]:
        """This call's Twilio errors, marked seen (the test expected them)."""
        for error in self.errors:
            error.seen = True
        return list(self.errors)

    # -- the caller's script ------------------------------------------------------------------

    async def press(self, digits: str, limit: float | None = None) -> None:
        """Press keys. Goes to the next ``<Gather>`` (returns once it took them), or as
        ``dtmf`` messages when a Media Stream is open."""
        if any(d not in "0123456789*#" for d in digits) or not digits:
            raise ValueError(f"{digits!r} are not phone keys")
        if self.stream is not None and not self.stream.closed.is_set():
            await self.stream.press(digits)
            return
        await self._give("dtmf", digits, 1.0, limit)

    async def speak(self, text: str, confidence: float = 0.92, limit: float | None = None) -> None:
        """Say something to the next ``<Gather>`` with speech input (Twilio's recogniser
        result is ``text``, with ``confidence``). Returns once a Gather took it."""
        if self.stream is not None:
            raise AssertionError("during a Media Stream the caller speaks audio: stream.send_audio")
        await self._give("speech", text, confidence, limit)

    async def stay_silent(self, times: int | None = 1, limit: float | None = None) -> None:
        """Let the next ``times`` Gathers time out with no input (returns once they did).
        ``None``: every Gather times out (after its scaled timeout) until the caller
        presses or speaks again; returns at once."""
        if times is None:
            self._silent_forever = True
            self._input_added.set()
            return
        for _ in range(times):
            await self._give("silence", "", 0.0, limit)

    async def hang_up(self) -> None:
        """The caller hangs up: the stream gets ``stop``, the app the ``completed`` callback."""
        self._finish("completed")
        await self.wait_ended()

    # -- waiting ----------------------------------------------------------------------------------

    async def gather(self, limit: float | None = None) -> GatherPrompt:
        """Wait until a ``<Gather>`` waits for input (nothing queued); returns it."""
        await self._until(
            lambda: self._gathering is not None and not self._inputs, "a <Gather>", limit
        )
        assert self._gathering is not None
        return self._gathering

    async def wait_for(
        self, predicate: Callable[[list[Heard]], bool], limit: float | None = None
    ) -> list[Heard]:
        """Wait until ``predicate(call.heard)`` holds; returns ``heard``."""
        await self._until(lambda: predicate(self.heard), "what the test waits to hear", limit)
        return self.heard

    async def wait_stream(self, limit: float | None = None) -> MediaStream:
        """Wait until a Media Stream is open; returns it."""
        await self._until(lambda: self.stream is not None, "a Media Stream", limit)
        assert self.stream is not None
        return self.stream

    async def wait_ended(self, limit: float | None = None) -> str:
        """Wait for the end of the call (the app has its completed callback); returns the status."""
        await self._until(self.ended.is_set, "the end of the call", limit)
        return self.status

    async def replay_last_webhook(self) -> WebhookRequest:
        """Send the last TwiML request again, exactly (a retried or duplicated webhook).
        The answer is returned, not executed."""
        last = next((r for r in reversed(self.requests) if r.kind == "twiml"), None)
        if last is None:
            raise AssertionError("this call made no TwiML request yet")
        return await self.cloud.request(
            self,
            last.method,
            last.url,
            last.params,
            kind="replay",
            idempotency_token=last.idempotency_token,
        )

    # -- outbound: the callee's phone ------------------------------------------------------------

    async def answer(self, answered_by: str | None = None, limit: float | None = None) -> None:
        """The person called picks up (``answered_by`` "human" / "machine_start" reaches the
        app as AnsweredBy when MachineDetection was asked for)."""
        self._decide(_Outcome("answered", answered_by))
        await self._until(lambda: self.answered or self.ended.is_set(), "the answer", limit)

    async def decline(self, status: str = "no-answer", limit: float | None = None) -> None:
        """The call is not answered: "no-answer", "busy" or "failed"."""
        if status not in ("no-answer", "busy", "failed"):
            raise ValueError(status)
        self._decide(_Outcome(status))
        await self.wait_ended(limit)

    def _decide(self, outcome: _Outcome) -> None:
        if self.direction == "inbound":
            raise AssertionError("only outbound calls are answered by the test")
        if not self._outcome.done():
            self._outcome.set_result(outcome)

    # -- driven by the cloud ---------------------------------------------------------------------

    def start(self, source: Document | _Fetch) -> None:
        """Inbound: run the voice URL. Outbound: dial, and run ``source`` once answered."""
        self.source = source
        runner = self._run(source) if self.direction == "inbound" else self._dial()
        self._program = asyncio.create_task(runner, name=f"call {self.sid}")

    def redirect(self, source: Document | _Fetch) -> None:
        """Calls(sid).update with Twiml/Url: drop what runs now, run ``source``."""
        old = self._program
        self._program = asyncio.create_task(self._replace(old, source), name=f"call {self.sid}")

    def finish(self, status: str) -> None:
        """End the call now (REST Status=completed/canceled, or the caller hanging up)."""
        self._finish(status)

    def record_error(self, error: TwilioError) -> None:
        self.errors.append(error)
        self.cloud.errors.append(error)
        self._notify()

    @property
    def ending(self) -> bool:
        return self._ending

    # -- internals ----------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()

    async def _until(self, predicate: Callable[[], bool], what: str, within: float | None) -> None:
        limit = self.cloud.wait_timeout if within is None else within
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            unseen = [e for e in self.errors if not e.seen]
            if unseen:
                raise CallFailed(self.sid, unseen)
            if predicate():
                return
            if self.ended.is_set():
                raise AssertionError(
                    f"call {self.sid} ended ({self.status}) before {what}; "
                    f"it heard {self.said_and_played()}"
                )
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"waited {limit} s for {what} on call {self.sid} ({self.status}); "
                    f"it heard {self.said_and_played()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def said_and_played(self) -> list[str]:
        return [f"{h.verb}: {h.value}" for h in self.heard[-12:]]

    async def _give(self, kind: str, value: str, confidence: float, limit: float | None) -> None:
        if self._ending:
            raise AssertionError(f"call {self.sid} has ended ({self.status})")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._silent_forever = False
        self._inputs.append(_Input(kind, value, confidence, done))
        self._input_added.set()
        self._notify()
        what = {
            "dtmf": f"a <Gather> to take keys {value!r}",
            "speech": f"a <Gather> to hear {value!r}",
        }
        await self._until(done.done, what.get(kind, "a <Gather> to time out"), limit)
        done.result()

    def _finish(self, status: str) -> None:
        if self._ending:
            return
        self._ending = True
        self.status = status
        self.ended_at = datetime.now(UTC)
        self.cloud.keep(asyncio.create_task(self._close(), name=f"end {self.sid}"))

    async def _close(self) -> None:
        try:
            program = self._program
            if program is not None and program is not asyncio.current_task():
                program.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await program
            if self.stream is not None:
                await self.stream.stop()
                self.stream = None
            for item in self._inputs:
                if not item.done.done():
                    item.done.set_exception(
                        AssertionError(f"call {self.sid} ended ({self.status})")
                    )
                    item.done.exception()
            self._inputs.clear()
            await self._status_callback("completed")
        finally:
            self.ended.set()
            self._notify()

    async def _replace(self, old: asyncio.Task[None] | None, source: Document | _Fetch) -> None:
        if old is not None:
            old.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await old
        await self._run(source)

    async def _dial(self) -> None:
        await self._status_callback("initiated")
        self.status = "ringing"
        await self._status_callback("ringing")
        outcome = await self._outcome
        if outcome.status != "answered":
            self._finish(outcome.status)
            return
        self.answered_by = outcome.answered_by
        self._answer_now()
        await self._status_callback("answered")
        assert self.source is not None
        await self._run(self.source)

    async def _run(self, source: Document | _Fetch) -> None:
        try:
            doc: Document | None = (
                source if isinstance(source, Document) else await self._fetch(source)
            )
            while doc is not None:
                doc = await self._execute(doc)
        except Fail as fail:
            self.record_error(fail.error)
            self.heard.append(Heard("say", APPLICATION_ERROR, "en-US"))
        self._finish("completed")

    def _answer_now(self) -> None:
        if self.answered_at is None:
            self.answered_at = datetime.now(UTC)
            self.status = "in-progress"
            self._notify()

    async def _execute(self, doc: Document) -> Document | None:
        for verb in doc.verbs:
            if verb.name == "Reject":
                if self.answered:
                    return None
                self._finish("busy" if verb.attrs.get("reason") == "busy" else "no-answer")
                return None
            if not self.answered:
                self._answer_now()
                await self._status_callback("answered")
            if verb.name in ("Say", "Play", "Pause"):
                await self._prompt(verb, doc, in_gather=False)
            elif verb.name == "Gather":
                following = await self._gather(verb, doc)
                if following is not None:
                    return following
            elif verb.name == "Redirect":
                method = verb.attrs.get("method", "POST")
                return await self._fetch(_Fetch(self._resolve(doc, verb.text), method))
            elif verb.name == "Hangup":
                return None
            elif verb.name == "Connect":
                following = await self._connect(verb, doc)
                if following is not None:
                    return following
            elif verb.name == "Dial":
                following = await self._conference(verb, doc)
                if following is not None:
                    return following
            await asyncio.sleep(0)
        return None

    def _resolve(self, doc: Document, url: str) -> str:
        if urlsplit(url).scheme:
            return url
        if not doc.url:
            raise Fail(TwilioError(12200, f"relative URL {url!r} in TwiML that has no URL"))
        return urljoin(doc.url, url)

    async def _sleep(self, simulated_seconds: float) -> None:
        # never zero: a looping <Play loop="0"> must still let the loop breathe
        await asyncio.sleep(max(0.001, simulated_seconds * self.cloud.time_scale))

    async def _prompt(self, verb: Verb, doc: Document, *, in_gather: bool) -> None:
        if verb.name == "Pause":
            await self._sleep(int(verb.attrs.get("length", "1")))
            return
        loop = int(verb.attrs.get("loop", "1"))
        forever = loop == 0 and not in_gather
        count = max(loop, 1)
        while forever or count > 0:
            count -= 1
            if verb.name == "Say":
                self.heard.append(Heard("say", verb.text, verb.attrs.get("language", "en-US")))
                self._notify()
                await self._sleep(max(1.0, len(verb.text.split()) / 2.5))
            elif "digits" in verb.attrs and not verb.text:
                self.heard.append(Heard("digits", verb.attrs["digits"]))
                self._notify()
                await self._sleep(len(verb.attrs["digits"]) * 0.2)
            else:
                url = self._resolve(doc, verb.text)
                seconds = await self._media(url)
                self.heard.append(Heard("play", url))
                self._notify()
                await self._sleep(seconds)

    async def _media(self, url: str) -> float:
        if url not in self._media_cache:
            response = await self.cloud.request(self, "GET", url, {}, kind="media")
            if response.status != 200:
                raise Fail(TwilioError(11200, f"<Play> got HTTP {response.status}", url))
            if not response.content_type.startswith("audio/"):
                raise Fail(
                    TwilioError(12300, f"<Play> got {response.content_type!r}, not audio/*", url)
                )
            self._media_cache[url] = wav_seconds(response.body) or 1.0
        return self._media_cache[url]

    async def _gather(self, verb: Verb, doc: Document) -> Document | None:
        attrs = verb.attrs
        action = self._resolve(doc, attrs.get("action") or doc.url or "")
        start = len(self.heard)
        for child in verb.children:
            await self._prompt(child, doc, in_gather=True)
        self._gathering = GatherPrompt(dict(attrs), self.heard[start:], action)
        self._notify()
        try:
            given = await self._next_input(int(attrs.get("timeout", "5")))
        finally:
            self._gathering = None
        extra = self._gather_result(verb, given)
        if extra is None:
            if attrs.get("actionOnEmptyResult") != "true":
                return None
            extra = {"msg": "Gather End"}
        return await self._fetch(_Fetch(action, attrs.get("method", "POST"), extra))

    def _gather_result(self, verb: Verb, given: _Input | None) -> dict[str, str] | None:
        attrs = verb.attrs
        accepted = set(attrs.get("input", "dtmf").split())
        if given is None or given.kind not in accepted:
            return None
        if given.kind == "speech":
            return {
                "SpeechResult": given.value,
                "Confidence": f"{given.confidence:.8f}",
                "Language": attrs.get("language", "en-US"),
                "msg": "Gather End",
            }
        finish = attrs.get("finishOnKey", "#")
        digits, finished_on, rest = given.value, "", ""
        if finish and finish in digits:
            at = digits.index(finish)
            digits, finished_on, rest = digits[:at], finish, digits[at + 1 :]
        num = attrs.get("numDigits")
        if num and len(digits) > int(num):
            digits, rest = digits[: int(num)], digits[int(num) :] + finished_on + rest
            finished_on = ""
        if rest:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            self._inputs.appendleft(_Input("dtmf", rest, 1.0, done))
        if not digits:
            return None
        return {"Digits": digits, "FinishedOnKey": finished_on, "msg": "Gather End"}

    async def _next_input(self, seconds: int) -> _Input | None:
        while True:
            if self._inputs:
                given = self._inputs.popleft()
                if not given.done.done():
                    given.done.set_result(None)
                self._notify()
                return None if given.kind == "silence" else given
            self._input_added.clear()
            if self._silent_forever:
                try:
                    await asyncio.wait_for(
                        self._input_added.wait(), seconds * self.cloud.time_scale
                    )
                except TimeoutError:
                    return None
            else:
                await self._input_added.wait()

    async def _connect(self, verb: Verb, doc: Document) -> Document | None:
        noun = verb.children[0]
        parameters = {p.attrs["name"]: p.attrs["value"] for p in noun.children}
        stream = MediaStream(
            self,
            sid=new_sid("MZ"),
            url=noun.attrs["url"],
            name=noun.attrs.get("name"),
            parameters=parameters,
            session=self.cloud.session,
            ssl_context=self.cloud.ssl_context,
            token=self.stream_signature_token or self.signature_token or self.cloud.auth_token,
            continuous=self.cloud.stream_silence,
        )
        try:
            await stream.open()
        except StreamRefused as refused:
            self.record_error(refused.error)
        else:
            self.stream = stream
            self.streams.append(stream)
            self._notify()
            try:
                await stream.closed.wait()
            finally:
                await stream.stop()
                if self.stream is stream:
                    self.stream = None
                self._notify()
        if "action" in verb.attrs:
            action = self._resolve(doc, verb.attrs["action"])
            return await self._fetch(_Fetch(action, verb.attrs.get("method", "POST")))
        return None

    async def _conference(self, verb: Verb, doc: Document) -> Document | None:
        """``<Dial><Conference>``: in the room until the call leaves or the room ends; then
        the Dial ``action`` (DialCallStatus=completed) or the next verb."""
        noun = verb.children[0]
        attrs = dict(noun.attrs)
        if attrs.get("statusCallback"):
            attrs["statusCallback"] = self._resolve(doc, attrs["statusCallback"])
        rooms = self.cloud.conferences
        room = rooms.live(noun.text)
        self.conference = room.name
        try:
            await rooms.join(room, self.sid, attrs)
            self._notify()
            await room.ended.wait()
        finally:
            self.conference = None
            await asyncio.shield(rooms.leave(room, self.sid))
            self._notify()
        if "action" in verb.attrs:
            action = self._resolve(doc, verb.attrs["action"])
            extra = {"DialCallStatus": "completed", "ConferenceSid": room.sid}
            return await self._fetch(_Fetch(action, verb.attrs.get("method", "POST"), extra))
        return None

    async def _fetch(self, fetch: _Fetch) -> Document:
        self._fetches += 1
        if self._fetches > self.cloud.max_webhooks:
            raise Fail(
                TwilioError(
                    11200, f"more than {self.cloud.max_webhooks} TwiML requests: a loop?", fetch.url
                )
            )
        response = await self.cloud.request(
            self, fetch.method, fetch.url, {**self.params(), **fetch.extra}, kind="twiml"
        )
        if not 200 <= (response.status or 0) < 300:
            snippet = response.body[:200].decode(errors="replace")
            raise Fail(TwilioError(11200, f"HTTP {response.status} answer: {snippet!r}", fetch.url))
        if response.content_type not in ("text/xml", "application/xml"):
            raise Fail(
                TwilioError(
                    12300, f"Content-Type {response.content_type!r}, not text/xml", fetch.url
                )
            )
        try:
            return Document(fetch.url, parse(response.body))
        except TwimlError as exc:
            raise Fail(TwilioError(exc.code, exc.message, fetch.url)) from None

    async def _status_callback(self, event: str) -> None:
        if not self.status_callback or event not in self.status_events:
            return
        params = {
            **self.params(),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self._callback_seq),
            "Timestamp": rfc2822(datetime.now(UTC)),
        }
        self._callback_seq += 1
        if event == "completed":
            params["CallDuration"] = str(self.duration)
        try:
            response = await self.cloud.request(
                self, self.status_method, self.status_callback, params, kind="status"
            )
        except Fail as fail:
            self.record_error(fail.error)
            return
        if not 200 <= (response.status or 0) < 300:
            self.record_error(
                TwilioError(
                    15003,
                    f"status callback ({event}) answered {response.status}",
                    self.status_callback,
                )
            )

    def to_json(self) -> dict[str, Any]:
        """The Call resource as the REST API returns it
        (https://www.twilio.com/docs/voice/api/call-resource#call-properties)."""
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{self.sid}"
        return {
            "sid": self.sid,
            "date_created": rfc2822(self.created_at),
            "date_updated": rfc2822(self.ended_at or self.answered_at or self.created_at),
            "parent_call_sid": None,
            "account_sid": self.account_sid,
            "to": self.to,
            "to_formatted": self.to,
            "from": self.from_,
            "from_formatted": self.from_,
            "phone_number_sid": None,
            "status": self.status,
            "start_time": rfc2822(self.answered_at) if self.answered_at else None,
            "end_time": rfc2822(self.ended_at) if self.ended_at else None,
            "duration": str(self.duration) if self.ended_at else None,
            "price": None,
            "price_unit": "USD",
            "direction": self.direction,
            "answered_by": self.answered_by,
            "api_version": "2010-04-01",
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": uri + ".json",
            "subresource_uris": {
                "notifications": uri + "/Notifications.json",
                "recordings": uri + "/Recordings.json",
                "streams": uri + "/Streams.json",
            },
        }
