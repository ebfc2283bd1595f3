"""Strict TwiML parsing: what Twilio would refuse, the emulator refuses, with Twilio's error code.

Verbs, their attributes and what may nest inside them follow
https://www.twilio.com/docs/voice/twiml and each verb's page:
/docs/voice/twiml/say, /play, /pause, /gather, /redirect, /hangup, /reject,
/connect, /stream (``<Connect><Stream>`` is bidirectional, its ``url`` must be
``wss://``; ``<Parameter name value>`` become ``customParameters``).
Error codes: 12100 (document parse failure,
https://www.twilio.com/docs/api/errors/12100), 12200 (schema validation,
https://www.twilio.com/docs/api/errors/12200), 31922 (Stream URL scheme not
supported, https://www.twilio.com/docs/api/errors/31922).

Twilio only warns on some 12200 cases; the emulator fails the call on every one,
so a test never passes on TwiML that production would mishandle. Verbs that are
valid TwiML but not emulated (``Dial``, ``Enqueue``, ``Record``, ...) fail loudly too.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class TwimlError(Exception):
    """TwiML Twilio would not execute: ``code`` is Twilio's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Twilio error {code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Verb:
    """One parsed element: a verb (``Say``) or a noun (``Stream``, ``Parameter``)."""

    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    """Text content, stripped (the URL of ``Play``/``Redirect``, what ``Say`` says)."""
    children: list[Verb] = field(default_factory=list)


_METHODS = {"GET", "POST"}
_BOOL = {"true", "false"}
_SSML = {"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w"}


@dataclass(frozen=True)
class _Spec:
    attrs: dict[str, object]
    """Allowed attribute -> a set of allowed values, a minimum integer, or None (any text)."""
    children: frozenset[str] = frozenset()
    text: str = "none"
    """"none" (no text allowed), "optional", or "required"."""


_GATHER_ATTRS: dict[str, object] = {
    "action": None,
    "method": _METHODS,
    "timeout": 0,
    "finishOnKey": {"", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "#", "*"},
    "numDigits": 1,
    "input": {"dtmf", "speech", "dtmf speech", "speech dtmf"},
    "speechTimeout": "speechTimeout",
    "language": "language",
    "hints": None,
    "profanityFilter": _BOOL,
    "partialResultCallback": None,
    "partialResultCallbackMethod": _METHODS,
    "speechModel": None,
    "enhanced": _BOOL,
    "actionOnEmptyResult": _BOOL,
    "debug": _BOOL,
    "dtmfDetection": _BOOL,
    "maxSpeechTime": 1,
}

SPECS: dict[str, _Spec] = {
    "Say": _Spec({"voice": None, "language": "language", "loop": 0}, frozenset(_SSML), "optional"),
    "Play": _Spec({"loop": 0, "digits": "digits"}, text="optional"),
    "Pause": _Spec({"length": 1}),
    "Gather": _Spec(_GATHER_ATTRS, frozenset({"Say", "Play", "Pause"})),
    "Redirect": _Spec({"method": _METHODS}, text="required"),
    "Hangup": _Spec({}),
    "Reject": _Spec({"reason": {"rejected", "busy"}}),
    "Connect": _Spec({"action": None, "method": _METHODS}, frozenset({"Stream"})),
    "Stream": _Spec(
        {
            "url": None,
            "name": None,
            "track": {"inbound_track"},  # <Connect><Stream> supports only inbound_track
            "statusCallback": None,
            "statusCallbackMethod": _METHODS,
        },
        frozenset({"Parameter"}),
    ),
    "Parameter": _Spec({"name": None, "value": None}),
    # https://www.twilio.com/docs/voice/twiml/dial and /conference: only <Dial><Conference>
    # is emulated (a room the call joins); <Number>, <Client>, <Sip>... fail loudly.
    "Dial": _Spec(
        {
            "action": None,
            "method": _METHODS,
            "timeout": 5,
            "callerId": None,
            "hangupOnStar": _BOOL,
            "timeLimit": 1,
            "answerOnBridge": _BOOL,
            "record": {"do-not-record", "record-from-answer", "record-from-ringing"},
            "ringTone": None,
        },
        frozenset({"Conference"}),
    ),
    "Conference": _Spec(
        {
            "muted": _BOOL,
            "beep": {"true", "false", "onEnter", "onExit"},
            "startConferenceOnEnter": _BOOL,
            "endConferenceOnExit": _BOOL,
            "waitUrl": "waitUrl",
            "waitMethod": _METHODS,
            "maxParticipants": 2,
            "record": {"do-not-record", "record-from-start"},
            "statusCallback": None,
            "statusCallbackEvent": "conferenceEvents",
            "statusCallbackMethod": _METHODS,
            "participantLabel": None,
            "coach": None,
            "jitterBufferSize": {"off", "small", "medium", "large"},
        },
        text="required",
    ),
}
TOP_LEVEL = frozenset(
    {"Say", "Play", "Pause", "Gather", "Redirect", "Hangup", "Reject", "Connect", "Dial"}
)
CONFERENCE_EVENTS = frozenset(
    {"start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement"}
)
NOT_EMULATED = frozenset(
    {
        *("Number", "Client", "Sip", "Queue", "Application", "WhatsApp"),
        *("Enqueue", "Leave", "Record", "Refer", "Start", "Stop", "Pay", "Prompt", "Sms"),
        *("Echo", "Queue", "Room", "Conversation", "ConversationRelay", "VirtualAgent"),
    }
)


