"""Tasks and officers as Redis hashes of strings (the field names the Lua scripts use)."""

from __future__ import annotations

import functools
import json
from typing import Any

from queues.model import Officer, OfficerProfile, Presence, Task, TaskStatus


def task_fields(task: Task) -> list[str]:
    """Field, value, ... of a new task (the store adds seq, v, st, off, oexp, ans)."""
    values: dict[str, Any] = {
        "id": task.id,
        "sid": task.session_id,
        "line": task.line,
        "ch": task.channel,
        "kind": task.kind,
        "cost": task.cost,
        "prio": task.priority,
        "arr": repr(task.arrived),
        "ttl": repr(task.ttl_at),
        "fonly": "1" if task.female_only else "0",
        "cat": task.category or "",
        "lang": task.language or "",
        "dist": task.district or "",
        "silent": "1" if task.silent else "0",
        "cbsafe": "1" if task.callback_safe else "0",
        "iscb": "1" if task.is_callback else "0",
        "known": "" if task.known_officer is None else task.known_officer,
        "known_until": repr(task.known_until),
    }
    flat: list[str] = []
    for key, value in values.items():
        flat += [key, str(value)]
    return flat


def task_from(raw: dict[str, str]) -> Task:
    excluded = {int(k[1:]): float(v) for k, v in raw.items() if k[0] == "x"}
    return Task(
        id=raw["id"],
        session_id=raw["sid"],
        line=raw["line"],
        channel=raw["ch"],
        kind=raw["kind"],
        cost=int(raw["cost"]),
        priority=int(raw["prio"]),
        arrived=float(raw["arr"]),
        ttl_at=float(raw["ttl"]),
        female_only=raw["fonly"] == "1",
        category=raw["cat"] or None,
        language=raw["lang"] or None,
        district=raw["dist"] or None,
        silent=raw["silent"] == "1",
        callback_safe=raw["cbsafe"] == "1",
        is_callback=raw["iscb"] == "1",
        known_officer=int(raw["known"]) if raw["known"] else None,
        known_until=float(raw["known_until"]),
        seq=int(raw["seq"]),
        status=TaskStatus(raw["st"]),
        officer=int(raw["off"]) if raw["off"] else None,
        offer_expires=float(raw["oexp"]),
        answered_at=float(raw["ans"]),
        excluded=excluded,
        version=int(raw["v"]),
    )


def bars(values: frozenset[str]) -> str:
    """A set as ``|a|b|``: the Lua scripts test membership with one string search."""
    return "|" + "|".join(sorted(values)) + "|" if values else "|"


def profile_args(profile: OfficerProfile) -> list[str]:
    """gender, lines, languages, skills, district (ARGV of register.lua)."""
    return [
        profile.gender,
        bars(profile.lines),
        bars(profile.languages),
        json.dumps(profile.skills, sort_keys=True, separators=(",", ":")),
        profile.district or "",
    ]


@functools.lru_cache(maxsize=8192)
def _profile(
    oid: str, gender: str, lines: str, langs: str, skills: str, dist: str
) -> OfficerProfile:
    # Profiles change rarely and every step returns the officer: decode each one once.
    return OfficerProfile(
        id=int(oid),
        gender=gender,
        lines=frozenset(x for x in lines.split("|") if x),
        languages=frozenset(x for x in langs.split("|") if x),
        skills={k: int(v) for k, v in json.loads(skills).items()},
        district=dist or None,
    )


def officer_from(raw: dict[str, str]) -> Officer:
    profile = _profile(
        raw["id"], raw["gender"], raw["lines"], raw["langs"], raw["skills"], raw["dist"]
    )
    return Officer(
        profile=profile,
        capacity=int(raw["cap"]),
        presence=Presence(raw["pres"]),
        offer=raw["offer"] or None,
        load=int(raw["load"]),
        wrap_until=float(raw["wrap"]),
        idle_since=float(raw["idle"]),
        missed=int(raw["missed"]),
        version=int(raw["v"]),
    )
