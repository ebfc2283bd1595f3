"""``safecall audit verify`` (to be written)."""

from typing import Any


def register(sub: Any) -> None:
    pass
