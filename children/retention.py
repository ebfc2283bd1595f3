"""How long a child's record stays searchable.

A reunited child's reports leave search (lists, the registry) ``search_days`` after they
closed: the rows stay for the figures and the case's record, but no officer finds the child
by district, age or date any more. Reports closed otherwise (placed in care, referred) stay
searchable: the child is still in someone's care. Run every hour by the children's context.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from children.models import ChildReport
from children.service import CLOSED, Children


async def hide_reunited(service: Children) -> int:
    """Hide the reunited reports past the retention time; how many were hidden now."""
    now = service.clock()
    before = now - timedelta(days=service.config.search_days)
    async with service.db() as session, session.begin():
        done = await session.execute(
            update(ChildReport)
            .where(
                ChildReport.status == CLOSED,
                ChildReport.outcome == "reunited",
                ChildReport.closed_at < before,
                ChildReport.hidden_at.is_(None),
            )
            .values(hidden_at=now)
            .execution_options(synchronize_session=False)
        )
        hidden = int(done.rowcount)  # type: ignore[attr-defined]
    if hidden:
        await service.audit.record(
            actor_kind="system",
            officer_id=None,
            action="child.retention.hide",
            object_type="child_report",
            object_id=None,
            detail={"hidden": hidden, "days": service.config.search_days},
        )
    return hidden
