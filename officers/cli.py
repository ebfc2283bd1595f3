"""``safecall officer ...`` (to be written)."""

import argparse
from typing import Any


def register(sub: Any) -> None:
    pass
