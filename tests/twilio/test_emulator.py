"""The emulator itself, against tiny aiohttp apps defined here (not against ivr/ or media/).

Each tiny app checks X-Twilio-Signature with the real ``twilio`` RequestValidator
and answers TwiML built with the real ``twilio.twiml.voice_response``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Connect, Gather, VoiceResponse

from tests.twilio import audio
from tests.twilio.cloud import TWILIO_TEST_CALLER_ID, TwilioCloud, _free_socket
from tests.twilio.errors import CallFailed
from tests.twilio.fixtures import HttpsApp
from tests.twilio.signing import signature
from tests.twilio.tls import client_context, self_signed
from tests.twilio.twiml import TwimlError, parse

Handler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse | str]]


class Tiny:
    """A tiny Twilio-facing app: each route checks the signature, then answers TwiML."""

    def __init__(self, cloud: TwilioCloud) -> None:
        self.validator = RequestValidator(cloud.auth_token)
        self.app = web.Application()
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.refused: list[str] = []
        self.got: list[dict[str, Any]] = []
        """Media Stream messages the app received."""
        self.twiml("/status", "")

    def route(self, path: str, handler: Handler, method: str = "POST") -> None:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            form = {k: str(v) for k, v in (await request.post()).items()}
            sig = request.headers.get("X-Twilio-Signature", "")
            if not self.validator.validate(str(request.url), form, sig):
                self.refused.append(request.path)
                return web.Response(status=403, text="bad signature")
            self.seen.append((request.path, form))
            answer = await handler(request, form)
            if isinstance(answer, str):
                return web.Response(text=answer, content_type="text/xml")
            return answer

        self.app.router.add_route(method, path, wrapped)

    def twiml(self, path: str, response: VoiceResponse | str) -> None:
        async def handler(request: web.Request, form: dict[str, str]) -> str:
            return str(response)

        self.route(path, handler)

    def params(self, path: str) -> list[dict[str, str]]:
        return [form for seen_path, form in self.seen if seen_path == path]


def saying(text: str) -> VoiceResponse:
    """``<Response><Say>text</Say></Response>`` (the library's verb methods return the verb)."""
    response = VoiceResponse()
    response.say(text)
    return response


@contextlib.asynccontextmanager
async def serve(tmp_path: Path, cloud: TwilioCloud, app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` over https on 127.0.0.1; the cloud trusts its certificate."""
    server_ssl, cert = self_signed(tmp_path)
    sock = _free_socket()
    base = f"https://127.0.0.1:{sock.getsockname()[1]}"
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=server_ssl).start()
    cloud.ssl_context = client_context(cert)
    cloud.voice_url = base + "/voice"
    cloud.status_callback = base + "/status"
    try:
        yield base
        await cloud.hang_up_all()
    finally:
        await runner.cleanup()


@pytest.fixture
async def cloud() -> AsyncIterator[TwilioCloud]:
    async with TwilioCloud(time_scale=0.001, wait_timeout=5) as started:
        yield started
        unseen = started.unseen_errors()
        assert not unseen, unseen


class EmulatorHttpClient(AsyncTwilioHttpClient):
    """The real async client, sending https://api.twilio.com requests to the emulator.

    Basic auth goes in the Authorization header: aiohttp 3.14 deprecates the
    ``BasicAuth`` object the parent class builds (a DeprecationWarning is an error here).
    """

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the parent signature)
        allow_redirects: bool = False,
    ) -> Any:
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(*auth)
        return await super().request(
            method,
            url.replace("https://api.twilio.com", self.base),
            params=params,
            data=data,
            headers=headers,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


@contextlib.asynccontextmanager
async def rest_client(cloud: TwilioCloud, token: str | None = None) -> AsyncIterator[Client]:
    http = EmulatorHttpClient(cloud.rest_base)
    try:
        yield Client(cloud.account_sid, token or cloud.auth_token, http_client=http)
    finally:
        await http.close()


# -- signatures ---------------------------------------------------------------------------------


@given(
    url=st.sampled_from(
        [
            "https://127.0.0.1:8443/twilio/voice",
            "https://example.org/a?b=1&c=%20",
            "wss://h:9/twilio/media",
        ]
    ),
    params=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=6),
    token=st.text(min_size=1, max_size=40),
)
def test_signature_is_the_validators(url: str, params: dict[str, str], token: str) -> None:
    validator = RequestValidator(token)
    signed = signature(token, url, params.items())
    assert signed == validator.compute_signature(url, params)
    assert validator.validate(url, params, signed)


def test_a_changed_parameter_or_token_fails_validation() -> None:
    params = {"CallSid": "CA" + "1" * 32, "Digits": "1"}
    signed = signature("token-one-123456", "https://127.0.0.1:9/voice", params.items())
    assert not RequestValidator("token-one-123456").validate(
        "https://127.0.0.1:9/voice", {**params, "Digits": "2"}, signed
    )
    assert not RequestValidator("token-two-123456").validate(
        "https://127.0.0.1:9/voice", params, signed
    )


async def test_webhooks_arrive_signed_and_a_forged_call_is_refused(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    tiny = Tiny(cloud)
    tiny.twiml("/voice", saying("Hello"))
    async with serve(tmp_path, cloud, tiny.app):
        call = await cloud.incoming_call(from_="+923001234567", to="+9215")
        assert await call.wait_ended() == "completed"
        assert call.said == ["Hello"]
        first = tiny.params("/voice")[0]
        assert first["CallStatus"] == "ringing" and first["Direction"] == "inbound"
        assert first["From"] == "+923001234567" and first["CallSid"] == call.sid
        assert first["AccountSid"] == cloud.account_sid and first["ApiVersion"] == "2010-04-01"

        forged = await cloud.incoming_call(signature_token="not-the-real-token-000")
        with pytest.raises(CallFailed) as failed:
            await forged.wait_ended()
        assert failed.value.errors[0].code == 11200  # the app answered 403
        await forged.ended.wait()
        assert [e.code for e in forged.take_errors()] == [11200, 15003]  # and refused the callback
        assert tiny.refused == ["/voice", "/status"]


# -- strict TwiML ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ("<Response><Dance/></Response>", 12200),
        ("<Response><Dial>+15005550006</Dial></Response>", 12200),
        ("<Response><Gather><Redirect>/x</Redirect></Gather></Response>", 12200),
        ("<Response><Say><Play>x.wav</Play></Say></Response>", 12200),
        ("<Response><Gather numDigit='1'/></Response>", 12200),
        ("<Response><Gather input='keys'/></Response>", 12200),
        ("<Response><Pause length='-1'/></Response>", 12200),
        ("<Response><Redirect/></Response>", 12200),
        ("<Response><Connect><Stream url='ws://127.0.0.1/m'/></Connect></Response>", 31922),
        ("<Response><Connect><Stream url='https://127.0.0.1/m'/></Connect></Response>", 31922),
        ("<Response><Connect/></Response>", 12200),
        ("<Response><Stream url='wss://127.0.0.1/m'/></Response>", 12200),
        (
            "<Response><Connect><Stream url='wss://h/m'><Parameter name='t'/></Stream>"
            "</Connect></Response>",
            12200,
        ),
        ("<Response>hello<Hangup/></Response>", 12200),
        ("<Respond><Hangup/></Respond>", 12100),
        ("<Response><Say>unclosed</Response>", 12100),
    ],
)
def test_strict_twiml_refuses(document: str, code: int) -> None:
    with pytest.raises(TwimlError) as refused:
        parse(document)
    assert refused.value.code == code


def test_twiml_built_by_the_library_parses() -> None:
    response = VoiceResponse()
    gather = Gather(input="dtmf speech", num_digits=1, action="/next", timeout=3, language="ur-PK")
    gather.say("Press one", language="en-US")
    gather.pause(length=1)
    response.append(gather)
    connect = Connect()
    stream = connect.stream(url="wss://127.0.0.1:8443/twilio/media")
    stream.parameter(name="token", value="abc")
    response.append(connect)
    response.redirect("/again", method="POST")
    verbs = parse(str(response))
    assert [v.name for v in verbs] == ["Gather", "Connect", "Redirect"]
    assert verbs[1].children[0].children[0].attrs == {"name": "token", "value": "abc"}


async def test_bad_twiml_ends_the_call_with_twilios_error(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    tiny = Tiny(cloud)
    tiny.twiml("/voice", "<Response><Say>hi</Say><Gather><Dial>1</Dial></Gather></Response>")

    async def html(request: web.Request, form: dict[str, str]) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    tiny.route("/html", html)
    async with serve(tmp_path, cloud, tiny.app) as base:
        call = await cloud.incoming_call()
        with pytest.raises(CallFailed) as failed:
            await call.wait_ended()
        assert failed.value.errors[0].code == 12200
        assert call.said == ["We are sorry, an application error has occurred. Goodbye."]
        call = await cloud.incoming_call(url=base + "/html")
        with pytest.raises(CallFailed) as failed:
            await call.wait_ended()
        assert failed.value.errors[0].code == 12300


# -- executing TwiML -----------------------------------------------------------------------------


def menu_app(cloud: TwilioCloud) -> Tiny:
    tiny = Tiny(cloud)
    menu = VoiceResponse()
    gather = Gather(action="/choice", num_digits=1, input="dtmf speech", timeout=2)
    gather.say("Press 1 or say emergency")
    menu.append(gather)
    menu.say("We did not hear you")
    menu.redirect("/voice")
    tiny.twiml("/voice", menu)

    async def choice(request: web.Request, form: dict[str, str]) -> str:
        chosen = form.get("Digits") or form.get("SpeechResult", "")
        answer = VoiceResponse()
        answer.say(f"You chose {chosen}")
        answer.pause(length=1)
        answer.hangup()
        answer.say("never heard")
        return str(answer)

    tiny.route("/choice", choice)
    return tiny


async def test_gather_takes_digits_after_silence_falls_through(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    tiny = menu_app(cloud)
    async with serve(tmp_path, cloud, tiny.app) as base:
        call = await cloud.incoming_call()
        prompt = await call.gather()
        assert prompt.text == "Press 1 or say emergency"
        assert prompt.action == base + "/choice"
        await call.stay_silent()
        await call.gather()
        assert call.said == [
            "Press 1 or say emergency",
            "We did not hear you",
            "Press 1 or say emergency",
        ]
        await call.press("17")  # numDigits=1: the 7 waits for a later Gather
        assert await call.wait_ended() == "completed"
        assert call.said[-1] == "You chose 1"
        sent = tiny.params("/choice")[0]
        assert sent["Digits"] == "1" and sent["CallStatus"] == "in-progress"
        assert len(tiny.params("/voice")) == 2  # the Redirect after silence


async def test_gather_takes_speech(tmp_path: Path, cloud: TwilioCloud) -> None:
    tiny = menu_app(cloud)
    async with serve(tmp_path, cloud, tiny.app):
        call = await cloud.incoming_call()
        await call.speak("emergency", confidence=0.8)
        await call.wait_ended()
        sent = tiny.params("/choice")[0]
        assert sent["SpeechResult"] == "emergency" and float(sent["Confidence"]) == pytest.approx(
            0.8
        )
        assert "Digits" not in sent
        assert call.said[-1] == "You chose emergency"


async def test_finish_on_key_and_a_silent_caller(tmp_path: Path, cloud: TwilioCloud) -> None:
    tiny = Tiny(cloud)
    code = VoiceResponse()
    code.gather(action="/code", finish_on_key="#", timeout=1).say("Type your code then hash")
    code.say("Goodbye")
    tiny.twiml("/voice", code)
    tiny.twiml("/code", saying("Thanks"))
    async with serve(tmp_path, cloud, tiny.app):
        call = await cloud.incoming_call()
        await call.press("1234#")
        await call.wait_ended()
        assert tiny.params("/code")[0]["Digits"] == "1234"
        assert tiny.params("/code")[0]["FinishedOnKey"] == "#"

        silent = await cloud.incoming_call()
        await silent.stay_silent(None)  # every Gather times out, as on a real line
        assert await silent.wait_ended() == "completed"
        assert silent.said == ["Type your code then hash", "Goodbye"]


async def test_play_fetches_audio_and_reject(tmp_path: Path, cloud: TwilioCloud) -> None:
    tiny = Tiny(cloud)
    wav = audio.KNOWN_SPEECH.read_bytes()

    async def prompt(request: web.Request, form: dict[str, str]) -> web.Response:
        return web.Response(body=wav, content_type="audio/wav")

    tiny.route("/prompts/hello.wav", prompt, method="GET")
    response = VoiceResponse()
    response.play("prompts/hello.wav", loop=2)
    tiny.twiml("/voice", response)
    busy = VoiceResponse()
    busy.reject(reason="busy")
    tiny.twiml("/busy", busy)
    async with serve(tmp_path, cloud, tiny.app) as base:
        call = await cloud.incoming_call(status_events=("answered", "completed"))
        await call.wait_ended()
        assert call.played == [base + "/prompts/hello.wav"] * 2
        assert [p["CallStatus"] for p in tiny.params("/status")] == ["in-progress", "completed"]
        rejected = await cloud.incoming_call(url=base + "/busy")
        assert await rejected.wait_ended() == "busy"
        assert tiny.params("/status")[-1]["CallStatus"] == "busy"
        # A number that runs a TwiML Bin: Twilio hosts the document, no app is asked.
        webhooks = len(cloud.webhooks)
        binned = await cloud.incoming_call(twiml=str(saying("Hello from a bin")))
        assert await binned.wait_ended() == "completed"
        assert binned.said == ["Hello from a bin"] and binned.answered
        assert [w.kind for w in cloud.webhooks[webhooks:]] == ["status"]  # the number's callback


async def test_status_callbacks_carry_the_documented_fields(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    tiny = Tiny(cloud)
    waiting = VoiceResponse()
    waiting.gather(action="/x").say("Hold")
    tiny.twiml("/voice", waiting)
    async with serve(tmp_path, cloud, tiny.app):
        call = await cloud.incoming_call(status_events=("answered", "completed"))
        await call.gather()
        await call.hang_up()
        answered, completed = tiny.params("/status")
        assert answered["CallStatus"] == "in-progress" and answered["SequenceNumber"] == "0"
        assert completed["CallStatus"] == "completed" and completed["SequenceNumber"] == "1"
        assert completed["CallbackSource"] == "call-progress-events"
        assert completed["CallDuration"].isdigit() and "Timestamp" in completed


async def test_a_slow_webhook_fails_the_call_with_11205(tmp_path: Path, cloud: TwilioCloud) -> None:
    assert TwilioCloud().webhook_timeout == 15.0  # Twilio's documented limit is the default
    cloud.webhook_timeout = 0.3
    tiny = Tiny(cloud)

    async def slow(request: web.Request, form: dict[str, str]) -> str:
        await asyncio.sleep(1)
        return "<Response/>"

    tiny.route("/voice", slow)
    async with serve(tmp_path, cloud, tiny.app):
        call = await cloud.incoming_call()
        with pytest.raises(CallFailed) as failed:
            await call.wait_ended()
        assert failed.value.errors[0].code == 11205


async def test_replayed_webhook_is_identical(tmp_path: Path, cloud: TwilioCloud) -> None:
    tiny = menu_app(cloud)
    async with serve(tmp_path, cloud, tiny.app):
        call = await cloud.incoming_call()
        await call.gather()
        again = await call.replay_last_webhook()
        assert again.status == 200
        assert again.idempotency_token == call.requests[0].idempotency_token
        assert again.signature == call.requests[0].signature
        assert tiny.params("/voice") == [tiny.params("/voice")[0]] * 2


# -- REST through the real twilio client -----------------------------------------------------------


async def test_rest_refuses_bad_credentials_like_twilio(cloud: TwilioCloud) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{cloud.rest_base}/2010-04-01/Accounts/{cloud.account_sid}/Calls.json"
        async with session.post(
            url,
            data={"To": "+1"},
            headers={"Authorization": aiohttp.encode_basic_auth(cloud.account_sid, "wrong")},
        ) as r:
            assert r.status == 401
            body = await r.json()
    assert body == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }
    async with rest_client(cloud, token="not-the-token-0000000000") as client:
        with pytest.raises(TwilioRestException) as refused:
            await client.messages.create_async(
                to="+923001234567", from_=TWILIO_TEST_CALLER_ID, body="hi"
            )
    assert refused.value.status == 401 and refused.value.code == 20003
    assert cloud.messages == []


async def test_rest_calls_and_messages_through_the_twilio_client(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    tiny = Tiny(cloud)
    async with serve(tmp_path, cloud, tiny.app) as base, rest_client(cloud) as client:
        hold = VoiceResponse()
        hold.gather(action=base + "/x", num_digits=1).say("Please hold")
        created = await client.calls.create_async(
            to="+923001234567",
            from_=TWILIO_TEST_CALLER_ID,
            twiml=str(hold),
            status_callback=base + "/status",
            status_callback_event=["ringing", "answered", "completed"],
        )
        assert (
            created.sid.startswith("CA") and len(created.sid) == 34 and created.status == "queued"
        )
        call = await cloud.next_outbound()
        assert call.sid == created.sid and call.direction == "outbound-api"
        await call.answer()
        await call.gather()
        assert (await client.calls(created.sid).fetch_async()).status == "in-progress"

        # update interrupts the Gather that is waiting, as Twilio does
        updated = await client.calls(created.sid).update_async(twiml=str(saying("Moved")))
        assert updated.sid == created.sid
        await call.wait_for(lambda heard: heard[-1].value == "Moved")
        assert await call.wait_ended() == "completed"
        assert [p["CallStatus"] for p in tiny.params("/status")] == [
            "ringing",
            "in-progress",
            "completed",
        ]
        with pytest.raises(TwilioRestException) as ended:
            await client.calls(created.sid).update_async(twiml="<Response/>")
        assert ended.value.code == 21220

        message = await client.messages.create_async(
            to="+923001234567", from_=TWILIO_TEST_CALLER_ID, body="Link"
        )
        assert message.sid.startswith("SM") and message.status == "queued"
        assert cloud.messages[-1]["body"] == "Link" and cloud.messages[-1]["to"] == "+923001234567"
        with pytest.raises(TwilioRestException) as bad_to:
            await client.calls.create_async(
                to="12", from_=TWILIO_TEST_CALLER_ID, twiml="<Response/>"
            )
        assert bad_to.value.code == 21211
        with pytest.raises(TwilioRestException) as not_ours:
            await client.messages.create_async(to="+923001234567", from_="+15550001111", body="x")
        assert not_ours.value.code == 21606
        with pytest.raises(TwilioRestException) as missing:
            await client.calls("CA" + "0" * 32).fetch_async()
        assert missing.value.status == 404 and missing.value.code == 20404
    assert [r.status for r in cloud.requests if r.path.endswith("Messages.json")] == [201, 400]


async def test_outbound_not_answered_and_hung_up_by_the_api(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    tiny = Tiny(cloud)
    tiny.twiml("/out", saying("Hello from the helpline"))
    waiting = VoiceResponse()
    waiting.play("hold.wav", loop=0)
    tiny.twiml("/wait", waiting)

    async def hold(request: web.Request, form: dict[str, str]) -> web.Response:
        return web.Response(body=b"RIFF....", content_type="audio/wav")

    tiny.route("/hold.wav", hold, method="GET")
    async with serve(tmp_path, cloud, tiny.app) as base, rest_client(cloud) as client:
        cloud.answer_next_outbound("no-answer")
        await client.calls.create_async(
            to="+923001234567",
            from_=TWILIO_TEST_CALLER_ID,
            url=base + "/out",
            status_callback=base + "/status",
        )
        unanswered = await cloud.next_outbound()
        assert await unanswered.wait_ended() == "no-answer"
        assert tiny.params("/status")[-1]["CallStatus"] == "no-answer"
        assert tiny.params("/out") == []

        cloud.answer_next_outbound("answered", answered_by="human")
        created = await client.calls.create_async(
            to="+923001234567",
            from_=TWILIO_TEST_CALLER_ID,
            url=base + "/wait",
            machine_detection="Enable",
        )
        call = await cloud.next_outbound()
        await call.wait_for(lambda heard: len(heard) >= 3)  # the hold music loops
        assert tiny.params("/wait")[0]["AnsweredBy"] == "human"
        await client.calls(created.sid).update_async(status="completed")
        assert await call.wait_ended() == "completed"


# -- Media Streams ---------------------------------------------------------------------------------


def stream_app(
    cloud: TwilioCloud,
    base_holder: list[str],
    *,
    clear_after: int | None = None,
    misbehave: bool = False,
) -> Tiny:
    """Voice URL answers <Connect><Stream>; /media checks the signed upgrade and echoes audio."""
    tiny = Tiny(cloud)

    async def voice(request: web.Request, form: dict[str, str]) -> str:
        response = VoiceResponse()
        connect = Connect()
        connect.stream(url=base_holder[0].replace("https://", "wss://") + "/media").parameter(
            name="token", value="abc"
        )
        response.append(connect)
        response.say("Stream over")
        return str(response)

    tiny.route("/voice", voice)

    async def media(request: web.Request) -> web.StreamResponse:
        url = str(request.url).replace("https://", "wss://")
        if not tiny.validator.validate(url, {}, request.headers.get("X-Twilio-Signature", "")):
            return web.Response(status=403)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = ""
        echoed = 0
        async for message in ws:
            event = json.loads(message.data)
            tiny.got.append(event)
            if event["event"] == "start":
                sid = event["start"]["streamSid"]
                if misbehave:
                    await ws.send_json({"event": "hello", "streamSid": sid})
                    await ws.send_json({"event": "media", "media": {"payload": "/w=="}})
                    await ws.send_bytes(b"\xff" * 160)
                if clear_after is not None:
                    payload = base64.b64encode(audio.ulaw_encode(audio.tone(440, 2.0))).decode()
                    await ws.send_json(
                        {"event": "media", "streamSid": sid, "media": {"payload": payload}}
                    )
                    await ws.send_json(
                        {"event": "mark", "streamSid": sid, "mark": {"name": "after-tone"}}
                    )
            elif event["event"] == "media" and clear_after is None:
                await ws.send_json(
                    {
                        "event": "media",
                        "streamSid": sid,
                        "media": {"payload": event["media"]["payload"]},
                    }
                )
                echoed += 1
                if echoed % 25 == 0:
                    await ws.send_json(
                        {"event": "mark", "streamSid": sid, "mark": {"name": f"m{echoed}"}}
                    )
            elif event["event"] == "media" and int(event["media"]["chunk"]) == clear_after:
                await ws.send_json({"event": "clear", "streamSid": sid})
            elif event["event"] == "dtmf" and event["dtmf"]["digit"] == "9":
                await ws.close()
            elif event["event"] == "stop":
                break
        return ws

    tiny.app.router.add_get("/media", media)
    return tiny


async def test_media_stream_round_trip_correlates(tmp_path: Path, cloud: TwilioCloud) -> None:
    holder: list[str] = []
    tiny = stream_app(cloud, holder)
    async with serve(tmp_path, cloud, tiny.app) as base:
        holder.append(base)
        call = await cloud.incoming_call()
        stream = await call.wait_stream()
        assert stream.parameters == {"token": "abc"}
        sent = audio.known_speech_ulaw(1.0)
        await stream.send_audio(sent)
        await stream.press("5")
        await stream.wait_received(len(sent) + 2 * audio.FRAME_BYTES)
        score, _ = audio.align(audio.known_speech(1.0), audio.ulaw_decode(bytes(stream.received)))
        assert score >= 0.9
        await stream.wait_for(lambda s: len(s.marks) >= 2)
        assert stream.marks[:2] == ["m25", "m50"]
        await call.hang_up()
        assert stream.closed_by == "twilio"
    events = [e["event"] for e in tiny.got]
    assert events[:2] == ["connected", "start"] and events[-1] == "stop"
    assert "dtmf" in events
    start = tiny.got[1]
    assert start["sequenceNumber"] == "1" and start["start"]["callSid"] == call.sid
    assert start["start"]["mediaFormat"] == {
        "encoding": "audio/x-mulaw",
        "sampleRate": 8000,
        "channels": 1,
    }
    assert start["start"]["tracks"] == ["inbound"] and start["start"]["customParameters"] == {
        "token": "abc"
    }
    first_media = next(e for e in tiny.got if e["event"] == "media")
    assert first_media["media"]["track"] == "inbound" and first_media["media"]["chunk"] == "1"
    assert len(base64.b64decode(first_media["media"]["payload"])) == 160


async def test_app_closing_the_stream_runs_the_next_verb(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    holder: list[str] = []
    tiny = stream_app(cloud, holder)
    async with serve(tmp_path, cloud, tiny.app) as base:
        holder.append(base)
        call = await cloud.incoming_call()
        stream = await call.wait_stream()
        await call.press("9")  # dtmf on the stream; this app then closes the socket
        await call.wait_ended()
        assert stream.closed_by == "app"
        assert call.said == ["Stream over"]


async def test_clear_drops_unplayed_audio_and_answers_marks(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    holder: list[str] = []
    tiny = stream_app(cloud, holder, clear_after=10)
    async with serve(tmp_path, cloud, tiny.app) as base:
        holder.append(base)
        call = await cloud.incoming_call()
        stream = await call.wait_stream()
        await stream.wait_for(lambda s: s.marks == ["after-tone"])
        assert len(stream.received) == 16000
        assert 0 < len(stream.played) < 16000  # cleared long before the 2 s tone ended
        await call.hang_up()


async def test_forged_stream_upgrade_and_rest_update_during_a_stream(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    holder: list[str] = []
    tiny = stream_app(cloud, holder)
    async with serve(tmp_path, cloud, tiny.app) as base, rest_client(cloud) as client:
        holder.append(base)
        call = await cloud.incoming_call()
        stream = await call.wait_stream()
        await client.calls(call.sid).update_async(twiml=str(saying("Moved on")))
        await stream.wait_closed()
        await call.wait_ended()
        assert call.said == ["Moved on"]  # not "Stream over": the update replaced the TwiML
        assert stream.closed_by == "twilio"
        assert [e["event"] for e in tiny.got][-1] == "stop"

        forged = await cloud.incoming_call()
        forged.stream_signature_token = "not-the-real-token-000"  # webhooks genuine, upgrade forged
        with pytest.raises(CallFailed) as failed:
            await forged.wait_stream()
        assert [e.code for e in failed.value.errors] == [31920]
        await forged.wait_ended()
        assert forged.said == ["Stream over"]  # a refused stream ends <Connect>: the next verb runs


async def test_behind_a_proxy_twilio_signs_the_public_url_and_a_dropped_stream_sends_no_stop(
    cloud: TwilioCloud,
) -> None:
    public = "helpline.example.org"
    validator = RequestValidator(cloud.auth_token)
    signed: list[bool] = []
    got: list[str] = []

    async def voice(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        sig = request.headers.get("X-Twilio-Signature", "")
        signed.append(validator.validate(f"https://{public}/voice", form, sig))
        response = VoiceResponse()
        connect = Connect()
        connect.stream(url=f"wss://{public}/media")
        response.append(connect)
        response.say("Stream over")
        return web.Response(text=str(response), content_type="text/xml")

    async def media(request: web.Request) -> web.WebSocketResponse:
        sig = request.headers.get("X-Twilio-Signature", "")
        signed.append(validator.validate(f"wss://{public}/media", {}, sig))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            got.append(json.loads(message.data)["event"])
        return ws

    app = web.Application()
    app.router.add_post("/voice", voice)
    app.router.add_get("/media", media)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    sock = _free_socket()
    await web.SockSite(runner, sock).start()  # plain http: the proxy ends TLS
    cloud.proxies[public] = f"127.0.0.1:{sock.getsockname()[1]}"
    try:
        call = await cloud.incoming_call(url=f"https://{public}/voice")
        stream = await call.wait_stream()
        await stream.wait_for(lambda s: s.sent_frames > 0)
        await stream.drop()  # the connection breaks
        await call.wait_ended()
        assert signed == [True, True]  # over the public https and wss URLs
        assert stream.closed_by == "twilio" and "stop" not in got and "media" in got
        assert call.said == ["Stream over"]  # <Connect> ended: the next verb ran
    finally:
        await runner.cleanup()


async def test_messages_twilio_would_not_accept_fail_the_call(
    tmp_path: Path, cloud: TwilioCloud
) -> None:
    holder: list[str] = []
    tiny = stream_app(cloud, holder, misbehave=True)
    async with serve(tmp_path, cloud, tiny.app) as base:
        holder.append(base)
        call = await cloud.incoming_call()
        with pytest.raises(CallFailed):
            await call.wait_for(lambda heard: len(call.errors) >= 3)
        await call.hang_up()
        assert [e.code for e in call.take_errors()] == [31924, 31924, 31950]


# -- audio helpers ---------------------------------------------------------------------------


def test_mulaw_is_g711() -> None:
    every = np.arange(-32768, 32768, dtype=np.int16)
    decoded = audio.ulaw_decode(audio.ulaw_encode(every)).astype(np.int32)
    error = np.abs(decoded - every.astype(np.int32))
    assert (error <= 0.07 * np.abs(every.astype(np.int32)) + 16).all()
    codes = np.arange(256, dtype=np.uint8).tobytes()
    again = audio.ulaw_encode(audio.ulaw_decode(codes))
    assert [a for a, b in zip(again, codes, strict=True) if a != b] == [0xFF]  # 0x7F is -0
    assert audio.ulaw_encode([0]) == audio.ULAW_SILENCE
    assert audio.ulaw_encode([1000]) == bytes([0xCE]) and audio.ulaw_encode([-1000]) == bytes(
        [0x4E]
    )


def test_correlation_finds_the_same_audio_and_only_it() -> None:
    speech = audio.known_speech(1.0)
    delayed = np.concatenate([np.zeros(777, np.int16), (speech * 0.5).astype(np.int16)])
    score, lag = audio.align(speech, delayed)
    assert score > 0.99 and lag == 777
    assert audio.correlation(speech, audio.tone(440, 1.5)) < 0.5
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 3000, 12000).astype(np.int16)
    assert audio.correlation(speech, noise) < 0.3
    round_trip = audio.resample(audio.resample(speech, 8000, 48000), 48000, 8000)
    assert audio.correlation(speech, round_trip) > 0.95


# -- the https app fixture ------------------------------------------------------------------------


async def test_https_app_serves_safecall_for_the_cloud(https_app: HttpsApp) -> None:
    cloud = https_app.cloud
    assert https_app.settings.twilio_api_base == cloud.rest_base
    assert https_app.settings.public_url == https_app.url and https_app.url.startswith(
        "https://127.0.0.1:"
    )
    assert cloud.voice_url == https_app.url + "/twilio/voice"
    answer = await cloud.signed_request("GET", https_app.url + "/healthz")
    assert answer.status == 200
    assert np.frombuffer(audio.known_speech_ulaw(0.1), np.uint8).size == 800
