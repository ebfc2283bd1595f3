"""What the officer case API takes and returns; the OpenAPI document is built from these.

Request bodies are strict about JSON types (a number is not a string, ``1``
is not ``true``) and refuse unknown fields. Responses declare every field,
nullable ones included, so a client can rely on the document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from cases.vocabulary import CaseStatus, Channel, Disposition, ServiceLine

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in the database."""

Language = Literal["ur", "en", "pa"]


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None


UtcTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _query_schema(schema: dict[str, Any]) -> None:
    # A query parameter is present or absent, never null: document each as its
    # non-null type (absent means the default).
    for prop in schema.get("properties", {}).values():
        options = prop.pop("anyOf", None)
        if options is None:
            continue
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1:
            prop.update(kept[0])
        else:
            prop["anyOf"] = kept
        if prop.get("default", "") is None:
            del prop["default"]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_query_schema)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ---------------------------------------------------------------


class CaseListQuery(_Query):
    """Filters for the case list. Paging is by cursor, newest case first: pass the
    ``next_cursor`` of one page as ``cursor`` to get the next."""

    status: CaseStatus | None = None
    service_line: ServiceLine | None = None
    category: str | None = Field(None, min_length=1, max_length=40)
    district: str | None = Field(None, min_length=1, max_length=64)
    assigned_officer_id: int | None = Field(None, ge=1, le=MAX_ID)
    mine: bool = Field(False, description="Only cases assigned to me.")
    created_from: UtcTime | None = Field(None, description="Created at or after this time.")
    created_to: UtcTime | None = Field(None, description="Created before this time.")
    tracking_code: str | None = Field(None, min_length=12, max_length=16)
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, min_length=1, max_length=200)


class CaseReadQuery(_Query):
    """Deprecated: ``reveal=phone`` with a ``reason`` shows her number in full for a
    callback. The reason then travels in the URL (proxy and browser logs, history);
    use ``POST /api/cases/{case_id}/reveal-phone`` with the reason in the body."""

    # Documented as deprecated only: pydantic's own ``deprecated=`` warns on every read.
    reveal: Literal["phone"] | None = Field(
        None,
        description="Deprecated: POST .../reveal-phone instead.",
        json_schema_extra={"deprecated": True},
    )
    reason: str | None = Field(
        None,
        min_length=3,
        max_length=200,
        description="Deprecated: POST .../reveal-phone instead.",
        json_schema_extra={"deprecated": True},
    )


class RevealIn(_Request):
    """Why she must be called back now: kept in the audit log, never in a URL."""

    reason: StrictStr = Field(min_length=3, max_length=200)


class ComplainantIn(_Request):
    """Details she chose to give (only for a case that is not anonymous)."""

    name: StrictStr | None = Field(None, min_length=1, max_length=120)
    phone: StrictStr | None = Field(None, min_length=7, max_length=32)
    address: StrictStr | None = Field(None, min_length=1, max_length=300)
    callback_safe: StrictBool = False
    callback_times: StrictStr | None = Field(None, min_length=1, max_length=120)


class CaseCreate(_Request):
    """A case an officer opens for a walk-in or a phone-in."""

    service_line: ServiceLine
    category: StrictStr | None = Field(None, min_length=1, max_length=40)
    district: StrictStr | None = Field(None, min_length=1, max_length=64)
    priority: StrictInt = Field(0, ge=0, le=9)
    anonymous: StrictBool = True
    language: Language = "ur"
    complainant: ComplainantIn | None = None
    assign_to_me: StrictBool = True


class StatusChange(_Request):
    """A new status; ``fir_registered`` needs ``fir_number`` and ``police_station``."""

    status: CaseStatus
    fir_number: StrictStr | None = Field(None, min_length=1, max_length=40)
    police_station: StrictStr | None = Field(None, min_length=1, max_length=80)


class CasePatch(_Request):
    """The fields to change (at least one); ``null`` clears category, district or assignment."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    category: StrictStr | None = Field(None, min_length=1, max_length=40)
    district: StrictStr | None = Field(None, min_length=1, max_length=64)
    priority: StrictInt = Field(None, ge=0, le=9)  # type: ignore[assignment]
    assigned_officer_id: Id | None = None


class NoteIn(_Request):
    text: StrictStr = Field(min_length=1, max_length=10_000)


class LinkIn(_Request):
    """The case to log the session against: give exactly one of the three.

    ``new_case`` opens a case on the session's service line, assigned to the
    officer, and moves the session to it in one step.
    """

    tracking_code: StrictStr | None = Field(None, min_length=12, max_length=16)
    case_id: Id | None = None
    new_case: StrictBool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> LinkIn:
        given = (self.tracking_code is not None) + (self.case_id is not None) + self.new_case
        if given != 1:
            raise ValueError("give exactly one of tracking_code, case_id and new_case")
        return self


# --- responses --------------------------------------------------------------


class CaseSummary(_Response):
    id: int
    tracking_code: str
    service_line: ServiceLine
    category: str | None
    status: CaseStatus
    public_status: str = Field(description="The coarse status she sees when tracking.")
    fir_number: str | None
    police_station: str | None
    district: str | None
    priority: int
    anonymous: bool
    assigned_officer_id: int | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class CaseList(_Response):
    """One page of cases, newest first; ``next_cursor`` is null on the last page."""

    cases: list[CaseSummary]
    next_cursor: str | None


class ComplainantView(_Response):
    """Her details. The phone number is masked unless revealed for a callback."""

    name: str | None
    phone: str | None
    phone_revealed: bool
    address: str | None
    callback_safe: bool
    callback_times: str | None
    language: str | None


class LegView(_Response):
    id: int
    channel: Channel
    officer_id: int | None
    external_id: str | None
    started_at: datetime
    ended_at: datetime | None


class SessionView(_Response):
    id: str
    case_id: int
    service_line: ServiceLine
    channel: Channel
    language: str
    anonymous: bool
    silent: bool
    officer_id: int | None
    arrived_at: datetime
    queued_at: datetime | None
    offered_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    wait_seconds: float | None
    talk_seconds: float | None
    disposition: Disposition | None
    failure_reason: str | None
    legs: list[LegView]


class TimelineEntry(_Response):
    id: int
    kind: str
    at: datetime
    case_id: int | None
    session_id: str | None
    officer_id: int | None
    complainant_visible: bool
    data: dict[str, Any]


class NoteView(_Response):
    id: int
    officer_id: int
    created_at: datetime
    text: str


class CaseDetail(CaseSummary):
    """A case with her details (when she gave them), sessions, timeline and notes."""

    complainant: ComplainantView | None
    sessions: list[SessionView]
    timeline: list[TimelineEntry]
    notes: list[NoteView]


class LinkResult(_Response):
    session_id: str
    case_id: int
    previous_case_id: int
    tracking_code: str = Field(description="The case's tracking code, display form.")
