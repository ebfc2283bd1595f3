"""An emulator of Twilio's cloud for whole-call tests, built from Twilio's documented contract.

Nothing of safecall is mocked: the app runs for real over https, the real
``twilio`` library builds its TwiML and calls the REST API, and this package
plays the part we cannot reach, Twilio itself. Each module cites the Twilio
pages it follows.

Modules
-------
``cloud.TwilioCloud``   REST server (Calls, Messages) + the phone network that calls the app.
``call.Call``           one call: strict TwiML executor + the caller the test scripts.
``stream.MediaStream``  Twilio's side of ``<Connect><Stream>`` (wss, signed upgrade, real pace).
``twiml.parse``         strict TwiML parser (12100/12200/31922 refusals).
``signing.signature``   X-Twilio-Signature from the docs (tests prove it equals the library's).
``audio``               numpy G.711 mu-law, resampling, correlation, the known-speech clip.
``tls.self_signed``     a certificate for 127.0.0.1 so the app can be served over https/wss.
``fixtures``            ``twilio_cloud``, ``https_app`` fixtures and ``serve_https``.

Public API
----------
``TwilioCloud(*, account_sid=None, auth_token=None, voice_url=None, status_callback=None,
ssl_context=None, webhook_timeout=15.0, time_scale=0.01, wait_timeout=10.0,
stream_silence=True, max_webhooks=1000)``:
  ``await start()`` / ``await close()`` / ``async with``; ``rest_base`` (http://127.0.0.1:port);
  ``account_sid``, ``auth_token``, ``owned_numbers`` (valid From numbers);
  ``await incoming_call(from_="+923001234567", to="+9215", *, url=None, method="POST",
  status_callback=None, status_events=("completed",), signature_token=None,
  forwarded_from=None, caller_name=None, twiml=None) -> Call`` (``twiml``: the number runs
  a TwiML Bin, no app is asked);
  ``answer_next_outbound(outcome="answered"|"no-answer"|"busy"|"failed", *, answered_by=None)``;
  ``await next_outbound(timeout=None) -> Call``; ``await hang_up_all()``;
  ``await signed_request(method, url, params=None, *, token=None) -> WebhookRequest``;
  ``calls`` {sid: Call}, ``requests`` [RestRequest], ``messages`` [Message JSON dict],
  ``webhooks`` [WebhookRequest], ``errors`` / ``take_errors()`` / ``unseen_errors()``;
  ``proxies`` {public host: "host:port"} (a reverse proxy that ends TLS in front of an app
  served in plain http: Twilio signs the public https/wss URL and reaches http/ws there),
  ``reach(url)`` (where a request to ``url`` goes).

``Call``: ``sid``, ``status``, ``direction``, ``heard`` [Heard(verb "say"|"play"|"digits",
value, language)], ``said``, ``played``, ``requests``, ``errors``, ``stream``, ``streams``;
  caller: ``await press(digits)``, ``await speak(text, confidence=0.92)``,
  ``await stay_silent(times=1 | None)``, ``await hang_up()``;
  waiting: ``await gather() -> GatherPrompt(attrs, heard, action, text)``,
  ``await wait_for(lambda heard: ...)``, ``await wait_stream() -> MediaStream``,
  ``await wait_ended() -> status``; ``await replay_last_webhook() -> WebhookRequest``;
  outbound callee: ``await answer(answered_by=None)``,
  ``await decline("no-answer"|"busy"|"failed")``;
  ``take_errors()``. Waiting methods raise ``CallFailed`` (an AssertionError listing
  Twilio's error codes) as soon as Twilio reports an error, and AssertionError after
  ``wait_timeout`` or when the call ends first, with what the caller heard.

``MediaStream``: ``sid``, ``parameters`` (customParameters), ``received`` (bytes the app sent),
``played`` (what the caller heard at real pace, after ``clear``), ``marks`` (echoed names),
``messages`` (everything the app sent), ``closed``, ``closed_by`` ("app"|"twilio"),
``close_code`` (the WebSocket's, once closed);
``await send_audio(ulaw)`` (real pace, returns when sent), ``await press(digits)``,
``await drop()`` (the connection breaks: no ``stop``),
``await wait_received(n_bytes)``, ``await wait_for(lambda stream: ...)``, ``await wait_closed()``.

``audio``: ``ulaw_encode(int16) -> bytes``, ``ulaw_decode(bytes) -> int16``, ``ULAW_TO_LINEAR``,
``resample(x, from_rate, to_rate)``, ``known_speech(seconds=None)``,
``known_speech_ulaw(seconds=None)``,
``tone(freq, seconds)``, ``frames(ulaw)``, ``align(sent, received) -> (score, lag)``,
``correlation(sent, received) -> float`` (compare at one sample rate; >= 0.9 means "same audio").

Fixtures (import them into your conftest:
``from tests.twilio.fixtures import https_app, twilio_cloud  # noqa: F401``):
``twilio_cloud`` -> TwilioCloud (teardown fails on Twilio errors the test never saw);
``https_app`` -> HttpsApp(url, settings, app, cloud, cert_path, client_ssl): ``create_app`` over
https on 127.0.0.1 with ``settings`` (SQLite and PostgreSQL) wired to the cloud;
``serve_https(settings, cloud, tmp_path, *, clock=None, caller_id=...)`` for other variants.

Example
-------
::

    from tests.twilio import audio

    async def test_caller_reaches_an_officer(https_app):
        cloud = https_app.cloud
        call = await cloud.incoming_call(from_="+923001234567")
        prompt = await call.gather()            # the language menu waits
        await call.press("2")                   # English
        await call.stay_silent()                # no answer to the next question: falls through
        await call.speak("emergency")
        ...                                     # an officer accepts: the app updates the call
        stream = await call.wait_stream()       # <Connect><Stream> opened the app's wss
        assert stream.parameters["token"]
        await stream.send_audio(audio.known_speech_ulaw())
        await call.press("1")                   # dtmf on the stream
        await call.hang_up()                    # stop, then the completed callback
        assert audio.correlation(audio.known_speech(), audio.ulaw_decode(officer_heard)) >= 0.9

Outbound (callback) calls: ``cloud.answer_next_outbound("answered")`` before the app dials,
or ``call = await cloud.next_outbound(); await call.answer()``. SMS: ``cloud.messages[-1]["body"]``.
"""
