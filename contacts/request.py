"""What arrived: a contact request, checked once at the boundary, trusted inside.

Every channel's adapter turns its input (JSON from the citizen page, the phone
menu's answers, an officer's callback) into a :class:`ContactRequest` with
:func:`contact_request`, which checks each value against the
:class:`~contacts.vocabulary.Vocabulary` and raises an
:class:`~safecall.refusals.Invalid` with a stable code naming the first wrong
one. The desk and everything after it take the request as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from cases.casework import check_category, clean_text
from cases.sessions import check_phone
from cases.tracking_code import TrackingCode
from cases.vocabulary import Channel
from contacts.vocabulary import Vocabulary
from safecall.refusals import Invalid


@dataclass(frozen=True)
class Statement:
    """What she says about herself on this contact; every field optional.

    On a new case it becomes the case's complainant details. On a case she
    named by its tracking code it is kept as a dated statement on this contact
    only: a public request never changes an existing case (the one holding her
    phone may hold her code too); an officer confirms what to take from it.
    """

    name: str | None = None
    phone: str | None = None
    callback_safe: bool = False
    """She says it is safe to call her back."""
    callback_times: str | None = None
    """When it is safe, in her words (e.g. "weekdays 10-12")."""

    @property
    def empty(self) -> bool:
        return not (self.name or self.phone or self.callback_safe or self.callback_times)


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    accuracy: float | None = None
    """Metres."""

    def __post_init__(self) -> None:
        if not -90 <= self.latitude <= 90 or not -180 <= self.longitude <= 180:
            raise Invalid("invalid_location", "A location is a latitude and a longitude.")
        if self.accuracy is not None and not 0 <= self.accuracy <= 1_000_000:
            raise Invalid("invalid_location", "The accuracy is 0 to 1,000,000 metres.")


@dataclass(frozen=True)
class ContactRequest:
    """A contact to open, every value checked (build it with :func:`contact_request`)."""

    line: str
    channel: Channel
    language: str
    category: str | None = None
    district: str | None = None
    anonymous: bool = True
    statement: Statement | None = None
    """What she chose to tell about herself (never with ``anonymous``)."""
    tracking_code: TrackingCode | None = None
    """The code of an earlier contact she gave (a returning complainant)."""
    location: Location | None = None
    silent: bool = False
    """She cannot speak (chat, or a silent phone call)."""
    emergency: bool = False
    priority: int | None = None
    """Overrides her category's priority (a number often marked irrelevant: lower)."""
    external_id: str | None = None
    """The first leg's outside id (a Twilio CallSid)."""
    caller_hash: str | None = None
    """Her phone number's keyed hash when she called (repeat callers, the known officer)."""
    sos: bool = False
    """She pressed SOS in the app: an emergency on the women's line, on a new case (see
    :func:`contact_request` for what an SOS may carry)."""

    @property
    def callback_safe(self) -> bool:
        return self.statement is not None and self.statement.callback_safe


def contact_request(
    vocabulary: Vocabulary,
    *,
    line: str,
    channel: str,
    language: str = "ur",
    category: str | None = None,
    district: str | None = None,
    anonymous: bool = True,
    statement: Statement | None = None,
    tracking_code: str | TrackingCode | None = None,
    location: Location | None = None,
    silent: bool = False,
    emergency: bool = False,
    priority: int | None = None,
    external_id: str | None = None,
    caller_hash: str | None = None,
    sos: bool = False,
) -> ContactRequest:
    """A :class:`ContactRequest` with every value checked against ``vocabulary``.

    ``sos`` (the app's one-tap SOS) makes it an emergency, and is the only way a public
    request gets one: it must be on the women's line, a voice call (or a chat when she has
    no microphone), and open a new case (no tracking code: an SOS changes no existing case).
    """
    if line not in vocabulary.lines:
        raise Invalid("unknown_service_line", f"Unknown service line {line!r}.")
    try:
        kind = Channel(channel)
    except ValueError:
        raise Invalid("unknown_channel", f"Unknown channel {channel!r}.") from None
    if language not in vocabulary.languages:
        raise Invalid("unknown_language", f"Unknown language {language!r}.")
    if category is not None:
        check_category(category, vocabulary.categories)
    if district is not None and district.strip():
        district = vocabulary.districts.parse(district)
    else:
        district = None
    if priority is not None and (isinstance(priority, bool) or priority < 0):
        raise Invalid("invalid_priority", "A routing priority is a whole number from 0.")
    if statement is not None and statement.empty:
        statement = None
    if anonymous and statement is not None:
        raise Invalid(
            "anonymous_with_details",
            "An anonymous contact cannot carry her name or phone; "
            "set anonymous to false if she chose to give them.",
        )
    code = tracking_code
    if isinstance(code, str):
        code = TrackingCode.parse(code) if code.strip() else None
    if statement is not None:
        statement = _checked(statement)
        if statement.callback_safe and statement.phone is None and code is None:
            raise Invalid("callback_needs_phone", "A callback needs her phone number.")
    if sos:
        _check_sos(line, kind, code)
        emergency = True
    if external_id is not None and not 1 <= len(external_id) <= 64:
        raise Invalid("invalid_external_id", "An external id is 1 to 64 characters.")
    return ContactRequest(
        line=line,
        channel=kind,
        language=language,
        category=category,
        district=district,
        anonymous=anonymous,
        statement=statement,
        tracking_code=code,
        location=location,
        silent=silent,
        emergency=emergency,
        priority=priority,
        external_id=external_id,
        caller_hash=caller_hash,
        sos=sos,
    )


SOS_LINE = "women"
SOS_CHANNELS = (Channel.BROWSER_AUDIO, Channel.CHAT)


def _check_sos(line: str, channel: Channel, code: TrackingCode | None) -> None:
    if line != SOS_LINE:
        raise Invalid("sos_line", "SOS calls the women's line only; choose another way to talk.")
    if channel not in SOS_CHANNELS:
        raise Invalid("sos_channel", "SOS starts a voice call, or a chat without a microphone.")
    if code is not None:
        raise Invalid("sos_with_code", "SOS opens a new case; send it without a tracking code.")


def _checked(statement: Statement) -> Statement:
    return Statement(
        name=None
        if statement.name is None
        else clean_text(statement.name, "name", 120, "invalid_name"),
        phone=None if statement.phone is None else check_phone(statement.phone),
        callback_safe=bool(statement.callback_safe),
        callback_times=(
            None
            if statement.callback_times is None
            else clean_text(
                statement.callback_times, "callback times", 120, "invalid_callback_times"
            )
        ),
    )
