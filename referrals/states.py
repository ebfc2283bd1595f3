"""A referral's life: the statuses and the steps between them, as data.

::

    sent -> acknowledged -> dispatched -> en_route -> on_scene -> resolved
                 |               |            |           |   \\-> unable_to_locate
                 \\---------------+------------+-----------+--> resolved | unable_to_locate
    sent | acknowledged -> withdrawn (the centre takes it back)

Only ``sent`` escalates (an emergency nobody acknowledged in time).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    UNABLE_TO_LOCATE = "unable_to_locate"
    WITHDRAWN = "withdrawn"


class Urgency(StrEnum):
    EMERGENCY = "emergency"
    TODAY = "today"
    ROUTINE = "routine"


CLOSED = frozenset({Status.RESOLVED, Status.UNABLE_TO_LOCATE, Status.WITHDRAWN})
OUTCOMES = frozenset({Status.RESOLVED, Status.UNABLE_TO_LOCATE})

NEXT: dict[Status, frozenset[Status]] = {
    Status.SENT: frozenset({Status.ACKNOWLEDGED, Status.WITHDRAWN}),
    Status.ACKNOWLEDGED: frozenset({Status.DISPATCHED, Status.WITHDRAWN, *OUTCOMES}),
    Status.DISPATCHED: frozenset({Status.EN_ROUTE, Status.ON_SCENE, *OUTCOMES}),
    Status.EN_ROUTE: frozenset({Status.ON_SCENE, *OUTCOMES}),
    Status.ON_SCENE: frozenset(OUTCOMES),
    Status.RESOLVED: frozenset(),
    Status.UNABLE_TO_LOCATE: frozenset(),
    Status.WITHDRAWN: frozenset(),
}
"""Where each status may go next."""

FIELD_STEPS = frozenset({Status.EN_ROUTE, Status.ON_SCENE, *OUTCOMES})
"""Steps a place reports through ``POST .../status`` (acknowledging and dispatching a unit
have endpoints of their own)."""

TIME_COLUMN = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.DISPATCHED: "dispatched_at",
    Status.ON_SCENE: "on_scene_at",
    Status.RESOLVED: "closed_at",
    Status.UNABLE_TO_LOCATE: "closed_at",
    Status.WITHDRAWN: "closed_at",
}


def may_move(current: str, to: str) -> bool:
    try:
        return Status(to) in NEXT[Status(current)]
    except ValueError:
        return False
