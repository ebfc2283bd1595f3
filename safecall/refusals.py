"""Refusals in domain words: what the domain packages raise when they will not do something.

A refusal carries a stable ``code`` (clients and tests key on it) and a
``message``, a sentence the person who asked can act on. It says nothing of
HTTP: the one error middleware (:mod:`safecall.errors`) maps each kind to a
status, so every package's refusals read the same at the edge. The kinds:

* :class:`Invalid` — what was asked is not acceptable (bad or unknown value);
* :class:`NotAllowed` — the one asking may not do this;
* :class:`NotFound` — there is no such thing (or none she may see);
* :class:`Conflict` — the current state forbids it (ended, answered, taken);
* :class:`Gone` — it existed and is used up or expired;
* :class:`TooMany` — a limit was reached; ``retry_after`` says when to try again;
* :class:`TooLarge` — it is bigger than allowed;
* :class:`Unavailable` — a part we depend on is down or stopping; try again.

Refusals are ``ValueError``s, so code that checks values the usual way still
catches them.
"""

from __future__ import annotations


class Refusal(ValueError):
    """A request refused: a stable ``code`` and a sentence a person can act on."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        """Seconds before asking again helps (None: not a matter of time)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r})"


class Invalid(Refusal):
    """What was asked is not acceptable."""


class NotAllowed(Refusal):
    """The one asking may not do this."""


class NotFound(Refusal):
    """There is no such thing, or none the one asking may see."""


class Conflict(Refusal):
    """The current state forbids it."""


class Gone(Refusal):
    """It existed, and is used up or expired."""


class TooMany(Refusal):
    """A limit was reached (``retry_after`` says when to try again)."""


class TooLarge(Refusal):
    """It is bigger than allowed."""


class Unavailable(Refusal):
    """A part this depends on is down or stopping: try again shortly."""
