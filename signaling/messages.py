"""The signaling protocol, version 1: every message a page and the server exchange.

A message is one WebSocket text frame holding a JSON object with ``"v": 1``
and a ``"type"``. Pages send the *client* messages below; the server answers
with the *server* messages. Every client message is validated against its
model (unknown fields are refused), and :func:`parse` turns anything else into
a :class:`~signaling.errors.SignalingError` with a stable code, so a bad
message costs the sender one error and nothing more.

Sequence numbers: messages that are relayed to the other side (offer, answer,
candidate, hangup, chat, dtmf) carry ``seq``, numbered by the page from 1 and
continuing across reconnections; the server acknowledges them with ``ack``.
Messages the server puts in a page's mailbox (relayed ones, peer-joined,
peer-left) carry the server's own ``seq`` for that page, which the page
acknowledges with ``ack``. docs/signaling.md is the page author's guide.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from signaling.errors import SignalingError

VERSION = 1
MAX_SDP = 32 * 1024
"""Characters in one SDP: ample for audio, video and data with every candidate inline."""
MAX_CHAT = 2000
"""Characters in one chat message."""
MAX_SEQ = 2**53 - 1
"""Largest sequence number: the largest integer JavaScript holds exactly."""

Side = Literal["citizen", "officer"]
SIDES: tuple[Side, Side] = ("citizen", "officer")
Author = Literal["citizen", "officer", "colleague"]
"""Who wrote a chat message: her, the officer holding the contact, or the colleague she
asked to join (a warm transfer: a second officer seat, ``<session>-colleague``)."""

SessionId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Token = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,128}$")]
Seq = Annotated[int, Field(ge=1, le=MAX_SEQ)]
AckSeq = Annotated[int, Field(ge=0, le=MAX_SEQ)]


PEER: dict[Side, Side] = {"citizen": "officer", "officer": "citizen"}


def peer_of(side: Side) -> Side:
    """The other side of a session."""
    return PEER[side]


def _sdp(value: str) -> str:
    if not value.startswith("v=0"):
        raise ValueError("an SDP starts with 'v=0'")
    return value


Sdp = Annotated[str, Field(min_length=3, max_length=MAX_SDP), AfterValidator(_sdp)]


def _chat(value: str) -> str:
    if not value.strip():
        raise ValueError("a chat message needs some text")
    return value


ChatText = Annotated[str, Field(min_length=1, max_length=MAX_CHAT), AfterValidator(_chat)]


Digit = Annotated[str, Field(pattern=r"^[0-9*#A-D]$")]
"""One telephone key: 0-9, *, # (and A-D, which some phones still have)."""


Version = Annotated[int, Field(ge=VERSION, le=VERSION)]
"""Exactly the integer 1 (strict: not true, not 1.0)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: Version
    """Protocol version; only 1 exists."""


# ---- client -> server -------------------------------------------------------


class Join(_Message):
    """Take one side of a session with the token the page was given for it."""

    type: Literal["join"]
    session: SessionId
    token: Token
    """The side's join token; it also says which side this page is."""


class Resume(_Message):
    """Take the side back after a lost connection, keeping the page's state."""

    type: Literal["resume"]
    session: SessionId
    resume_token: Token
    """From ``joined``; kept in the page's memory only."""
    last_seq: AckSeq
    """The last server ``seq`` the page processed; later ones are sent again."""


class Offer(_Message):
    type: Literal["offer"]
    seq: Seq
    sdp: Sdp


class Answer(_Message):
    type: Literal["answer"]
    seq: Seq
    sdp: Sdp


