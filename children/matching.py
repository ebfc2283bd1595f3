"""Scoring a missing-child report against found-child reports, and back.

Each signal both reports carry adds evidence for or against the two being the
same child (a log-likelihood ratio, Fellegi-Sunter style); a signal either side
lacks adds nothing. The sum, from a sceptical prior, becomes a score 0..1
through the logistic function, and every signal that moved it becomes a reason
an officer can read and check ("name: Mohammad Ali ≈ محمد علی (100%)").

A candidate is ruled out, not scored, only when it cannot be the child: found
before she was last seen (beyond :data:`CLOCK_SLACK`). Everything else, even a
different gender, only lowers the score: reports are written in a hurry.

:class:`Registry` keeps the open reports with indexes (name-skeleton words,
parents' name words, age bands, photo hashes) so one new report is scored
against a few hundred likely candidates instead of every open report; when the
blocked set is small it widens to the age band, then to every report of the
other kind, so a report with no name or a badly spelled one is still compared.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from children import names as name_keys
from children.names import NameWord
from children.photo_hash import DUPLICATE_DISTANCE, hamming

Kind = Literal["missing", "found"]
Gender = Literal["girl", "boy"]


@dataclass(frozen=True)
class Description:
    """What a missing or found report says about the child, as matching reads it."""

    report_id: str
    kind: Kind
    names: tuple[str, ...]
    """The child's names, any script (Urdu, Roman Urdu, English); empty when unknown."""
    parent_names: tuple[str, ...]
    age_min: int | None
    """Years."""
    age_max: int | None
    gender: Gender | None
    height_min_cm: int | None
    height_max_cm: int | None
    place: tuple[float, float] | None
    """(lat, lon) where last seen (missing) or found (found)."""
    district: str | None
    at: datetime
    """Last seen (missing) or found (found), aware UTC."""
    languages: tuple[str, ...]
    marks: str
    clothing: str
    photo_hashes: tuple[int, ...]
    """64-bit perceptual hashes (:func:`children.photo_hash.photo_hash`)."""

    def __post_init__(self) -> None:
        if self.kind not in ("missing", "found"):
            raise ValueError(f"kind must be 'missing' or 'found', not {self.kind!r}")
        if self.gender not in (None, "girl", "boy"):
            raise ValueError(f"gender must be 'girl', 'boy' or None, not {self.gender!r}")
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("at must be an aware datetime (UTC)")
        if self.place is not None:
            lat, lon = self.place
            if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
                raise ValueError(f"place must be (lat, lon) in degrees, not {self.place!r}")
        if any(not 0 <= h < 2**64 for h in self.photo_hashes):
            raise ValueError("photo hashes must be 64-bit unsigned integers")


@dataclass(frozen=True)
class Candidate:
    """A report of the other kind that may be the same child."""

    report_id: str
    score: float
    """0..1: how strongly the reports point to one child (not a probability to act on alone)."""
    reasons: tuple[str, ...]
    """Sentences an officer reads, strongest first, e.g. "name: Mohammad ≈ محمد (100%)"."""


# --- weights (log-likelihood ratios); docs/children.md lists them ------------

PRIOR = -5.0
"""Where every pair starts: most open reports are not this child."""
NAME_MAX, NAME_MIN, NAME_PIVOT = 6.0, -1.5, 0.7
"""Child's name: +6 at identical skeletons, 0 at similarity 0.7, down to -1.5."""
WEAK_NAME_SHARE = 0.3
"""Two names of only prefixes and common words ("Muhammad", "Syed Khan") agreeing: this share."""
PARENT_MAX, PARENT_MIN = 3.0, -1.0
AGE_OVERLAP, AGE_PER_YEAR_APART, AGE_PER_YEAR, AGE_MIN = 1.2, -0.3, -1.2, -4.0
"""Ranges that overlap: +1.2 less 0.3 per year between their middles (at least +0.2);
apart: -1.2 per year of gap, down to -4."""
HEIGHT_OVERLAP, HEIGHT_PER_CM_APART = 0.8, -0.04
HEIGHT_SLACK_CM, HEIGHT_PER_5CM, HEIGHT_MIN = 5, -0.7, -3.0
GENDER_SAME, GENDER_DIFFERENT = 0.7, -4.0
PLACE_NEAR, PLACE_KM = 2.0, 25.0
"""Found where last seen: +2, falling by e every 25 km (+1.6 at 5 km, +0.9 at 20 km)."""
PLACE_TOO_FAR = -3.0
TRAVEL_KMH, TRAVEL_SLACK_KM = 80.0, 10.0
"""A child taken by bus or car covers at most this speed on average, plus slack for the places."""
CLOCK_SLACK = timedelta(hours=2)
"""Found this long before last seen is taken as a reporting error; earlier rules the pair out."""
TIME_NEAR, TIME_DAYS, TIME_LATE = 3.0, 7.0, -0.5
"""Most children are found within days: 3·e^(-days/7) - 0.5 (+2.5 at once, +1.5 after 3 days,
0 after 13, -0.5 after a month or more)."""
DISTRICT_SAME = 0.5
LANGUAGE_SHARED, LANGUAGE_NONE = 0.3, -0.7
MARKS_MAX, CLOTHING_MAX = 3.0, 1.5
PHOTO_SAME = 8.0
REASON_FLOOR = 0.25
"""Signals that moved the score less than this are not listed as reasons."""
MIN_SCORE = 0.01
"""Candidates below this are not returned: nothing in them points to the child."""

