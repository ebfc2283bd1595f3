"""Routing configuration: one TOML file with sensible defaults, checked at start.

:func:`load` reads a file (or the packaged ``default_routing.toml``) and
returns a :class:`RoutingConfig`; anything wrong raises :class:`ConfigError`
whose message names the file, the key and what was expected, so the server
stops before it routes anything.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_FILE = "default_routing.toml"
KINDS = ("voice", "chat")
"""Kinds of channel: a voice contact (phone, browser audio or video) or a chat."""
WOMEN = "women"
DEFAULT_GRACE = 5.0
"""Seconds a task's preferences hold it when nobody who meets them is free."""
MAX_GRACE = 30.0
DEFAULT_AGING_EVERY = 20.0
"""Seconds of waiting that raise a task's priority by one."""


class ConfigError(ValueError):
    """The routing configuration cannot be used."""


@dataclass(frozen=True)
class Step:
    """One relaxation ring: the preferences a task still asks for after ``after`` seconds."""

    after: float
    """Seconds of waiting from which this step applies."""
    language: bool
    """Only officers who speak her language."""
    min_proficiency: int
    """Only officers with at least this skill (1–5) in her category; 0 asks for none."""
    district: bool
    """Only officers of her district."""

    @property
    def relaxes_everything(self) -> bool:
        return not self.language and self.min_proficiency == 0 and not self.district


@dataclass(frozen=True)
class RoutingConfig:
    lines: Mapping[str, bool]
    """Service line -> female only."""
    priorities: Mapping[str, int]
    """Category -> priority; higher is offered first."""
    default_priority: int
    emergency_priority: int
    callback_priority: int
    capacity: Mapping[str, int]
    """Kind of channel -> contacts of that kind an officer holds at once."""
    offer_timeout: float
    no_answer_limit: int
    reoffer_after: float
    ttl: float
    callback_ttl: float
    wrap_up: float
    service_level: float
    stats_window: float
    known_officer: float
    returning: float
    steps: tuple[Step, ...]
    grace: float = DEFAULT_GRACE
    """Seconds after arrival during which her preferences hold her task even when no
    officer who meets them is free; afterwards they hold it only while one is."""
    aging_every: float = DEFAULT_AGING_EVERY
    """A waiting task's priority rises by one for every this many seconds it waits ..."""
    aging_up_to: int | None = None
    """... up to this (below the emergency priority; None: just below it). Tasks above it
    do not age, so an emergency always stays first."""

    @property
    def aging_ceiling(self) -> int:
        return self.emergency_priority - 1 if self.aging_up_to is None else self.aging_up_to

    @property
    def capacity_units(self) -> int:
        """An officer's whole capacity in units: each kind costs ``units // capacity[kind]``."""
        return math.lcm(*self.capacity.values())

    def cost(self, kind: str) -> int:
        """Units one contact of ``kind`` takes of an officer's capacity."""
        return self.capacity_units // self.capacity[kind]

    def female_only(self, line: str) -> bool:
        """The line's flag (``[lines.<line>]``); an unknown line is an error, never defaulted."""
        try:
            return self.lines[line]
        except KeyError:
            raise ValueError(f"unknown service line {line!r}") from None

    def priority_of(self, category: str | None, *, emergency: bool = False) -> int:
        if emergency:
            return self.emergency_priority
        if category is None:
            return self.default_priority
        return self.priorities.get(category, self.default_priority)


def load_default_text() -> str:
    """The packaged default file, as text (a starting point for your own)."""
    return resources.files("queues").joinpath(DEFAULT_FILE).read_text()


