"""Which places an account answers for: the rule referrals (and the children's registry) share.

A ``station`` account belongs to a police place (a station, a district office
or a 15 control room); an ``institution`` account to a protection centre, a
child protection institution or a shelter. The centre's own officers have no
place. A district office's account answers for every place of its district
(the district's duty supervisor); any other account for its own place only.
"""

from __future__ import annotations

from dataclasses import dataclass

from places.directory import Directory
from places.model import INSTITUTIONS, POLICE, Kind, Place
from safecall.endpoint import FIELD, INSTITUTION, STATION

KINDS_OF_ROLE = {STATION: POLICE, INSTITUTION: INSTITUTIONS}


def check_place(role: str, place: str | None, directory: Directory) -> str | None:
    """The place an account of ``role`` is scoped to, checked; ``ValueError`` with a sentence
    when a field account has none, a centre account has one, or the place does not fit."""
    if role not in FIELD:
        if place:
            raise ValueError(f"Only station and institution accounts have a place, not {role}.")
        return None
    if not place:
        raise ValueError(f"A {role} account needs --place, a code from the directory of places.")
    found = directory.get(place.strip())
    if found is None:
        raise ValueError(f"There is no place {place!r} in the directory of places.")
    allowed = KINDS_OF_ROLE[role]
    if found.kind not in allowed:
        kinds = ", ".join(sorted(k.value for k in allowed))
        raise ValueError(f"A {role} account belongs to a place of kind {kinds}, not {found.kind}.")
    return found.code


@dataclass(frozen=True)
class Scope:
    """What one field account answers for."""

    place: Place
    district_wide: bool
    """A district office: every place of its district."""

    @classmethod
    def of(cls, role: str, place: str | None, directory: Directory) -> Scope | None:
        """The scope of an account (None for the centre's officers, or a place that left the
        directory: such an account sees nothing)."""
        if role not in FIELD or place is None:
            return None
        found = directory.get(place)
        if found is None:
            return None
        return cls(found, found.kind is Kind.DISTRICT_OFFICE)

    def covers(self, place: Place) -> bool:
        if place.code == self.place.code:
            return True
        return self.district_wide and place.district == self.place.district

    def codes(self, directory: Directory) -> list[str]:
        """Every place code this account answers for."""
        if not self.district_wide:
            return [self.place.code]
        return sorted(p.code for p in directory if p.district == self.place.district)
