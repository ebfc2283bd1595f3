"""Twilio's side of a bidirectional Media Stream (``<Connect><Stream>``), as a WebSocket client.

Follows https://www.twilio.com/docs/voice/media-streams/websocket-messages and
https://www.twilio.com/docs/voice/twiml/stream:

* the upgrade request carries ``X-Twilio-Signature`` (the webhook scheme over the
  ``wss://`` URL, no parameters; https://www.twilio.com/docs/usage/webhooks/webhooks-security);
* Twilio sends ``connected`` (no sequenceNumber), then ``start`` (sequenceNumber "1":
  accountSid, streamSid, callSid, tracks ["inbound"], customParameters,
  mediaFormat {encoding "audio/x-mulaw", sampleRate 8000, channels 1}), then
  ``media`` every 20 ms (track "inbound", chunk, timestamp in ms, base64 payload
  of 160 mu-law bytes), ``dtmf`` ({track "inbound_track", digit}), ``mark`` (the
  name of a mark the app sent, once the audio before it has played) and ``stop``
  ({accountSid, callSid}); every value except mediaFormat's numbers is a string;
* the app may send ``media`` ({payload}), ``mark`` ({name}) and ``clear``, each with
  the streamSid. ``clear`` drops the audio not yet played and answers its pending
  marks. Anything else is Twilio error 31924 (protocol error,
  https://www.twilio.com/docs/api/errors/31924) or 31950 (undecodable message,
  https://www.twilio.com/docs/api/errors/31950); a refused upgrade is 31920
  (https://www.twilio.com/docs/api/errors/31920).

Audio from the "caller" is real-paced: one 20 ms frame per 20 ms of wall clock,
silence between what the test sends (a phone line always carries audio).
Audio from the app is "played" at the same pace: ``played`` is what the caller
heard, ``received`` everything the app sent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import ssl
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from tests.twilio.audio import FRAME_BYTES, ULAW_SILENCE
from tests.twilio.errors import TwilioError
from tests.twilio.signing import SIGNATURE_HEADER, signature

if TYPE_CHECKING:
    from tests.twilio.call import Call

FRAME_SECONDS = 0.02
_GONE = (ConnectionError, RuntimeError, aiohttp.ClientError)
"""What sending on a socket the other side dropped raises."""


class StreamRefused(Exception):
    """The WebSocket could not be opened; ``error`` says why, in Twilio's terms."""

    def __init__(self, error: TwilioError) -> None:
        super().__init__(str(error))
        self.error = error


