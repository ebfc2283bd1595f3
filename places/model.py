"""One place of the directory, as a frozen value checked when the directory loads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from shapely.geometry.base import BaseGeometry


class Kind(StrEnum):
    """What a place is; it decides who may be scoped to it and what it receives."""

    DISTRICT = "district"
    """A district's area (optional): which district a point is in, and its neighbours."""
    DISTRICT_OFFICE = "district_office"
    """The district police office: its duty supervisor sees every referral of the district."""
    STATION = "station"
    """A police station, answerable for its jurisdiction."""
    CONTROL = "control"
    """A 15 control room: phone handoffs go to its number."""
    WOMEN_CENTRE = "women_centre"
    """A women protection centre (violence against women centre, Dar-ul-Aman desk)."""
    CHILD_INSTITUTION = "child_institution"
    """A child protection institution (child protection bureau, welfare home)."""
    SHELTER = "shelter"
    """A shelter."""


POLICE = frozenset({Kind.DISTRICT_OFFICE, Kind.STATION, Kind.CONTROL})
"""Places a ``station`` account may be scoped to."""
INSTITUTIONS = frozenset({Kind.WOMEN_CENTRE, Kind.CHILD_INSTITUTION, Kind.SHELTER})
"""Places an ``institution`` account may be scoped to."""
RECEIVERS = POLICE | INSTITUTIONS
"""Places a referral may go to."""


@dataclass(frozen=True)
class DutyContact:
    role: str
    """Who answers, in the directory's words (``duty officer``, ``SHO``, ``helpline``)."""
    phone: str
    """E.164 (``+924299211234``)."""


@dataclass(frozen=True)
class Place:
    code: str
    """Stable id (``lahore-ps-gulberg``): what referrals and accounts store."""
    kind: Kind
    names: Mapping[str, str]
    """Its name by language (``en`` and ``ur`` at least)."""
    district: str
    """The district's code (``lahore``), one of the districts file's."""
    area: BaseGeometry | None
    """Its jurisdiction (Polygon or MultiPolygon, longitude/latitude), when known."""
    location: tuple[float, float] | None
    """The building, (latitude, longitude), when known."""
    duty: tuple[DutyContact, ...]
    lines: frozenset[str]
    """Service lines it serves (empty: every line)."""
    neighbours: frozenset[str] = frozenset()
    """For a district: the districts next to it (declared, or worked out from the areas)."""

    @property
    def name(self) -> str:
        return self.names.get("en") or next(iter(self.names.values()))

    @property
    def duty_phone(self) -> str | None:
        """The first duty number (the one a phone handoff rings)."""
        return self.duty[0].phone if self.duty else None

    def public(self) -> dict[str, object]:
        """As the API lists it (no geometry: the map asks for one place's)."""
        return {
            "code": self.code,
            "kind": self.kind.value,
            "name": self.name,
            "names": dict(self.names),
            "district": self.district,
            "location": None
            if self.location is None
            else {"latitude": self.location[0], "longitude": self.location[1]},
            "duty": [{"role": d.role, "phone": d.phone} for d in self.duty],
            "lines": sorted(self.lines),
            "has_area": self.area is not None,
        }
