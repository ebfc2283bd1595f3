"""What the public may see of a case: coarse status, and with the right PIN her timeline.

Everything here is built from fixed words, never from officers' free text:
no officer names, no notes, no phone numbers. Without a PIN the view says
only the coarse status (:data:`cases.vocabulary.PUBLIC_STATUS`), the service
line and the days the case was opened and last updated. With the right PIN
it adds the FIR number and police station (she needs them to follow up) and
the events an officer marked ``complainant_visible``, each with a short
sentence chosen from the event's kind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import Case, ContactSession, TimelineEvent
from cases.tracking_code import display
from cases.vocabulary import PUBLIC_STATUS, CaseStatus

PublicStatus = Literal["received", "in_progress", "resolved", "with_police", "referred", "closed"]
Topic = Literal["opened", "status", "fir", "note", "contact", "pin", "update"]

_STATUSES = frozenset(s.value for s in CaseStatus)

TIMELINE_LIMIT = 200
"""The newest events shown; a case with more shows only these."""

STATUS_WORDS: dict[str, str] = {
    "received": "Received: your complaint has reached us.",
    "in_progress": "In progress: an officer is working on your case.",
    "resolved": "Resolved.",
    "with_police": "With the police: an FIR has been registered or the case is being investigated.",
    "referred": "Referred: your case has been passed to a service that can help.",
    "closed": "Closed.",
}

_TOPIC_TEXT: dict[str, str] = {
    "opened": "Your case was opened.",
    "fir": "A First Information Report (FIR) was registered.",
    "note": "An officer added a note to your case.",
    "contact": "You were in touch with an officer.",
    "pin": "A PIN was set for your case.",
    "update": "Your case was updated.",
}

# Words in an event kind that tell its topic; checked in this order.
_TOPIC_WORDS: tuple[tuple[str, Topic], ...] = (
    ("fir", "fir"),
    ("status", "status"),
    ("opened", "opened"),
    ("created", "opened"),
    ("open", "opened"),
    ("note", "note"),
    ("pin", "pin"),
    ("linked", "contact"),
    ("session", "contact"),
    ("contact", "contact"),
    ("call", "contact"),
    ("chat", "contact"),
    ("answered", "contact"),
)


class PublicEvent(BaseModel):
    """One event on her timeline."""

    at: datetime = Field(description="When it happened (UTC).")
    kind: str = Field(description="The event's kind, as recorded (a machine word).")
    topic: Topic = Field(description="What the event is about, for pages that translate it.")
    status: PublicStatus | None = Field(
        default=None,
        description="For a status change (topic `status` or `fir`): the coarse status it moved to.",
    )
    text: str = Field(description="A short sentence in English saying what happened.")


Stage = Literal[
    "received",
    "in_progress",
    "reconciliation",
    "fir_registered",
    "under_investigation",
    "challan_submitted",
    "in_trial",
    "decided",
    "referred",
    "closed",
]
"""The real stages of a case, in the words her page translates."""

_STAGE_OF: dict[str, Stage] = {
    CaseStatus.NEW: "received",
    CaseStatus.IN_PROGRESS: "in_progress",
    CaseStatus.RESOLVED_BY_RECONCILIATION: "reconciliation",
    CaseStatus.FIR_REGISTERED: "fir_registered",
    CaseStatus.UNDER_INVESTIGATION: "under_investigation",
    CaseStatus.FAST_TRACKED: "under_investigation",
    CaseStatus.CHALLAN_SUBMITTED: "challan_submitted",
    CaseStatus.IN_TRIAL: "in_trial",
    CaseStatus.DECIDED: "decided",
    CaseStatus.REFERRED: "referred",
    CaseStatus.CLOSED: "closed",
}


class PublicStage(BaseModel):
    """A stage her case reached, and when."""

    stage: Stage
    at: datetime = Field(description="When the case reached it (UTC).")


class PublicCase(BaseModel):
    """The public view of a case by its tracking code."""

    tracking_code: str = Field(description="The code, grouped in fours: 1234 5678 9012.")
    service_line: str = Field(description="`women` or `child`.")
    status: PublicStatus = Field(description="Coarse status only.")
    status_text: str = Field(description="The status in plain English words.")
    opened_on: date = Field(description="The day the case was opened (UTC).")
    updated_on: date = Field(description="The day the case last changed (UTC).")
    pin_accepted: bool = Field(description="True when a right PIN came with the request.")
    fir_number: str | None = Field(
        default=None, description="The FIR number, only with the right PIN and once registered."
    )
    police_station: str | None = Field(
        default=None, description="Where the FIR is registered, only with the right PIN."
    )
    timeline: list[PublicEvent] | None = Field(
        default=None,
        description="Events she may see, oldest first; only with the right PIN (else null).",
    )
    stages: list[PublicStage] | None = Field(
        default=None,
        description="The stages her case went through (received, in progress, reconciliation "
        "or FIR registered, under investigation, challan submitted, in trial, decided, "
        "closed; referred), oldest first, each with its date; only with the right PIN.",
    )


def public_status(status: str) -> PublicStatus:
    """The coarse word for a case status (an unknown status reads as in progress)."""
    try:
        word = PUBLIC_STATUS[CaseStatus(status)]
    except ValueError:
        word = "in_progress"
    return word  # type: ignore[return-value]


def build(case: Case, events: Sequence[TimelineEvent] | None) -> PublicCase:
    """The view; ``events`` are given only after the right PIN (see :func:`visible_events`)."""
    status = public_status(case.status)
    with_pin = events is not None
    return PublicCase(
        tracking_code=display(case.tracking_code),
        service_line=case.service_line,
        status=status,
        status_text=STATUS_WORDS[status],
        opened_on=case.created_at.date(),
        updated_on=max(case.updated_at, case.created_at).date(),
        pin_accepted=with_pin,
        fir_number=case.fir_number if with_pin else None,
        police_station=case.police_station if with_pin and case.fir_number else None,
        timeline=[public_event(e) for e in events] if events is not None else None,
        stages=None if events is None else stages_of(case, events),
    )


def stages_of(case: Case, events: Sequence[TimelineEvent]) -> list[PublicStage]:
    """Received when opened, then each status an officer set (a stage said twice in a row,
    e.g. FIR registered then fast-tracked, once)."""
    stages = [PublicStage(stage="received", at=case.created_at)]
    for event in events:
        to = (event.data or {}).get("to") if event.kind == "case.status" else None
        stage = _STAGE_OF.get(str(to)) if isinstance(to, str) else None
        if stage is not None and stage != stages[-1].stage:
            stages.append(PublicStage(stage=stage, at=event.at))
    return stages


async def visible_events(session: AsyncSession, case_id: int) -> list[TimelineEvent]:
    """The case's complainant-visible events (its own and its sessions'), oldest first."""
    sessions = select(ContactSession.id).where(ContactSession.case_id == case_id)
    newest = (
        select(TimelineEvent)
        .where(
            TimelineEvent.complainant_visible.is_(True),
            or_(TimelineEvent.case_id == case_id, TimelineEvent.session_id.in_(sessions)),
        )
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    rows = list((await session.execute(newest)).scalars())
    rows.reverse()
    return rows


def public_event(event: TimelineEvent) -> PublicEvent:
    """One event in safe words: its topic from its kind, never its free-text data."""
    topic = _topic(event.kind)
    status = _status_in(event.data or {}) if topic in ("status", "fir", "update") else None
    if status is None:
        topic = "update" if topic == "status" else topic
        return PublicEvent(at=event.at, kind=event.kind, topic=topic, text=_TOPIC_TEXT[topic])
    coarse = public_status(status)
    if status == CaseStatus.FIR_REGISTERED:
        topic, text = "fir", _TOPIC_TEXT["fir"]
    else:
        topic, text = "status", "Status: " + STATUS_WORDS[coarse]
    return PublicEvent(at=event.at, kind=event.kind, topic=topic, status=coarse, text=text)


def _topic(kind: str) -> Topic:
    words = set(re.split(r"[^a-z]+", kind.lower()))
    for word, topic in _TOPIC_WORDS:
        if word in words:
            return topic
    return "update"


def _status_in(data: dict[str, Any]) -> str | None:
    """The status a status-change event moved to, if it names one we know."""
    for key in ("to", "status", "new_status", "to_status"):
        value = data.get(key)
        if isinstance(value, str) and value in _STATUSES:
            return value
    return None
