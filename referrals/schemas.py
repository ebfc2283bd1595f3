"""What the referral endpoints take and return."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy: float | None = Field(default=None, ge=0, le=1_000_000, description="Metres.")


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["recording", "attachment"]
    id: str = Field(max_length=32)


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: int = Field(ge=1)
    session_id: str | None = Field(
        default=None, max_length=32, description="The live contact it is made from, if any."
    )
    place: str = Field(max_length=64, description="A place's code, from GET /api/places.")
    urgency: Literal["emergency", "today", "routine"]
    reason: str = Field(max_length=2000, description="What the place needs to know.")
    location: LocationIn | None = Field(
        default=None, description="Where she is; default: her newest location on the contact."
    )
    live_location: bool = Field(
        default=False, description="Her later locations on the contact follow to the place."
    )
    share_name: bool = Field(default=False, description="Only with her consent.")
    share_phone: bool = Field(default=False, description="Only with her consent.")
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=20)


class ReferralOut(BaseModel):
    """A referral: its summary; one read by id adds what is sealed."""

    model_config = ConfigDict(extra="allow")
    id: str
    case_id: int
    tracking_code: str
    service_line: str
    place: str
    place_name: str
    district: str
    urgency: str
    status: str
    unit: str | None
    created_at: str
    acknowledged_at: str | None
    dispatched_at: str | None
    on_scene_at: str | None
    closed_at: str | None
    escalated_at: str | None
    live_location: bool
    next: list[str] = Field(description="The statuses it may move to now.")
    reason: str | None = None
    location: dict[str, Any] | None = None
    shared: dict[str, str] | None = None
    evidence: list[dict[str, Any]] | None = None
    updates: list[dict[str, Any]] | None = None


class ReferralList(BaseModel):
    referrals: list[ReferralOut]


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str = Field(max_length=60, description="The unit's call sign.")
    officer_id: int | None = Field(
        default=None, description="The unit's own account (of this place), to see it too."
    )


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["en_route", "on_scene", "resolved", "unable_to_locate"]
    note: str | None = Field(default=None, max_length=2000)
    photos: list[str] = Field(default_factory=list, max_length=10)


class PhotoOut(BaseModel):
    id: str
    sha256: str
    size: int