def load(path: Path | None = None) -> RoutingConfig:
    """The configuration in ``path``, or the packaged defaults when ``path`` is None."""
    if path is None:
        name = DEFAULT_FILE
        text = load_default_text()
    else:
        name = str(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read the routing file ({exc.strerror}).") from None
    return parse(text, name)


def parse(text: str, name: str = "routing.toml") -> RoutingConfig:
    """Check and convert TOML text; ``name`` only appears in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML ({exc}).") from None
    return _Checker(name).config(raw)


class _Checker:
    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, where: str, expected: str, got: Any = None) -> ConfigError:
        tail = "" if got is None else f", got {got!r}"
        return ConfigError(f"{self.name}: {where} must be {expected}{tail}.")

    def table(self, raw: Mapping[str, Any], key: str, allowed: set[str] | None) -> dict[str, Any]:
        value = raw.get(key)
        if not isinstance(value, dict):
            raise self.fail(f"[{key}]", "a table")
        if allowed is not None:
            unknown = sorted(set(value) - allowed)
            if unknown:
                raise ConfigError(
                    f"{self.name}: [{key}] has unknown key {unknown[0]!r}; "
                    f"known keys are {', '.join(sorted(allowed))}."
                )
        return value

    def seconds(self, table: Mapping[str, Any], where: str, key: str, minimum: float) -> float:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self.fail(f"{where}.{key}", f"a number of seconds of at least {minimum:g}", value)
        return float(value)

    def whole(self, table: Mapping[str, Any], where: str, key: str, low: int, high: int) -> int:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"{where}.{key}", f"a whole number from {low} to {high}", value)
        return value

    def flag(self, table: Mapping[str, Any], where: str, key: str) -> bool:
        value = table.get(key)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", "true or false", value)
        return value

    def config(self, raw: dict[str, Any]) -> RoutingConfig:
        sections = {
            "lines",
            "priorities",
            "capacity",
            "offers",
            "tasks",
            "service_level",
            "relaxation",
            "aging",
        }
        unknown = sorted(set(raw) - sections)
        if unknown:
            raise ConfigError(
                f"{self.name}: unknown section [{unknown[0]}]; "
                f"known sections are {', '.join(sorted(sections))}."
            )
        lines = self.lines(raw)
        priorities, default, emergency, callback = self.priorities(raw)
        capacity_table = self.table(raw, "capacity", set(KINDS))
        capacity = {kind: self.whole(capacity_table, "capacity", kind, 1, 12) for kind in KINDS}
        offers = self.table(raw, "offers", {"timeout", "no_answer_limit", "reoffer_after"})
        tasks = self.table(raw, "tasks", {"ttl", "callback_ttl", "wrap_up"})
        level = self.table(raw, "service_level", {"threshold", "window"})
        relax = self.table(raw, "relaxation", {"known_officer", "returning", "grace", "steps"})
        every, up_to = self.aging(raw, emergency)
        ttl = self.seconds(tasks, "tasks", "ttl", 1)
        timeout = self.seconds(offers, "offers", "timeout", 1)
        if timeout >= ttl:
            raise self.fail("offers.timeout", f"shorter than tasks.ttl ({ttl:g} s)", timeout)
        return RoutingConfig(
            lines=lines,
            priorities=priorities,
            default_priority=default,
            emergency_priority=emergency,
            callback_priority=callback,
            capacity=capacity,
            offer_timeout=timeout,
            no_answer_limit=self.whole(offers, "offers", "no_answer_limit", 1, 100),
            reoffer_after=self.seconds(offers, "offers", "reoffer_after", 0),
            ttl=ttl,
            callback_ttl=self.seconds(tasks, "tasks", "callback_ttl", 1),
            wrap_up=self.seconds(tasks, "tasks", "wrap_up", 0),
            service_level=self.seconds(level, "service_level", "threshold", 1),
            stats_window=self.seconds(level, "service_level", "window", 60),
            known_officer=self.seconds(relax, "relaxation", "known_officer", 0),
            returning=self.seconds(relax, "relaxation", "returning", 0),
            steps=self.steps(relax),
            grace=self.grace(relax),
            aging_every=every,
            aging_up_to=up_to,
        )

    def aging(self, raw: Mapping[str, Any], emergency: int) -> tuple[float, int | None]:
        if "aging" not in raw:
            return DEFAULT_AGING_EVERY, None
        table = self.table(raw, "aging", {"every", "up_to"})
        every = (
            self.seconds(table, "aging", "every", 1) if "every" in table else DEFAULT_AGING_EVERY
        )
        if "up_to" not in table:
            return every, None
        return every, self.whole(table, "aging", "up_to", 0, emergency - 1)

    def grace(self, relax: Mapping[str, Any]) -> float:
        if "grace" not in relax:
            return DEFAULT_GRACE
        grace = self.seconds(relax, "relaxation", "grace", 0)
        if grace > MAX_GRACE:
            raise self.fail(
                "relaxation.grace",
                f"at most {MAX_GRACE:g} seconds (disclosure must never delay help for long)",
                relax["grace"],
            )
        return grace

    def lines(self, raw: Mapping[str, Any]) -> dict[str, bool]:
        table = self.table(raw, "lines", None)
        if not table:
            raise self.fail("[lines]", "at least one service line such as [lines.women]")
        lines: dict[str, bool] = {}
        for line, options in table.items():
            if not isinstance(line, str) or not line.replace("_", "").isalnum() or len(line) > 16:
                raise self.fail("a service line name", "lower_case letters, at most 16", line)
            if not isinstance(options, dict) or set(options) != {"female_only"}:
                raise self.fail(f"[lines.{line}]", "a table with exactly female_only = true|false")
            lines[line] = self.flag(options, f"lines.{line}", "female_only")
        if WOMEN in lines and not lines[WOMEN]:
            raise ConfigError(
                f"{self.name}: lines.women.female_only cannot be false: the women's line "
                "is answered by female officers only."
            )
        return lines

    def priorities(self, raw: Mapping[str, Any]) -> tuple[dict[str, int], int, int, int]:
        table = self.table(raw, "priorities", None)
        values: dict[str, int] = {}
        for key in table:
            values[key] = self.whole(table, "priorities", key, 0, 999)
        for needed in ("default", "emergency", "callback"):
            if needed not in values:
                raise self.fail(f"priorities.{needed}", "set (a whole number from 0 to 999)")
        if values["emergency"] <= max(v for k, v in values.items() if k != "emergency"):
            raise self.fail("priorities.emergency", "higher than every other priority")
        special = {k: values.pop(k) for k in ("default", "emergency", "callback")}
        return values, special["default"], special["emergency"], special["callback"]

    def steps(self, relax: Mapping[str, Any]) -> tuple[Step, ...]:
        raw_steps = relax.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.fail("relaxation.steps", "a list of [[relaxation.steps]] tables")
        steps: list[Step] = []
        for n, item in enumerate(raw_steps):
            where = f"relaxation.steps[{n}]"
            if not isinstance(item, dict):
                raise self.fail(where, "a table")
            keys = {"after", "language", "min_proficiency", "district"}
            if set(item) != keys:
                raise self.fail(where, f"a table with exactly {', '.join(sorted(keys))}")
            step = Step(
                after=self.seconds(item, where, "after", 0),
                language=self.flag(item, where, "language"),
                min_proficiency=self.whole(item, where, "min_proficiency", 0, 5),
                district=self.flag(item, where, "district"),
            )
            if n == 0 and step.after != 0:
                raise self.fail(f"{where}.after", "0 (the first step applies from arrival)")
            if steps and step.after <= steps[-1].after:
                raise self.fail(
                    f"{where}.after", f"later than the step before ({steps[-1].after:g})"
                )
            steps.append(step)
        if not steps[-1].relaxes_everything:
            raise ConfigError(
                f"{self.name}: the last relaxation step must drop every preference "
                "(language = false, min_proficiency = 0, district = false) "
                "so no task waits forever."
            )
        return tuple(steps)