def parse(document: str | bytes) -> list[Verb]:
    """The verbs of a ``<Response>`` document, checked; raises :class:`TwimlError`."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise TwimlError(12100, f"the document is not well-formed XML ({exc})") from None
    if root.tag != "Response":
        raise TwimlError(12100, f"the root element must be <Response>, not <{root.tag}>")
    if root.attrib:
        raise TwimlError(12200, f"<Response> takes no attributes, got {sorted(root.attrib)}")
    _no_stray_text(root)
    verbs = []
    for element in root:
        if element.tag not in TOP_LEVEL:
            _unknown(element.tag, "Response")
        verbs.append(_verb(element))
    return verbs


def _unknown(tag: str, parent: str) -> None:
    if tag in NOT_EMULATED:
        raise TwimlError(12200, f"<{tag}> is TwiML the emulator does not emulate (in <{parent}>)")
    if tag in SPECS or tag in _SSML:
        raise TwimlError(12200, f"<{tag}> may not be nested in <{parent}>")
    raise TwimlError(12200, f"<{tag}> is not a TwiML verb (in <{parent}>)")


def _no_stray_text(element: ET.Element) -> None:
    if (element.text or "").strip() or any((child.tail or "").strip() for child in element):
        raise TwimlError(12200, f"<{element.tag}> may not contain text outside its verbs")


def _verb(element: ET.Element) -> Verb:
    spec = SPECS[element.tag]
    for name, value in element.attrib.items():
        if name not in spec.attrs:
            raise TwimlError(12200, f"<{element.tag}> has no attribute {name!r}")
        _check_value(element.tag, name, value, spec.attrs[name])
    text = (
        "".join(element.itertext()).strip()
        if element.tag == "Say"
        else (element.text or "").strip()
    )
    if element.tag != "Say":
        if spec.text == "none" and text:
            raise TwimlError(12200, f"<{element.tag}> may not contain text")
        if list(element) and any((c.tail or "").strip() for c in element):
            raise TwimlError(12200, f"<{element.tag}> may not contain text between its nouns")
    if spec.text == "required" and not text:
        raise TwimlError(12200, f"<{element.tag}> needs a URL as its text")
    children = []
    for child in element:
        if child.tag not in spec.children:
            _unknown(child.tag, element.tag)
        if element.tag == "Say":
            continue  # SSML: its text is already in ``text``
        children.append(_verb(child))
    verb = Verb(element.tag, dict(element.attrib), text, children)
    _check_verb(verb)
    return verb


def _check_value(tag: str, name: str, value: str, rule: object) -> None:
    where = f"<{tag} {name}={value!r}>"
    if rule is None:
        return
    if isinstance(rule, set):
        if value not in rule:
            raise TwimlError(12200, f"{where}: allowed values are {sorted(rule)}")
    elif isinstance(rule, int):
        if not value.isdigit() or int(value) < rule:
            raise TwimlError(12200, f"{where}: must be a whole number of at least {rule}")
    elif rule == "language":
        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
            raise TwimlError(12200, f"{where}: must be a BCP-47 language tag such as en-US")
    elif rule == "digits":
        if not re.fullmatch(r"[0-9*#wW]+", value):
            raise TwimlError(12200, f"{where}: only 0-9, *, #, w and W")
    elif rule == "speechTimeout":
        if value != "auto" and not value.isdigit():
            raise TwimlError(12200, f"{where}: a whole number of seconds or 'auto'")
    elif rule == "waitUrl":  # https://www.twilio.com/docs/api/errors/13233
        if value and not re.match(r"^(https?://|/)", value):
            raise TwimlError(13233, f"{where}: waitUrl must be a URL or the empty string")
    elif rule == "conferenceEvents":
        unknown = set(value.split()) - CONFERENCE_EVENTS
        if unknown:
            raise TwimlError(12200, f"{where}: unknown events {sorted(unknown)}")


def _check_verb(verb: Verb) -> None:
    if verb.name == "Play" and not verb.text and "digits" not in verb.attrs:
        raise TwimlError(12200, "<Play> needs a URL (or a digits attribute)")
    if verb.name == "Connect" and len(verb.children) != 1:
        raise TwimlError(12200, "<Connect> takes exactly one <Stream>")
    if verb.name == "Stream":
        url = verb.attrs.get("url")
        if not url:
            raise TwimlError(12200, "<Stream> needs a url attribute")
        if not url.startswith("wss://"):
            raise TwimlError(31922, f"<Stream url={url!r}>: only wss:// URLs are supported")
    if verb.name == "Dial" and len(verb.children) != 1:
        raise TwimlError(12200, "<Dial> takes exactly one noun (the emulator: one <Conference>)")
    if verb.name == "Conference" and len(verb.text) > 128:
        raise TwimlError(12200, "<Conference> room names are at most 128 characters")
    if verb.name == "Parameter" and not {"name", "value"} <= verb.attrs.keys():
        raise TwimlError(12200, "<Parameter> needs both name and value")
