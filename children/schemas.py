"""What the children's endpoints take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ChildIn(BaseModel):
    """The child as described: the same fields on a missing and on a found report."""

    model_config = ConfigDict(extra="forbid")
    names: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="The child's names as given, in Urdu script and in Latin letters "
        "(`محمد علی`, `Muhammad Ali`); a found child may have none.",
    )
    parent_names: list[str] = Field(
        default_factory=list, max_length=6, description="Father's, mother's names."
    )
    age: int | None = Field(default=None, ge=0, le=17, description="Years, when known.")
    age_min: int | None = Field(default=None, ge=0, le=17, description="Or a range.")
    age_max: int | None = Field(default=None, ge=0, le=17)
    gender: Literal["girl", "boy"] | None = None
    height_cm: int | None = Field(default=None, ge=30, le=200)
    height_min_cm: int | None = Field(default=None, ge=30, le=200)
    height_max_cm: int | None = Field(default=None, ge=30, le=200)
    build: str | None = Field(default=None, max_length=60)
    complexion: str | None = Field(default=None, max_length=60)
    hair: str | None = Field(default=None, max_length=60)
    clothing: str | None = Field(default=None, max_length=500)
    languages: list[str] = Field(default_factory=list, max_length=6)
    marks: str | None = Field(default=None, max_length=500, description="Distinguishing marks.")
    medical_needs: str | None = Field(default=None, max_length=500)


class WhereIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime = Field(description="When last seen (or found), with its time zone.")
    district: str | None = Field(default=None, max_length=64)
    area: str | None = Field(default=None, max_length=200, description="Area, street, landmark.")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class LastSeenIn(WhereIn):
    with_whom: str | None = Field(default=None, max_length=300)


class GuardianIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=120)
    relation: Literal[
        "mother", "father", "grandparent", "sibling", "uncle_aunt", "legal_guardian", "other"
    ]
    phone: str | None = Field(default=None, max_length=32)
    id_number: str | None = Field(default=None, max_length=32, description="CNIC or other.")
    address: str | None = Field(default=None, max_length=300)


class MissingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str | None = Field(
        default=None, max_length=32, description="The live contact it is filed on."
    )
    case_id: int | None = Field(default=None, ge=1, description="Or the case, when no contact.")
    child: ChildIn
    last_seen: LastSeenIn
    vehicles: str | None = Field(default=None, max_length=300)
    guardian: GuardianIn | None = None
    child_phone: str | None = Field(default=None, max_length=32)
    runaway: bool = False
    abduction_suspected: bool = False
    abuse_suspected: bool = Field(default=False, description="Abuse at home suspected.")


class CustodyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    place: str | None = Field(
        default=None, max_length=64, description="Where the child is now: a place's code."
    )
    contact: str | None = Field(
        default=None, max_length=120, description="Whom to call there (name, number)."
    )
    note: str | None = Field(default=None, max_length=500)


class FoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str | None = Field(default=None, max_length=32)
    case_id: int | None = Field(default=None, ge=1)
    child: ChildIn
    found: WhereIn
    child_says: str | None = Field(
        default=None, max_length=1000, description="What the child says (name, parents, village)."
    )
    custody: CustodyIn | None = None


class NationalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime | None = Field(default=None, description="When reported; default: now.")
    reference: str | None = Field(default=None, max_length=64)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["returned", "withdrawn"] = Field(
        description="returned: the missing child came home; withdrawn: made in error."
    )
    note: str = Field(max_length=1000, description="How it ended (kept sealed on the report).")


class ChecklistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    guardian_id_seen: bool = False
    relation_confirmed: bool = False
    child_recognises: bool = False
    child_protection_officer_present: bool = False
    no_safeguarding_concern: bool = False


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checklist: ChecklistIn
    outcome: Literal["reunited", "placed_in_care", "referred"]
    at: AwareDatetime | None = Field(default=None, description="When handed over; default: now.")
    place: str = Field(max_length=200, description="Where the handover took place.")
    officers: list[str] = Field(max_length=6, description="The officers present.")
    guardian_name: str | None = Field(
        default=None, max_length=120, description="Who took the child (reunited)."
    )
    care_place: str | None = Field(
        default=None, max_length=64, description="The institution (placed in care, referred)."
    )
    note: str | None = Field(default=None, max_length=1000)


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    kind: Literal["missing", "found"] | None = None
    status: Literal["open", "matched", "closed"] | None = None
    district: str | None = Field(default=None, max_length=64)
    age: int | None = Field(default=None, ge=0, le=17, description="Reports whose range holds it.")
    since: str | None = Field(
        default=None, alias="from", description="Seen on or after this day (YYYY-MM-DD)."
    )
    until: str | None = Field(default=None, alias="to", description="Seen on or before this day.")
    limit: int = Field(default=100, ge=1, le=500)


class ReportOut(BaseModel):
    """A report: its summary; one read by id adds what is sealed."""

    model_config = ConfigDict(extra="allow")
    id: str
    kind: str
    status: str
    outcome: str | None
    case_id: int | None
    district: str | None
    age_min: int | None
    age_max: int | None
    gender: str | None
    seen_at: str
    created_at: str
    closed_at: str | None
    national: dict[str, Any] | None
    alert: bool
    candidates: int = Field(description="Candidates awaiting a decision.")


class ReportList(BaseModel):
    reports: list[ReportOut]


class CandidateOut(BaseModel):
    id: int
    missing_id: str
    found_id: str
    other_id: str
    score: float
    reasons: list[str]
    status: str
    created_at: str
    decided_at: str | None


class CandidateList(BaseModel):
    candidates: list[CandidateOut]


class PhotoOut(BaseModel):
    id: str
    sha256: str
    size: int
    duplicates: list[str] = Field(description="Other reports holding the same photo.")


class AlertOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    report_id: str
    reason: str
    districts: list[str]
    created_at: str
    released_at: str | None
    description: str
    recipient_id: int | None
    acknowledged_at: str | None
    photos: list[str] = Field(
        default_factory=list,
        description="The child's photos (ids under /api/children/reports/{report_id}/photos/).",
    )


class AlertList(BaseModel):
    alerts: list[AlertOut]


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
