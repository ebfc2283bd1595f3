"""Twilio Media Streams over one WebSocket: the messages in both directions.

From Twilio (https://www.twilio.com/docs/voice/media-streams/websocket-messages):
``connected``, ``start`` (``streamSid``, ``callSid``, ``customParameters``,
``mediaFormat``), ``media`` (``payload``: base64 mu-law, 8 kHz mono), ``dtmf``
(``digit``), ``mark`` (``name``, echoed once the audio before it has played)
and ``stop``. To Twilio: ``media``, ``mark`` and ``clear`` (only
``<Connect><Stream>`` streams are two-way). Anything else Twilio may add is
ignored, as its documentation asks.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

MEDIA_TAIL = '"}}'
MAX_PAYLOAD = 8000
"""Bytes of mu-law in one ``media`` message we take (Twilio sends 160: 20 ms)."""


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000


@dataclass(frozen=True, slots=True)
class Media:
    payload: bytes
    timestamp: int | None = None
    """Milliseconds from the start of the stream (Twilio's ``media.timestamp``), when given."""


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class Mark:
    name: str


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Closed:
    """The socket closed; ``clean`` is False when Twilio never sent ``stop``."""

    clean: bool


Event = Start | Media | Dtmf | Mark | Stop | Closed


def read_event(text: str) -> Event | None:
    """The message in ``text``; None for what the bridge does not use or cannot read."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # deep nesting raises RecursionError
        return None
    if not isinstance(data, dict):
        return None
    kind = data.get("event")
    body = data.get(kind) if isinstance(kind, str) else None
    body = body if isinstance(body, dict) else {}
    try:
        if kind == "media":
            if body.get("track", "inbound") not in ("inbound", "inbound_track"):
                return None
            # strict: what ``b64decode(validate=True)`` checks, without its regular expression
            payload = binascii.a2b_base64(body["payload"], strict_mode=True)
            stamp = str(body.get("timestamp", ""))
            plain = stamp.isascii() and stamp.isdigit() and len(stamp) <= 12
            timestamp = int(stamp) if plain else None
            return Media(payload, timestamp) if 0 < len(payload) <= MAX_PAYLOAD else None
        if kind == "start":
            return _start(data, body)
        if kind == "dtmf":
            return Dtmf(str(body["digit"]))
        if kind == "mark":
            return Mark(str(body["name"]))
        if kind == "stop":
            return Stop()
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None
    return None


def _start(data: dict[str, Any], body: dict[str, Any]) -> Start:
    params = body.get("customParameters") or {}
    media_format = body.get("mediaFormat") or {}
    return Start(
        stream_sid=str(body.get("streamSid") or data["streamSid"]),
        call_sid=str(body["callSid"]),
        custom_parameters={str(k): str(v) for k, v in params.items()},
        encoding=str(media_format.get("encoding", "audio/x-mulaw")),
        sample_rate=int(media_format.get("sampleRate", 8000)),
    )


class MediaStream:
    """One Twilio stream's socket: events in, audio and marks out."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.stopped = False
        """Twilio sent ``stop``: the caller hung up (or the call moved on)."""
        self.stream_sid = ""

    @property
    def stream_sid(self) -> str:
        return self._stream_sid

    @stream_sid.setter
    def stream_sid(self, value: str) -> None:
        # A ``media`` message is built 50 times a second: its JSON around the payload once.
        self._stream_sid = value
        sid = json.dumps(value)
        self._media_head = f'{{"streamSid":{sid},"event":"media","media":{{"payload":"'

    async def next_event(self) -> Event:
        """The next message the bridge acts on; :class:`Closed` once the socket is gone."""
        while True:
            frame = await self.ws.receive()
            if frame.type is WSMsgType.TEXT:
                event = read_event(frame.data)
                if isinstance(event, Stop):
                    self.stopped = True
                if event is not None:
                    return event
            elif frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return Closed(clean=self.stopped)
            elif frame.type is WSMsgType.ERROR:
                return Closed(clean=False)

    async def _send(self, message: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        try:
            await self.ws.send_str(json.dumps({"streamSid": self.stream_sid, **message}))
        except (ConnectionError, RuntimeError):
            pass  # the reader sees the close and ends the bridge

    async def send_media(self, payload: bytes) -> None:
        if self.ws.closed:
            return
        text = self._media_head + binascii.b2a_base64(payload, newline=False).decode() + MEDIA_TAIL
        try:
            await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass  # the reader sees the close and ends the bridge

    async def send_mark(self, name: str) -> None:
        await self._send({"event": "mark", "mark": {"name": name}})

    async def send_clear(self) -> None:
        await self._send({"event": "clear"})

    async def close(self) -> None:
        if not self.ws.closed:
            await self.ws.close()
