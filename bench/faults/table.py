"""The fault table: one row per fault, a verdict per column, the figures behind it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECOVERY_TARGET = 5.0
"""Seconds for routing to recover once the dependency is back."""


@dataclass
class Row:
    fault: str
    what: str
    open_contacts: int
    double_assignments: int
    chats_acked: int
    chats_missing: int
    twilio_json: int
    bad_answers: int
    recovery: float | None
    """Seconds from the dependency's return to a contact opened after it being offered to an
    officer; None: none was, before the run's end."""
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def verdicts(self) -> dict[str, bool]:
        return {
            "open": self.open_contacts == 0,
            "double": self.double_assignments == 0,
            "chat": self.chats_missing == 0,
            "json": self.twilio_json == 0,
            "503/TwiML": self.bad_answers == 0,
            "recovery": self.recovery is not None and self.recovery <= RECOVERY_TARGET,
        }

    @property
    def passed(self) -> bool:
        return self.error is None and all(self.verdicts().values())


def _cell(ok: bool, text: str) -> str:
    return f"{'ok' if ok else 'FAIL'} {text}"


def render(rows: list[Row]) -> str:
    head = (
        f"{'fault':12} {'no end state':>13} {'double assign':>13} {'chat missing':>16} "
        f"{'JSON to Twilio':>14} {'not 503/TwiML':>13} {'recovery':>13}  verdict"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        if row.error is not None:
            lines.append(f"{row.fault:12} ERROR {row.error}")
            continue
        v = row.verdicts()
        recovery = "never" if row.recovery is None else f"{row.recovery:.1f} s"
        lines.append(
            f"{row.fault:12} {_cell(v['open'], str(row.open_contacts)):>13} "
            f"{_cell(v['double'], str(row.double_assignments)):>13} "
            f"{_cell(v['chat'], f'{row.chats_missing}/{row.chats_acked}'):>16} "
            f"{_cell(v['json'], str(row.twilio_json)):>14} "
            f"{_cell(v['503/TwiML'], str(row.bad_answers)):>13} "
            f"{_cell(v['recovery'], recovery):>13}  {'PASS' if row.passed else 'FAIL'}"
        )
    return "\n".join(lines)


SHOWN = (
    "fault_at", "contacts", "dispositions", "open_by_channel", "open", "webhooks",
    "webhook_p99_ms", "cut", "bad_by_kind", "notes", "settle_seconds", "twilio_asked",
)  # fmt: skip


def details(row: Row) -> str:
    """The figures of one row, a few lines."""
    f = row.figures
    out = []
    for key in SHOWN:
        if key in f and f[key] not in ({}, None):
            out.append(f"    {key}: {f[key]}")
    return "\n".join(out)


def write_json(rows: list[Row], path: Path, meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        **meta,
        "recovery_target_seconds": RECOVERY_TARGET,
        "rows": [{**asdict(r), "verdicts": r.verdicts(), "passed": r.passed} for r in rows],
    }
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