class IceCandidate(BaseModel):
    """``RTCIceCandidate.toJSON()``; an empty ``candidate`` means end of candidates."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    candidate: str = Field(max_length=2048)
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=1023)
    usernameFragment: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _placed(self) -> IceCandidate:
        if self.candidate and self.sdpMid is None and self.sdpMLineIndex is None:
            raise ValueError("a candidate needs sdpMid or sdpMLineIndex")
        return self


class Candidate(_Message):
    """A trickled ICE candidate; ``null`` (or an empty candidate) ends the candidates."""

    type: Literal["candidate"]
    seq: Seq
    candidate: IceCandidate | None


class Hangup(_Message):
    """End the call for both sides."""

    type: Literal["hangup"]
    seq: Seq


class Chat(_Message):
    type: Literal["chat"]
    seq: Seq
    text: ChatText


class Dtmf(_Message):
    """A key the caller pressed on her phone (sent by the phone bridge)."""

    type: Literal["dtmf"]
    seq: Seq
    digit: Digit


class Ack(_Message):
    """Everything up to ``seq`` has arrived (cumulative)."""

    type: Literal["ack"]
    seq: AckSeq


class Ping(_Message):
    """Is the connection alive? Answered by ``pong`` with the same nonce."""

    type: Literal["ping"]
    nonce: int | None = Field(default=None, ge=0, le=MAX_SEQ)


Relayed = Offer | Answer | Candidate | Hangup | Chat | Dtmf
"""Client messages that go to the other side."""
ClientMessage = Annotated[
    Join | Resume | Offer | Answer | Candidate | Hangup | Chat | Dtmf | Ack | Ping,
    Field(discriminator="type"),
]
CLIENT_TYPES: dict[str, type[_Message]] = {
    "join": Join,
    "resume": Resume,
    "offer": Offer,
    "answer": Answer,
    "candidate": Candidate,
    "hangup": Hangup,
    "chat": Chat,
    "dtmf": Dtmf,
    "ack": Ack,
    "ping": Ping,
}
RELAYED_TYPES = frozenset({"offer", "answer", "candidate", "hangup", "chat", "dtmf"})

_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
_validate_client: Callable[[str], ClientMessage] = _client_adapter.validator.validate_json
"""The adapter's validator, called directly: its wrapper costs a fifth as much again."""


# ---- server -> client -------------------------------------------------------
# The server writes these as JSON itself (the hot path); the models document
# them, and the tests check every frame the server sends against them.


class _ServerMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    v: Version


class Joined(_ServerMessage):
    """The page holds its side now (the answer to join and resume)."""

    type: Literal["joined"]
    session: str
    side: Side
    resume_token: str
    """Keep it in memory (never in storage) to resume after a lost connection."""
    last_seq: int
    """The last of this page's ``seq`` the server holds; resend later ones, continue after."""
    peer: Literal["connected", "away", "not_joined"]
    grace_seconds: float
    """How long a lost connection may stay away before the session ends as dropped."""


class PeerJoined(_ServerMessage):
    type: Literal["peer-joined"]
    seq: int
    side: Side
    resumed: bool
    """True when the peer kept its state (resume); false when it started afresh (join)."""


class PeerLeft(_ServerMessage):
    type: Literal["peer-left"]
    seq: int
    side: Side
    grace_seconds: float


class _Relay(_ServerMessage):
    seq: int
    from_: Side = Field(alias="from")


class RelayedOffer(_Relay):
    type: Literal["offer"]
    sdp: str


class RelayedAnswer(_Relay):
    type: Literal["answer"]
    sdp: str


class RelayedCandidate(_Relay):
    type: Literal["candidate"]
    candidate: IceCandidate | None


class RelayedHangup(_Relay):
    type: Literal["hangup"]


class RelayedChat(_Relay):
    type: Literal["chat"]
    from_: Author = Field(alias="from")  # type: ignore[assignment]
    text: str


class ColleagueNotice(_ServerMessage):
    """A warm transfer (officer sides only): ``joined``, to the officer holding the contact,
    when the colleague she asked took her seat; ``yours``, to the colleague's seat, when
    the officer left her the contact (answer it again for the officer's own seat)."""

    type: Literal["colleague"]
    seq: int
    state: Literal["joined", "yours"]


class RelayedDtmf(_Relay):
    type: Literal["dtmf"]
    digit: str


class SessionEnded(_ServerMessage):
    type: Literal["session-ended"]
    reason: Literal["hangup", "dropped", "closed"]
    side: Side | None
    """Who hung up or dropped; null when the server closed the session."""


