"""Her choice of how she is kept informed, checked once into a frozen value."""

from __future__ import annotations

from dataclasses import dataclass

from cases.sessions import check_phone
from cases.vocabulary import LANGUAGES
from messaging.safe_times import Window, parse_windows
from safecall.refusals import Invalid
from sealing.data_key import normalise_phone

CHANNELS = ("none", "track", "sms", "whatsapp")
"""none: nothing; track: she looks on /track herself; sms / whatsapp: messages to a number."""
ANY_TIME = [["00:00", "24:00"]]


@dataclass(frozen=True)
class Choice:
    channel: str
    language: str
    phone: str | None = None
    """E.164 (``+923001234567``); only for sms and whatsapp."""
    name_police: bool = False
    safe_times: tuple[Window, ...] = ()

    @property
    def sends(self) -> bool:
        return self.channel in ("sms", "whatsapp")


def choice(
    *,
    channel: str,
    language: str,
    phone: str | None = None,
    name_police: bool = False,
    safe_times: list[list[str]] | None = None,
    any_time: bool = False,
) -> Choice:
    """Her choice, checked: a number and safe times only for the channels that send."""
    if channel not in CHANNELS:
        raise Invalid("unknown_channel", f"Choose how to keep her informed: {', '.join(CHANNELS)}.")
    if language not in LANGUAGES:
        raise Invalid("unknown_language", f"Unknown language {language!r}.")
    if channel not in ("sms", "whatsapp"):
        return Choice(channel, language)
    if not phone:
        raise Invalid("phone_required", "Give the number she wants the messages on.")
    cleaned = normalise_phone(check_phone(phone))
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not cleaned.startswith("+"):
        raise Invalid("invalid_phone", "Give the number with its country code, like +923001234567.")
    if any_time == bool(safe_times):
        raise Invalid(
            "invalid_safe_times", "Give her safe times, or say any time is safe (not both)."
        )
    windows = parse_windows(ANY_TIME if any_time else list(safe_times or []))
    return Choice(channel, language, cleaned, bool(name_police), tuple(windows))