class _Mark:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class MediaStream:
    """One open Media Stream of a call. Made by the emulator when it runs ``<Connect><Stream>``."""

    def __init__(
        self,
        call: Call,
        *,
        sid: str,
        url: str,
        name: str | None,
        parameters: dict[str, str],
        session: aiohttp.ClientSession,
        ssl_context: ssl.SSLContext | None,
        token: str,
        continuous: bool = True,
    ) -> None:
        self.call = call
        self.sid = sid
        """The stream's ``MZ…`` sid (``streamSid``)."""
        self.url = url
        self.name = name
        self.parameters = parameters
        """``customParameters`` sent in ``start`` (from the ``<Parameter>`` nouns)."""
        self.received = bytearray()
        """Every mu-law byte the app sent in ``media`` messages, in order."""
        self.played = bytearray()
        """The app's audio as the caller heard it, at real pace (``clear`` drops the rest)."""
        self.marks: list[str] = []
        """Names of the marks echoed back to the app, in order."""
        self.messages: list[dict[str, Any]] = []
        """Every message the app sent, decoded."""
        self.sent_frames = 0
        """How many 20 ms caller frames were sent (test audio and silence)."""
        self.closed = asyncio.Event()
        self.closed_by: str | None = None
        """"app" when the app closed the socket, "twilio" when the emulator did (hang-up...)."""
        self.close_code: int | None = None
        """The WebSocket close code, once the socket has closed."""
        self._session = session
        self._ssl = ssl_context
        self._token = token
        self._continuous = continuous
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._seq = 0
        self._chunk = 0
        self._send_lock = asyncio.Lock()
        self._mic = bytearray()
        self._mic_sent = 0
        self._mic_queued = 0
        self._mic_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._mic_ready = asyncio.Event()
        self._playback: deque[bytes | _Mark] = deque()
        self._playback_ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- the test's side ------------------------------------------------------------------

    async def send_audio(self, ulaw: bytes) -> None:
        """Speak ``ulaw`` (8 kHz mu-law) into the call at real pace; returns once all was sent."""
        if self.closed.is_set():
            raise AssertionError("the media stream is closed")
        if not ulaw:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._mic += ulaw
        self._mic_queued += len(ulaw)
        self._mic_waiters.append((self._mic_queued, future))
        self._mic_ready.set()
        await asyncio.wait_for(asyncio.shield(future), len(ulaw) / 8000 + 10)

    async def press(self, digits: str) -> None:
        """The caller presses keys: one ``dtmf`` message per digit."""
        for digit in digits:
            if digit not in "0123456789*#":
                raise ValueError(f"{digit!r} is not a phone key")
            await self._send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    async def wait_for(self, predicate: Callable[[MediaStream], bool], limit: float = 10) -> None:
        """Wait until ``predicate(stream)`` holds (checked on every message and when closed)."""
        async with asyncio.timeout(limit):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()

    async def wait_received(self, n_bytes: int, limit: float = 10) -> bytes:
        """Wait until the app has sent at least ``n_bytes`` of audio; returns ``received``."""
        await self.wait_for(lambda s: len(s.received) >= n_bytes or s.closed.is_set(), limit)
        if len(self.received) < n_bytes:
            raise AssertionError(
                f"the stream closed after {len(self.received)} of {n_bytes} audio bytes"
            )
        return bytes(self.received)

    async def wait_closed(self, limit: float = 10) -> None:
        async with asyncio.timeout(limit):
            await self.closed.wait()

    # -- lifecycle (driven by the call) -------------------------------------------------

    async def open(self) -> None:
        """Open the signed WebSocket and send ``connected`` and ``start``; raises StreamRefused."""
        headers = {
            SIGNATURE_HEADER: signature(self._token, self.url),
            "User-Agent": "Twilio.TmeWs/1.0",
        }
        try:
            self._ws = await self._session.ws_connect(
                self.call.cloud.reach(self.url),
                headers=headers,
                ssl=self._ssl or True,
                autoping=True,
                max_msg_size=0,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise StreamRefused(
                TwilioError(
                    31920, f"the WebSocket upgrade was answered {exc.status}, not 101", self.url
                )
            ) from None
        except aiohttp.ClientSSLError as exc:
            raise StreamRefused(TwilioError(31910, f"TLS failed: {exc}", self.url)) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise StreamRefused(
                TwilioError(31902, f"connection refused: {exc}", self.url)
            ) from None
        await self._ws.send_str(
            json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        )
        await self._send(
            {
                "event": "start",
                "start": {
                    "accountSid": self.call.account_sid,
                    "streamSid": self.sid,
                    "callSid": self.call.sid,
                    "tracks": ["inbound"],
                    "customParameters": dict(self.parameters),
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        )
        self._tasks = [
            asyncio.create_task(self._reader(), name=f"stream {self.sid} reader"),
            asyncio.create_task(self._microphone(), name=f"stream {self.sid} microphone"),
            asyncio.create_task(self._player(), name=f"stream {self.sid} player"),
        ]

    async def stop(self) -> None:
        """Twilio ends the stream (hang-up, redirect): ``stop``, then close. Safe to call twice."""
        if self._ws is not None and not self._ws.closed and not self.closed.is_set():
            with contextlib.suppress(*_GONE):
                await self._send(
                    {
                        "event": "stop",
                        "stop": {"accountSid": self.call.account_sid, "callSid": self.call.sid},
                    }
                )
            self.closed_by = self.closed_by or "twilio"
        await self._shutdown()

    async def drop(self) -> None:
        """The connection drops (a network failure): the socket closes with no ``stop``; the
        call goes on to the TwiML after ``<Connect>``, as when the app closes it."""
        self.closed_by = self.closed_by or "twilio"
        await self._shutdown()

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, *_GONE):
                    await task
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(*_GONE):
                await self._ws.close()
        for _, future in self._mic_waiters:
            if not future.done():
                future.set_exception(
                    AssertionError("the media stream closed before the audio was sent")
                )
                future.exception()  # retrieved: nobody may be waiting any more
        self._mic_waiters.clear()
        self.closed.set()
        self._changed.set()

    # -- internals -----------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        async with self._send_lock:
            self._seq += 1
            message = {"event": message["event"], "sequenceNumber": str(self._seq), **message}
            message["streamSid"] = self.sid
            await self._ws.send_str(json.dumps(message))

    async def _microphone(self) -> None:
        try:
            await self._speak_forever()
        except _GONE:
            self._spawn_shutdown()

    async def _speak_forever(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            if not self._mic and not self._continuous:
                self._mic_ready.clear()
                await self._mic_ready.wait()
                next_at = loop.time()
            frame = bytes(self._mic[:FRAME_BYTES])
            del self._mic[:FRAME_BYTES]
            self._mic_sent += len(frame)
            frame += ULAW_SILENCE * (FRAME_BYTES - len(frame))
            self._chunk += 1
            await self._send(
                {
                    "event": "media",
                    "media": {
                        "track": "inbound",
                        "chunk": str(self._chunk),
                        "timestamp": str((self._chunk - 1) * 20),
                        "payload": base64.b64encode(frame).decode(),
                    },
                }
            )
            self.sent_frames += 1
            for _, future in [w for w in self._mic_waiters if w[0] <= self._mic_sent]:
                if not future.done():
                    future.set_result(None)
            self._mic_waiters = [w for w in self._mic_waiters if w[0] > self._mic_sent]
            next_at += FRAME_SECONDS
            delay = next_at - loop.time()
            if delay < -0.2:  # the loop stalled: resynchronise instead of bursting
                next_at = loop.time()
            await asyncio.sleep(max(0.0, delay))

    async def _player(self) -> None:
        try:
            await self._play_forever()
        except _GONE:
            self._spawn_shutdown()

    async def _play_forever(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            while self._playback and isinstance(self._playback[0], _Mark):
                await self._echo_mark(self._playback.popleft())  # type: ignore[arg-type]
            if not self._playback:
                self._playback_ready.clear()
                await self._playback_ready.wait()
                next_at = loop.time()
                continue
            frame = bytearray()
            while (
                self._playback and len(frame) < FRAME_BYTES and isinstance(self._playback[0], bytes)
            ):
                head = self._playback.popleft()
                assert isinstance(head, bytes)
                take = FRAME_BYTES - len(frame)
                frame += head[:take]
                if len(head) > take:
                    self._playback.appendleft(head[take:])
            self.played += frame
            self._changed.set()
            next_at += len(frame) / 8000
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _echo_mark(self, mark: _Mark) -> None:
        self.marks.append(mark.name)
        await self._send({"event": "mark", "mark": {"name": mark.name}})
        self._changed.set()

    async def _reader(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    with contextlib.suppress(*_GONE):
                        await self._handle(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    self._protocol_error(31950, "binary frames cannot be decoded; send JSON text")
                elif message.type == aiohttp.WSMsgType.ERROR:
                    break
        finally:
            self.close_code = self._ws.close_code
            if not self.closed.is_set():
                self.closed_by = self.closed_by or "app"
                asyncio.get_running_loop().call_soon(self._spawn_shutdown)

    def _spawn_shutdown(self) -> None:
        if not self.closed.is_set():
            task = asyncio.create_task(self._shutdown())
            self.call.cloud.keep(task)

    def _protocol_error(self, code: int, message: str) -> None:
        self.call.record_error(TwilioError(code, message, self.url))
        self._changed.set()

    async def _handle(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            self._protocol_error(31950, f"not JSON: {data[:80]!r}")
            return
        if not isinstance(message, dict):
            self._protocol_error(31950, f"not a JSON object: {data[:80]!r}")
            return
        self.messages.append(message)
        self._changed.set()
        event = message.get("event")
        if event not in ("media", "mark", "clear"):
            self._protocol_error(31924, f"the app may send media, mark or clear, not {event!r}")
            return
        if message.get("streamSid") != self.sid:
            self._protocol_error(31924, f"{event} must carry streamSid {self.sid}")
            return
        if event == "media":
            payload = (message.get("media") or {}).get("payload")
            try:
                audio = (
                    base64.b64decode(payload, validate=True) if isinstance(payload, str) else b""
                )
            except (binascii.Error, ValueError):
                audio = b""
            if not audio:
                self._protocol_error(31924, "media needs media.payload: base64 mu-law audio")
                return
            if audio[:4] == b"RIFF":
                self._protocol_error(
                    31924, "media.payload must be raw mu-law, without a WAV header"
                )
                return
            self.received += audio
            self._playback.append(audio)
        elif event == "mark":
            name = (message.get("mark") or {}).get("name")
            if not isinstance(name, str) or not name:
                self._protocol_error(31924, "mark needs mark.name")
                return
            self._playback.append(_Mark(name))
        else:  # clear: drop unplayed audio, answer the marks that were waiting for it
            pending = [item for item in self._playback if isinstance(item, _Mark)]
            self._playback.clear()
            for mark in pending:
                await self._echo_mark(mark)
        self._playback_ready.set()