class QueueNotice(_ServerMessage):
    """Her place in line (citizen side only): sent after ``joined`` and on every change.

    Not a mailbox message (no ``seq``, not acknowledged): it states where she is
    now, so a later one replaces an earlier one and a lost one is made good by the
    next, or by ``GET /api/contacts/{id}``.
    """

    type: Literal["queue"]
    status: str
    """``waiting``, ``offered`` (an officer is being asked), ``assigned``, or how it ended."""
    position: int | None
    """1 is next in line; null once offered or answered."""
    estimated_wait: float | None
    """Seconds; null when not known (offered, answered, or nobody who may answer is present)."""


class ServerAck(_ServerMessage):
    type: Literal["ack"]
    seq: int


class Pong(_ServerMessage):
    type: Literal["pong"]
    nonce: int | None = None


class Error(_ServerMessage):
    type: Literal["error"]
    code: str
    message: str
    fatal: bool
    """True when the server closes the connection right after."""
    ref_seq: int | None = None
    """The ``seq`` of the message refused, when it had one."""


ServerMessage = Annotated[
    Joined
    | PeerJoined
    | PeerLeft
    | RelayedOffer
    | RelayedAnswer
    | RelayedCandidate
    | RelayedHangup
    | RelayedChat
    | RelayedDtmf
    | ColleagueNotice
    | SessionEnded
    | QueueNotice
    | ServerAck
    | Pong
    | Error,
    Field(discriminator="type"),
]
server_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
SERVER_TYPES = (
    "joined",
    "peer-joined",
    "peer-left",
    "offer",
    "answer",
    "candidate",
    "hangup",
    "chat",
    "dtmf",
    "colleague",
    "session-ended",
    "queue",
    "ack",
    "pong",
    "error",
)


# ---- reading and writing ----------------------------------------------------


def parse(text: str) -> ClientMessage:
    """The client message in ``text``; a :class:`SignalingError` saying what is wrong otherwise."""
    try:
        return _validate_client(text)
    except ValidationError:
        pass
    raise _explain(text)


def _explain(text: str) -> SignalingError:
    # The slow path, only for refused messages: say precisely what is wrong.
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return SignalingError("invalid_json", "The message is not valid JSON.")
    if not isinstance(data, dict):
        return SignalingError("invalid_message", "A message is a JSON object with 'v' and 'type'.")
    raw_seq = data.get("seq")
    ref = raw_seq if type(raw_seq) is int and 0 <= raw_seq <= MAX_SEQ else None
    if data.get("v") != VERSION or type(data.get("v")) is not int:
        return SignalingError(
            "unsupported_version",
            f'Send "v": {VERSION}; this server speaks version {VERSION} only. Reload the page.',
            ref_seq=ref,
        )
    kind = data.get("type")
    model = CLIENT_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        shown = kind if isinstance(kind, str) and len(kind) <= 40 else "?"
        return SignalingError(
            "unknown_type",
            f"'{shown}' is not a message a page may send; see docs/signaling.md.",
            ref_seq=ref,
        )
    try:
        model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        return SignalingError("invalid_message", f"Field '{where}': {first['msg']}.", ref_seq=ref)
    # validate_json and model_validate disagree only on exotic JSON (e.g. NaN).
    return SignalingError("invalid_message", "The message could not be read.", ref_seq=ref)


def dump(fields: dict[str, Any]) -> str:
    """A server message as JSON text; ``v`` is added."""
    return json.dumps({"v": VERSION, **fields}, separators=(",", ":"), ensure_ascii=False)


def relay_body(message: Relayed, side: Author) -> str:
    """The relayed form of ``message`` without its seq: JSON text missing the opening brace.

    The store numbers it for the receiving side with :func:`numbered`.
    """
    # pydantic-core writes the JSON; "from" is put in front of the rest. Its
    # serializer is called directly: model_dump_json's wrapper costs twice as much.
    body = message.__pydantic_serializer__.to_json(message, exclude=_NOT_RELAYED)
    return f'"from":"{side}",' + body[1:].decode()


_NOT_RELAYED = {"seq"}


def numbered(seq: int, body: str) -> str:
    """A mailbox message: ``body`` (from :func:`relay_body` or :func:`notice_body`) with its seq."""
    return '{"seq":' + str(seq) + "," + body


def notice_body(fields: dict[str, Any]) -> str:
    """A server notice for a mailbox (peer-joined, peer-left), without its seq."""
    return dump(fields)[1:]
