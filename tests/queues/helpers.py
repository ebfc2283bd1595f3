"""Small builders for routing tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from queues import config as routing_config
from queues.config import RoutingConfig
from queues.events import Event
from queues.model import OfficerProfile, Presence
from queues.router import Contact, Listener, Router


def profile(
    officer_id: int,
    gender: str = "female",
    lines: Iterable[str] = ("women", "child"),
    languages: Iterable[str] = ("ur",),
    skills: dict[str, int] | None = None,
    district: str | None = None,
) -> OfficerProfile:
    return OfficerProfile(
        id=officer_id,
        gender=gender,
        lines=frozenset(lines),
        languages=frozenset(languages),
        skills=dict(skills or {}),
        district=district,
    )


async def online(router: Router, *profiles: OfficerProfile) -> None:
    """Register officers and make them available, in the order given."""
    for p in profiles:
        await router.register(p)
        await router.set_presence(p.id, Presence.AVAILABLE)


def contact(
    task_id: str, line: str = "women", channel: str = "browser_video", **kw: Any
) -> Contact:
    kw.setdefault("language", "ur")
    return Contact(id=task_id, line=line, channel=channel, **kw)


def offered_to(router: Router, task_id: str) -> int | None:
    task = router.board.tasks.get(task_id)
    return task.officer if task is not None and task.status == "offered" else None


def config_with(**sections: str) -> RoutingConfig:
    """The default configuration with whole top-level sections replaced.

    ``config_with(offers="[offers]\ntimeout = 5 ...")``: every table under that name
    (``[offers]``, or ``[lines.women]``, ``[[relaxation.steps]]`` ...) is replaced by the text.
    """
    kept: list[str] = []
    skipping = False
    for line in routing_config.load_default_text().splitlines():
        if line.startswith("["):
            top = line.strip().strip("[]").split(".")[0]
            skipping = top in sections
        if not skipping:
            kept.append(line)
    text = "\n".join(kept) + "\n" + "\n".join(sections.values()) + "\n"
    return routing_config.parse(text, "test.toml")


def drain(listener: Listener) -> list[Event]:
    events = []
    while not listener.queue.empty():
        events.append(listener.queue.get_nowait())
    return events
