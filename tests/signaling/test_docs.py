"""docs/signaling.md names every message type and every error code the code knows."""

from __future__ import annotations

from pathlib import Path

from signaling.errors import CODES
from signaling.messages import CLIENT_TYPES, SERVER_TYPES

DOC = (Path(__file__).parents[2] / "docs" / "signaling.md").read_text()


def test_every_message_type_is_documented():
    missing = [t for t in {*CLIENT_TYPES, *SERVER_TYPES} if f"`{t}`" not in DOC]
    assert missing == []


def test_every_error_code_is_documented_with_its_close_code():
    for code, known in CODES.items():
        rows = [line for line in DOC.splitlines() if line.startswith(f"| `{code}` |")]
        assert rows, f"{code} is not in the error table"
        expected = "no" if known.close is None else str(known.close)
        assert expected in rows[0], f"{code}: the table does not say {expected}"
