"""Descriptions for the matching tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from children.matching import Description

LAST_SEEN = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def describe(report_id: str, kind: str, names: tuple[str, ...] = (), **fields: Any) -> Description:
    values: dict[str, Any] = {
        "parent_names": (),
        "age_min": None,
        "age_max": None,
        "gender": None,
        "height_min_cm": None,
        "height_max_cm": None,
        "place": None,
        "district": None,
        "at": LAST_SEEN,
        "languages": (),
        "marks": "",
        "clothing": "",
        "photo_hashes": (),
    }
    values.update(fields)
    return Description(report_id=report_id, kind=kind, names=names, **values)  # type: ignore[arg-type]
