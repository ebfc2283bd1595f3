"""Errors the emulated Twilio reports, with Twilio's codes (https://www.twilio.com/docs/api/errors)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TwilioError:
    """What Twilio's debugger would show for a call: code, sentence, the URL involved."""

    code: int
    message: str
    url: str = ""
    seen: bool = False
    """Set when a test was told (CallFailed raised, or take_errors() returned it)."""

    @property
    def more_info(self) -> str:
        return f"https://www.twilio.com/docs/errors/{self.code}"

    def __str__(self) -> str:
        where = f" at {self.url}" if self.url else ""
        return f"Twilio error {self.code}{where}: {self.message} ({self.more_info})"


class CallFailed(AssertionError):
    """Twilio reported errors on this call: the app did something Twilio would refuse."""

    def __init__(self, call_sid: str, errors: list[TwilioError]) -> None:
        for error in errors:
            error.seen = True
        lines = "\n  ".join(str(e) for e in errors)
        super().__init__(f"call {call_sid} failed:\n  {lines}")
        self.errors = errors


class Fail(Exception):
    """Raised inside the emulator to stop a call's TwiML with a Twilio error."""

    def __init__(self, error: TwilioError) -> None:
        super().__init__(str(error))
        self.error = error
