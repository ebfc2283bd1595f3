"""The load driver's own ledger: what it asked, what it was answered, what it was promised.

Never the product's counters: every figure of the fault table is read from here (what the
clients saw) and from the database (what was kept), nothing from ``/metrics``.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class Answer:
    """One HTTP answer (or none) as a client saw it."""

    at: float
    """monotonic"""
    kind: str
    """what was asked: ``contact.start``, ``officer.accept``, ``twilio.voice`` ..."""
    status: int
    """0: no answer (the connection failed or timed out)."""
    content_type: str = ""
    retry_after: bool = False
    twiml: bool = False
    seconds: float = 0.0

    @property
    def json(self) -> bool:
        return "json" in self.content_type


@dataclass
class Contact:
    """A browser chat contact the driver opened."""

    session_id: str
    opened_at: float
    offered_at: float | None = None
    ended_at: float | None = None
    acked: dict[str, int] = field(default_factory=dict)
    """Per side, the highest seq the server acknowledged (cumulative)."""
    chats: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    """Per side, the seqs of the chat messages sent."""

    def acked_chats(self) -> set[tuple[str, int]]:
        """Chat messages the server acknowledged: (side, seq)."""
        return {
            (side, seq)
            for side, seqs in self.chats.items()
            for seq in seqs
            if seq <= self.acked.get(side, 0)
        }


@dataclass
class PhoneCall:
    sid: str
    started_at: float
    queued: bool = False
    status_sent: bool = False
    trace: list[str] = field(default_factory=list)
    """What each webhook was answered: ``menu 200``, ``status 503`` ..."""


# Answers that are part of the protocol, not a failure: an offer taken by another, an
# accept after the offer moved on, a task already ended.
EXPECTED_REFUSALS = frozenset({404, 409, 410, 429})


@dataclass
class Ledger:
    answers: list[Answer] = field(default_factory=list)
    contacts: dict[str, Contact] = field(default_factory=dict)
    calls: dict[str, PhoneCall] = field(default_factory=dict)
    accepted: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    """Per session, the officers whose accept was answered 200."""
    answered: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    """Per session, the officers given a join token by ``/answer``."""
    start_attempts: list[float] = field(default_factory=list)
    began: float = field(default_factory=time.monotonic)
    """When the scenario's load began (monotonic): traces are written relative to it."""
    notes: Counter[str] = field(default_factory=Counter)
    """Other things worth a line: ``ws.invalid_token``, ``officer.logged_out`` ..."""

    def answer(
        self,
        kind: str,
        status: int,
        content_type: str = "",
        retry_after: bool = False,
        body: str = "",
        began: float | None = None,
    ) -> Answer:
        now = time.monotonic()
        twiml = "xml" in content_type and "<Response" in body
        entry = Answer(now, kind, status, content_type, retry_after, twiml, now - (began or now))
        self.answers.append(entry)
        return entry

    def contact(self, session_id: str) -> Contact:
        return self.contacts[session_id]

    # ---- what the table reads -----------------------------------------------------------

    def twilio_json(self) -> int:
        return sum(1 for a in self.answers if a.kind.startswith("twilio.") and a.json)

    def bad_answers(self) -> list[Answer]:
        """Answers that are neither a success, a refusal of the protocol, a 503 with
        ``Retry-After``, nor (to Twilio) TwiML: a 500, a JSON error to Twilio, a 401 that
        logged an officer out, no answer in Twilio's 15 s. (A connection cut by a killed
        process, status 0, is the load balancer's to retry: counted apart.)"""
        bad = []
        for a in self.answers:
            if a.kind.startswith("twilio."):
                if a.seconds >= 15.0:
                    bad.append(a)  # Twilio gave up waiting: she hears its error
                elif a.status != 0 and not a.twiml and a.status != 503:
                    bad.append(a)
                continue
            if a.status == 0 or 200 <= a.status < 300 or a.status in EXPECTED_REFUSALS:
                continue
            if a.status == 503 and a.retry_after:
                continue
            bad.append(a)
        return bad

    def cut(self) -> int:
        return sum(1 for a in self.answers if a.status == 0 and a.seconds < 15.0)

    def double_assignments(self) -> int:
        sessions = {s for s, who in self.accepted.items() if len(who) > 1}
        sessions |= {s for s, who in self.answered.items() if len(who) > 1}
        return len(sessions)

    def answered_by_status(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for a in self.answers:
            counts[f"{a.kind} {a.status}{' twiml' if a.twiml else ''}"] += 1
        return dict(sorted(counts.items()))