MAX_NAMES, MAX_WORDS = 6, 8
"""Names per report and words per name read by matching (the rest of a pasted essay is not)."""

_WORD = re.compile(r"[^\W\d_]{3,}")
_STOP = frozenset(
    "the and with has had wearing wears on of in at near from her his a an small big little".split()
)


@dataclass(frozen=True)
class Profile:
    """A description prepared once for scoring (skeletons, word sets)."""

    description: Description
    names: tuple[tuple[str, tuple[NameWord, ...]], ...]
    parents: tuple[tuple[str, tuple[NameWord, ...]], ...]
    languages: frozenset[str]
    marks: frozenset[str]
    clothing: frozenset[str]
    name_keys: frozenset[str] = field(default_factory=frozenset)
    parent_keys: frozenset[str] = field(default_factory=frozenset)


def _words(text: str) -> frozenset[str]:
    out = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        if word.endswith("s") and len(word) > 3:
            word = word[:-1]
        out.add(word)
    return frozenset(out)


def _search_keys(named: tuple[tuple[str, tuple[NameWord, ...]], ...]) -> frozenset[str]:
    words = [w for _, ws in named for w in ws]
    strong = [w.key for w in words if not w.weak]
    return frozenset(strong or [w.key for w in words])


@lru_cache(maxsize=32768)
def profile(d: Description) -> Profile:
    """``d`` prepared for scoring (cached: descriptions are immutable)."""
    child = tuple(
        (n, name_keys.name_words(n)[:MAX_WORDS])
        for n in d.names[:MAX_NAMES]
        if name_keys.name_words(n)
    )
    parents = tuple(
        (n, name_keys.name_words(n)[:MAX_WORDS])
        for n in d.parent_names[:MAX_NAMES]
        if name_keys.name_words(n)
    )
    return Profile(
        description=d,
        names=child,
        parents=parents,
        languages=frozenset(k for k in (name_keys.skeleton(x) for x in d.languages) if k),
        marks=_words(d.marks),
        clothing=_words(d.clothing),
        name_keys=_search_keys(child),
        parent_keys=_search_keys(parents),
    )


# --- signals ---------------------------------------------------------------


def _names(
    a: tuple[tuple[str, tuple[NameWord, ...]], ...],
    b: tuple[tuple[str, tuple[NameWord, ...]], ...],
    cache: dict[tuple[str, str], float],
) -> tuple[float, str, str]:
    best = (0.0, "", "")
    for na, wa in a:
        for nb, wb in b:
            sim = name_keys.words_similarity(wa, wb, cache)
            if sim > best[0]:
                best = (sim, na, nb)
    return best


def _only_weak(name: str) -> bool:
    return all(w.weak for w in name_keys.name_words(name))


def _name_weight(sim: float, high: float, low: float) -> float:
    if sim >= NAME_PIVOT:
        return high * (sim - NAME_PIVOT) / (1 - NAME_PIVOT)
    return low * (NAME_PIVOT - sim) / NAME_PIVOT


def _span(lo: int | None, hi: int | None) -> tuple[float, float] | None:
    """A range from its ends, either of which may be unknown (one end: that value)."""
    if lo is None:
        if hi is None:
            return None
        lo = hi
    elif hi is None:
        hi = lo
    return (float(min(lo, hi)), float(max(lo, hi)))


def _gap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, a[0] - b[1], b[0] - a[1])


