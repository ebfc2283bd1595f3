"""The audit log (being written): append-only, hash-chained, head signed at intervals.

Interface other packages rely on::

    await request.app[AUDIT].record(
        actor_kind="officer",       # officer | public | system | twilio
        officer_id=officer.id,      # or None
        action="case.read",         # <object>.<verb>, e.g. case.update, case.note_add, login.fail
        object_type="case",
        object_id=str(case.id),     # or None
        address=client_address(request),
        detail={"fields": [...]},   # no names, phone numbers or note text
    )

``record`` writes in its own transaction and returns when the event is durable.
"""

from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, db: Any, key_file: Path, clock: Any) -> None:
        self.db = db

    async def record(
        self,
        *,
        actor_kind: str,
        officer_id: int | None,
        action: str,
        object_type: str,
        object_id: str | None = None,
        address: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        pass

    async def close(self) -> None:
        pass


def ensure_signing_key(path: Path) -> bool:
    return False
