"""Signaling error codes: each has a stable name, a sentence, and whether it ends the connection.

A page reads ``code`` (stable) and may show ``message`` (a sentence a person
can act on). Fatal errors are followed by a close frame with the close code
listed here; every other error leaves the connection open, and the refused
message had no effect.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import WSCloseCode


@dataclass(frozen=True)
class Code:
    """One error: its close code when fatal (None: the connection stays open)."""

    close: int | None
    message: str


NORMAL = WSCloseCode.OK  # 1000: the session ended
GOING_AWAY = WSCloseCode.GOING_AWAY  # 1001: this server process is stopping
POLICY = WSCloseCode.POLICY_VIOLATION  # 1008
TRY_AGAIN = WSCloseCode.TRY_AGAIN_LATER  # 1013

CODES: dict[str, Code] = {
    # the frame itself
    "invalid_json": Code(None, "The message is not valid JSON."),
    "invalid_message": Code(None, "The message has a missing or wrong field."),
    "unsupported_version": Code(None, 'Send "v": 1; reload the page.'),
    "unknown_type": Code(None, "This is not a message a page may send."),
    "not_text": Code(None, "Send messages as text frames holding JSON."),
    "too_big": Code(None, "The message is too large."),
    # pace
    "rate_limited": Code(None, "Too many messages; this one was not taken, send it again shortly."),
    "too_fast": Code(POLICY, "Too many messages for too long; the connection is closed."),
    # order of things
    "not_joined": Code(None, "Send join or resume first."),
    "already_joined": Code(None, "This connection has already joined a session."),
    "bad_seq": Code(None, "Out of order: send the message after the last one acknowledged."),
    "backlog_full": Code(
        None, "The other side has too many messages waiting; send this one again after she is back."
    ),
    "join_timeout": Code(POLICY, "No join arrived in time; the connection is closed."),
    # who may join
    "invalid_token": Code(4401, "This call link is not valid or has expired; start again."),
    "login_required": Code(4401, "Log in to the console before joining a call."),
    "wrong_officer": Code(4403, "This call was given to another officer."),
    "replaced": Code(
        4409, "This call continued in another window or connection; do not reconnect."
    ),
    # the server
    "going_away": Code(GOING_AWAY, "The server is restarting; reconnect and resume."),
    "unavailable": Code(TRY_AGAIN, "The server could not keep this message; reconnect and resume."),
}


class SignalingError(Exception):
    """A refused message or connection; ``code`` is a key of :data:`CODES`."""

    def __init__(self, code: str, message: str | None = None, ref_seq: int | None = None) -> None:
        known = CODES[code]
        self.code = code
        self.message = message or known.message
        self.close_code = known.close
        self.ref_seq = ref_seq
        super().__init__(self.message)

    @property
    def fatal(self) -> bool:
        return self.close_code is not None