def _fmt_span(s: tuple[float, float], unit: str) -> str:
    lo, hi = round(s[0]), round(s[1])
    return f"{lo}{unit}" if lo == hi else f"{lo}–{hi}{unit}"


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points in km."""
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 12742.0 * math.asin(min(1.0, math.sqrt(h)))


def _hours(delta: timedelta) -> str:
    """A time elapsed as an officer says it: "less than an hour", "5 hours", "3 days"."""
    hours = max(delta.total_seconds(), 0) / 3600
    if hours < 0.5:
        return "less than an hour"
    if hours < 47.5:
        n, unit = round(hours), "hour"
    else:
        n, unit = round(hours / 24), "day"
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def score_pair(
    new: Profile, other: Profile, cache: dict[tuple[str, str], float] | None = None
) -> Candidate | None:
    """``other`` scored as a candidate for ``new``; None when ruled out or of the same kind."""
    a, b = new.description, other.description
    if a.kind == b.kind:
        return None
    missing, found = (a, b) if a.kind == "missing" else (b, a)
    elapsed = found.at - missing.at
    if elapsed < -CLOCK_SLACK:
        return None
    cache = cache if cache is not None else {}
    signals: list[tuple[float, str]] = []

    if new.names and other.names:
        sim, na, nb = _names(new.names, other.names, cache)
        w = _name_weight(sim, NAME_MAX, NAME_MIN)
        if w > 0 and _only_weak(na) and _only_weak(nb):
            w *= WEAK_NAME_SHARE  # "Muhammad" and "Muhammad": half the boys
        signals.append((w, f"name: {na} ≈ {nb} ({sim:.0%})" if w > 0 else "names differ"))
    if new.parents and other.parents:
        sim, na, nb = _names(new.parents, other.parents, cache)
        w = _name_weight(sim, PARENT_MAX, PARENT_MIN)
        signals.append(
            (w, f"parent: {na} ≈ {nb} ({sim:.0%})" if w > 0 else "parents' names differ")
        )

    age_a, age_b = _span(a.age_min, a.age_max), _span(b.age_min, b.age_max)
    if age_a and age_b:
        # the missing child has grown older by the time she is found
        years = max(elapsed.days, 0) / 365.25
        if a.kind == "missing":
            age_a = (age_a[0] + years, age_a[1] + years)
        else:
            age_b = (age_b[0] + years, age_b[1] + years)
        gap = _gap(age_a, age_b)
        if gap <= 0.5:
            apart = abs(sum(age_a) - sum(age_b)) / 2
            w = max(0.2, AGE_OVERLAP + AGE_PER_YEAR_APART * apart)
            text = f"age: {_fmt_span(age_a, '')} and {_fmt_span(age_b, '')} years agree"
        else:
            w = max(AGE_MIN, AGE_PER_YEAR * gap)
            text = f"age differs by {gap:.0f} years"
        signals.append((w, text))

    h_a, h_b = _span(a.height_min_cm, a.height_max_cm), _span(b.height_min_cm, b.height_max_cm)
    if h_a and h_b:
        gap = _gap(h_a, h_b)
        if gap <= HEIGHT_SLACK_CM:
            apart = abs(sum(h_a) - sum(h_b)) / 2
            w = max(0.1, HEIGHT_OVERLAP + HEIGHT_PER_CM_APART * apart)
            text = f"height: {_fmt_span(h_a, ' cm')} and {_fmt_span(h_b, ' cm')} agree"
        else:
            w = max(HEIGHT_MIN, HEIGHT_PER_5CM * (gap - HEIGHT_SLACK_CM) / 5)
            text = f"height differs by {gap:.0f} cm"
        signals.append((w, text))

    if a.gender and b.gender:
        if a.gender == b.gender:
            signals.append((GENDER_SAME, f"gender: both {a.gender}s"))
        else:
            signals.append((GENDER_DIFFERENT, f"gender differs: {a.gender} and {b.gender}"))

    days = max(elapsed.total_seconds(), 0) / 86400
    w = TIME_NEAR * math.exp(-days / TIME_DAYS) + TIME_LATE
    signals.append((w, f"time: found {_hours(elapsed)} after last seen"))

    if missing.place and found.place:
        km = haversine_km(missing.place, found.place)
        reach = TRAVEL_SLACK_KM + TRAVEL_KMH * max(elapsed.total_seconds(), 0) / 3600
        if km > reach:
            signals.append(
                (PLACE_TOO_FAR, f"place: {km:.0f} km apart, too far in {_hours(elapsed)}")
            )
        else:
            w = PLACE_NEAR * math.exp(-km / PLACE_KM)
            signals.append((w, f"place: {km:.1f} km apart"))

    if a.district and b.district and a.district.strip().lower() == b.district.strip().lower():
        signals.append((DISTRICT_SAME, f"district: both {b.district}"))

    if new.languages and other.languages:
        shared = new.languages & other.languages
        if shared:
            spoken = ", ".join(x for x in b.languages if name_keys.skeleton(x) in shared)
            signals.append((LANGUAGE_SHARED, f"language: {spoken}"))
        else:
            signals.append((LANGUAGE_NONE, "no language in common"))

    for mine, theirs, weight, label in (
        (new.marks, other.marks, MARKS_MAX, "marks"),
        (new.clothing, other.clothing, CLOTHING_MAX, "clothing"),
    ):
        common = mine & theirs
        if common:
            # share of the shorter description found in the other: a station
            # writes "scar" where the mother wrote "scar on left cheek"
            w = weight * len(common) / min(len(mine), len(theirs))
            signals.append((w, f"{label}: {', '.join(sorted(common))}"))

    if a.photo_hashes and b.photo_hashes:
        distance = min(hamming(x, y) for x in a.photo_hashes for y in b.photo_hashes)
        if distance <= DUPLICATE_DISTANCE:
            signals.append((PHOTO_SAME, f"photo: the same photo (distance {distance} of 64)"))

    total = PRIOR + sum(w for w, _ in signals)
    score = 1.0 / (1.0 + math.exp(-total))
    if score < MIN_SCORE:
        return None
    signals.sort(key=lambda s: -s[0])
    reasons = tuple(text for w, text in signals if abs(w) >= REASON_FLOOR)
    return Candidate(b.report_id, round(score, 6), reasons)


def _best(scored: Iterable[Candidate | None], top: int) -> list[Candidate]:
    found = [c for c in scored if c is not None]
    found.sort(key=lambda c: (-c.score, c.report_id))
    return found[:top]


def rank(new: Description, candidates: Iterable[Description], top: int = 5) -> list[Candidate]:
    """The ``top`` reports of the other kind most likely to be ``new``'s child, best first.

    Reports of the same kind, reports ruled out (found before last seen) and
    reports with nothing pointing to the child (score < :data:`MIN_SCORE`) are
    not returned. Ties are broken by report id, so the order is stable.
    """
    p = profile(new)
    cache: dict[tuple[str, str], float] = {}
    return _best((score_pair(p, profile(c), cache) for c in candidates if c.kind != new.kind), top)


# --- the registry ----------------------------------------------------------

AGE_BAND_YEARS = 3
NAME_CUTOFF = 0.75
"""A word of the new report finds index words at least this close (Jaro-Winkler on skeletons)."""


def _bands(d: Description) -> list[int]:
    span = _span(d.age_min, d.age_max)
    if span is None:
        return [-1]
    lo = max(0, int(span[0]) - 2) // AGE_BAND_YEARS
    hi = (int(span[1]) + 2) // AGE_BAND_YEARS
    return list(range(lo, hi + 1))


class _WordIndex:
    """Name-skeleton words → reports, searched by similarity (fine keys and coarse keys)."""

    def __init__(self) -> None:
        self.reports: dict[str, set[str]] = {}
        self.by_coarse: dict[str, set[str]] = {}
        self._fine: list[str] | None = None
        self._coarse: list[str] | None = None

    def add(self, key: str, rid: str) -> None:
        if key not in self.reports:
            self.reports[key] = set()
            self._fine = None
            coarse = name_keys.coarse_key(key)
            if coarse not in self.by_coarse:
                self.by_coarse[coarse] = set()
                self._coarse = None
            self.by_coarse[coarse].add(key)
        self.reports[key].add(rid)

    def discard(self, key: str, rid: str) -> None:
        self.reports.get(key, set()).discard(rid)

    def near(self, keys: Iterable[str]) -> set[str]:
        """Reports with a word at least :data:`NAME_CUTOFF` similar to one of ``keys``."""
        if self._fine is None:
            self._fine = list(self.reports)
        if self._coarse is None:
            self._coarse = list(self.by_coarse)
        words: set[str] = set()
        for key in keys:
            for word, _, _ in process.extract(
                key,
                self._fine,
                scorer=JaroWinkler.normalized_similarity,
                score_cutoff=NAME_CUTOFF,
                limit=None,
            ):
                words.add(word)
            for coarse, _, _ in process.extract(
                name_keys.coarse_key(key),
                self._coarse,
                scorer=JaroWinkler.normalized_similarity,
                score_cutoff=NAME_CUTOFF / name_keys.COARSE_FACTOR,
                limit=None,
            ):
                words |= self.by_coarse[coarse]
        ids: set[str] = set()
        for word in words:
            ids |= self.reports[word]
        return ids


class _Side:
    """The open reports of one kind, with their indexes."""

    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}
        self.by_name = _WordIndex()
        self.by_parent = _WordIndex()
        self.by_band: dict[int, set[str]] = {}
        self.hash_ids: list[str] = []
        self.hash_values: list[int] = []
        self._hashes: NDArray[np.uint64] | None = None

    def add(self, p: Profile) -> None:
        rid = p.description.report_id
        self.profiles[rid] = p
        for key in p.name_keys:
            self.by_name.add(key, rid)
        for key in p.parent_keys:
            self.by_parent.add(key, rid)
        for band in _bands(p.description):
            self.by_band.setdefault(band, set()).add(rid)
        for h in p.description.photo_hashes:
            self.hash_ids.append(rid)
            self.hash_values.append(h)
            self._hashes = None

    def remove(self, rid: str) -> None:
        p = self.profiles.pop(rid, None)
        if p is None:
            return
        for key in p.name_keys:
            self.by_name.discard(key, rid)
        for key in p.parent_keys:
            self.by_parent.discard(key, rid)
        for band in _bands(p.description):
            self.by_band.get(band, set()).discard(rid)
        if p.description.photo_hashes:
            keep = [i for i, x in enumerate(self.hash_ids) if x != rid]
            self.hash_ids = [self.hash_ids[i] for i in keep]
            self.hash_values = [self.hash_values[i] for i in keep]
            self._hashes = None

    def same_photos(self, hashes: Iterable[int]) -> set[str]:
        if not self.hash_values:
            return set()
        if self._hashes is None:
            self._hashes = np.array(self.hash_values, dtype=np.uint64)
        ids: set[str] = set()
        for h in hashes:
            distance = np.bitwise_count(self._hashes ^ np.uint64(h))
            ids.update(self.hash_ids[i] for i in np.flatnonzero(distance <= DUPLICATE_DISTANCE))
        return ids


class Registry:
    """The open missing and found reports, each new one ranked against the other kind.

    Gives the same answer as :func:`rank` over every open report of the other
    kind whenever the blocked set reaches every candidate worth showing; it
    scans everything when the blocks hold fewer than ``min_block`` reports.
    Not thread-safe: one writer (the process owning the reports) at a time.
    """

    def __init__(self, *, min_block: int = 300) -> None:
        self.min_block = min_block
        self._sides: dict[str, _Side] = {"missing": _Side(), "found": _Side()}
        self._kind: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._kind)

    def add(self, d: Description) -> None:
        """Open ``d`` (replacing an open report with the same id)."""
        self.remove(d.report_id)
        self._sides[d.kind].add(profile(d))
        self._kind[d.report_id] = d.kind

    def remove(self, report_id: str) -> None:
        """Close a report (matched, withdrawn, expired); unknown ids are ignored."""
        kind = self._kind.pop(report_id, None)
        if kind is not None:
            self._sides[kind].remove(report_id)

    def block(self, new: Description) -> list[str]:
        """The ids of the open reports of the other kind ``new`` is scored against."""
        side = self._sides["found" if new.kind == "missing" else "missing"]
        if len(side.profiles) <= self.min_block:
            return list(side.profiles)
        p = profile(new)
        ids = side.by_name.near(p.name_keys) | side.by_parent.near(p.parent_keys)
        ids |= side.same_photos(new.photo_hashes)
        if len(ids) < self.min_block:
            near_age: set[str] = set(side.by_band.get(-1, set()))
            for band in _bands(new):
                near_age |= side.by_band.get(band, set())
            ids |= {
                i
                for i in near_age
                if new.gender is None or side.profiles[i].description.gender in (None, new.gender)
            }
        if len(ids) < self.min_block:
            return list(side.profiles)
        return list(ids)

    def rank(self, new: Description, top: int = 5) -> list[Candidate]:
        """Like :func:`rank` over the open reports of the other kind, through the indexes."""
        side = self._sides["found" if new.kind == "missing" else "missing"]
        p = profile(new)
        cache: dict[tuple[str, str], float] = {}
        return _best((score_pair(p, side.profiles[i], cache) for i in self.block(new)), top)
