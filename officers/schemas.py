"""What the officer endpoints take and return."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    badge: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=16, description="The 6-digit code.")


class OfficerProfile(BaseModel):
    """An officer as the console and managers see them (never the password or secret)."""

    id: int
    badge: str
    name: str
    role: str
    gender: str
    languages: list[str]
    skills: dict[str, int]
    lines: list[str]
    district: str | None
    place: str | None = Field(
        default=None, description="A station or institution account's place (its code)."
    )
    disabled: bool
    totp: bool = Field(description="A second factor is enrolled.")


class OfficerList(BaseModel):
    officers: list[OfficerProfile]
