"""Keeping her informed: her choice, the updates it lets through, when they go, and receipts.

Case steps are read from the case timeline (one way: cases know nothing of
messages). :meth:`Messenger.write_updates` reads the events after its cursor
and, for a case whose complainant chose SMS or WhatsApp (and has not stopped),
makes one held message per step, due at her next safe time, in her language,
naming the police only if she allowed it; :meth:`Messenger.send_due` sends
what is due. Each message's key makes it once (two processes reading the same
events make one), and its status moves from ``held`` to ``sending`` in one
conditional update (two processes send it once). A message cut by a crash
between "sending" and Twilio's answer is marked ``interrupted``, not sent
again: a second text to a shared phone is worse than a missing one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases.models import Case, TimelineEvent
from cases.timeline import record_event
from messaging.choices import Choice
from messaging.models import MessagingCursor, OutboundMessage, TextContact, UpdateChoice
from messaging.safe_times import as_text, next_safe
from messaging.sender import UNSUBSCRIBED, SendFailed, Sent
from messaging.texts import Texts
from safecall.refusals import NotFound
from sealing.data_key import DataKey

log = logging.getLogger(__name__)

PHONE_FIELD = "messaging.phone"
BODY_FIELD = "messaging.body"
CURSOR = "updates"
LOOKBACK = 500
"""Event ids re-read behind the cursor: a transaction that committed late (PostgreSQL
hands out ids before commit) is still seen; keys keep it to one message."""
BATCH = 500
ONCE_PER = timedelta(hours=1)
"""The same step for the same case is told once in this time (referred by the referral and
by the case's status: one message)."""
INTERRUPTED_AFTER = timedelta(minutes=5)
WHATSAPP_WINDOW = timedelta(hours=24)

Send = Callable[[str, str, str, bool], Awaitable[Sent]]
"""(channel, to, body, template) -> what Twilio said."""

CASE_STATUS_STEPS = {
    "fir_registered": "fir_registered",
    "under_investigation": "under_investigation",
    "fast_tracked": "under_investigation",
    "challan_submitted": "under_investigation",
    "in_trial": "under_investigation",
    "referred": "referred",
    "closed": "closed",
    "resolved_by_reconciliation": "closed",
}
KINDS = ("case.status", "case.updated", "case.step", "referral.sent", "referral.dispatched")


def step_of(kind: str, data: dict[str, object]) -> str | None:
    """The update an event is, if any."""
    if kind == "case.status":
        return CASE_STATUS_STEPS.get(str(data.get("to")))
    if kind == "case.updated":
        field, to = data.get("field"), data.get("to")
        return "officer_assigned" if field == "assigned_officer_id" and to else None
    if kind == "case.step":
        return str(data.get("step")) if data.get("step") in ("challan", "hearing_date") else None
    if kind == "referral.sent":
        return "referred"
    if kind == "referral.dispatched":
        return "unit_on_the_way"
    return None


class Messenger:
    def __init__(
        self,
        *,
        db: async_sessionmaker[AsyncSession],
        data_key: DataKey,
        clock: Callable[[], datetime],
        zone: ZoneInfo,
        texts: Texts,
        send: Send,
    ) -> None:
        self.db = db
        self.data_key = data_key
        self.clock = clock
        self.zone = zone
        self.texts = texts
        self._send = send

    # --- her choice -------------------------------------------------------------------------

    async def choose(self, case_id: int, chosen: Choice, via: str) -> UpdateChoice:
        """Record her choice (replacing an earlier one; a new choice after STOP starts again).
        Messages still held under the earlier choice are cancelled."""
        now = self.clock()
        async with self.db() as session, session.begin():
            case = await session.get(Case, case_id)
            if case is None:
                raise NotFound("case_not_found", "There is no such case.")
            row = await session.get(UpdateChoice, case_id)
            if row is None:
                row = UpdateChoice(case_id=case_id)
                session.add(row)
            row.channel = chosen.channel
            row.language = chosen.language
            row.name_police = chosen.name_police
            row.safe_times = as_text(list(chosen.safe_times))
            row.phone_sealed = self.data_key.seal_optional(chosen.phone, PHONE_FIELD)
            row.phone_hash = (
                None if chosen.phone is None else self.data_key.phone_hash(chosen.phone)
            )
            row.push_sealed = None
            row.chosen_at, row.chosen_via = now, via
            row.stopped_at = row.stopped_via = None
            await self._cancel_held(session, case_id, now)
            await record_event(
                session,
                key=f"case:{case_id}:updates_chosen:{int(now.timestamp() * 1000)}",
                kind="case.updates_chosen",
                at=now,
                case_id=case_id,
                data={"channel": chosen.channel, "via": via, "language": chosen.language},
            )
        return row

    async def stop(self, *, via: str, case_id: int | None = None, phone: str | None = None) -> int:
        """She stops the messages (one case, or every case on a number); held ones are
        cancelled. How many choices were stopped."""
        now = self.clock()
        async with self.db() as session, session.begin():
            query = select(UpdateChoice).where(UpdateChoice.stopped_at.is_(None))
            if case_id is not None:
                query = query.where(UpdateChoice.case_id == case_id)
            else:
                assert phone is not None
                query = query.where(UpdateChoice.phone_hash == self.data_key.phone_hash(phone))
            rows = list(await session.scalars(query))
            for row in rows:
                row.stopped_at, row.stopped_via = now, via
                await self._cancel_held(session, row.case_id, now)
                await record_event(
                    session,
                    key=f"case:{row.case_id}:updates_stopped:{int(now.timestamp() * 1000)}",
                    kind="case.updates_stopped",
                    at=now,
                    case_id=row.case_id,
                    data={"via": via},
                )
        return len(rows)

    async def _cancel_held(self, session: AsyncSession, case_id: int, now: datetime) -> None:
        await session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.case_id == case_id,
                OutboundMessage.purpose == "update",
                OutboundMessage.status == "held",
            )
            .values(status="cancelled", updated_at=now)
            .execution_options(synchronize_session=False)
        )

    # --- updates from the timeline ---------------------------------------------------------

    async def write_updates(self) -> int:
        """Make the held messages for the case steps recorded since the last look; how many."""
        now = self.clock()
        made = 0
        async with self.db() as session, session.begin():
            cursor = await session.get(MessagingCursor, CURSOR)
            if cursor is None:
                cursor = MessagingCursor(name=CURSOR, last_id=0)
                session.add(cursor)
                await session.flush()
            events = list(
                await session.execute(
                    select(
                        TimelineEvent.id,
                        TimelineEvent.kind,
                        TimelineEvent.case_id,
                        TimelineEvent.data,
                        TimelineEvent.at,
                    )
                    .where(
                        TimelineEvent.id > max(0, cursor.last_id - LOOKBACK),
                        TimelineEvent.kind.in_(KINDS),
                        TimelineEvent.case_id.is_not(None),
                    )
                    .order_by(TimelineEvent.id)
                    .limit(BATCH + LOOKBACK)
                )
            )
            # One look for the cases that want messages and the events already made into one,
            # so that re-reading the lookback costs two queries, not two per event.
            wanting: set[int] = set()
            made_keys: set[str] = set()
            if events:
                wanting = set(
                    await session.scalars(
                        select(UpdateChoice.case_id).where(
                            UpdateChoice.case_id.in_({e.case_id for e in events}),
                            UpdateChoice.stopped_at.is_(None),
                            UpdateChoice.channel.in_(("sms", "whatsapp")),
                        )
                    )
                )
                made_keys = set(
                    await session.scalars(
                        select(OutboundMessage.key).where(
                            OutboundMessage.key.in_([f"update:{e.id}" for e in events])
                        )
                    )
                )
            for event in events:
                step = step_of(event.kind, event.data or {})
                if step is None or event.case_id not in wanting:
                    continue
                if f"update:{event.id}" in made_keys:
                    continue
                if await self._make(
                    session, event.id, event.case_id, step, event.at, event.data, now
                ):
                    made += 1
            if events:
                cursor.last_id = max(cursor.last_id, events[-1].id)
        return made

    async def _make(
        self,
        session: AsyncSession,
        event_id: int,
        case_id: int,
        step: str,
        at: datetime,
        data: dict[str, object],
        now: datetime,
    ) -> bool:
        chosen = await session.get(UpdateChoice, case_id)
        if (
            chosen is None
            or chosen.stopped_at is not None
            or chosen.channel not in ("sms", "whatsapp")
            or at < chosen.chosen_at
            or chosen.phone_sealed is None
        ):
            return False
        recent = await session.scalar(
            select(func.count()).where(
                OutboundMessage.case_id == case_id,
                OutboundMessage.step == step,
                OutboundMessage.created_at >= now - ONCE_PER,
                OutboundMessage.status != "cancelled",
            )
        )
        if recent:
            return False
        windows = [
            (int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:]))
            for a, b in chosen.safe_times
        ]
        body = self.texts.update(
            step, chosen.language, name_police=chosen.name_police, date=str(data.get("date", ""))
        )
        values = {
            "key": f"update:{event_id}",
            "case_id": case_id,
            "purpose": "update",
            "step": step,
            "channel": chosen.channel,
            "to_sealed": chosen.phone_sealed,
            "body_sealed": self.data_key.seal(body, BODY_FIELD),
            "language": chosen.language,
            "status": "held",
            "due_at": next_safe(now, windows, self.zone),
            "created_at": now,
            "updated_at": now,
        }
        insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        written = await session.execute(
            insert(OutboundMessage).values(**values).on_conflict_do_nothing(index_elements=["key"])
        )
        return bool(written.rowcount)  # type: ignore[attr-defined]

    # --- sending ---------------------------------------------------------------------------

    async def send_due(self) -> int:
        """Send every held message whose time has come; how many went to Twilio."""
        now = self.clock()
        async with self.db() as session, session.begin():
            await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.status == "sending",
                    OutboundMessage.updated_at < now - INTERRUPTED_AFTER,
                )
                .values(status="interrupted", updated_at=now)
                .execution_options(synchronize_session=False)
            )
        async with self.db() as session:
            due = list(
                await session.scalars(
                    select(OutboundMessage.id)
                    .where(OutboundMessage.status == "held", OutboundMessage.due_at <= now)
                    .order_by(OutboundMessage.due_at, OutboundMessage.id)
                    .limit(100)
                )
            )
        sent = 0
        for message_id in due:
            sent += await self.send_one(message_id)
        return sent

    async def send_one(self, message_id: int) -> int:
        """Claim one held message and send it (1 when it went to Twilio)."""
        now = self.clock()
        async with self.db() as session, session.begin():
            claimed = await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id, OutboundMessage.status == "held")
                .values(status="sending", updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return 0
            message = await session.get(OutboundMessage, message_id)
            assert message is not None
            to = self.data_key.open(message.to_sealed, PHONE_FIELD)
            body = self.data_key.open(message.body_sealed, BODY_FIELD)
            template = message.channel == "whatsapp" and not await self._in_window(session, to)
            channel, case_id, key = message.channel, message.case_id, message.key
        try:
            result = await self._send(channel, to, body, template)
        except SendFailed as failed:
            await self._failed(message_id, failed.code, to)
            return 0
        async with self.db() as session, session.begin():
            await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id)
                .values(
                    status=result.status if result.status in ("queued", "sent") else "queued",
                    provider_sid=result.sid,
                    sent_at=self.clock(),
                    updated_at=self.clock(),
                )
                .execution_options(synchronize_session=False)
            )
            if case_id is not None:
                await record_event(
                    session,
                    key=f"message:{key}:sent"[:128],
                    kind="case.update_sent" if key.startswith("update:") else "contact.text_sent",
                    at=self.clock(),
                    case_id=case_id,
                    data={"message_id": message_id, "channel": channel},
                )
        return 1

    async def _in_window(self, session: AsyncSession, to: str) -> bool:
        last = await session.scalar(
            select(func.max(TextContact.last_inbound_at)).where(
                TextContact.phone_hash == self.data_key.phone_hash(to),
                TextContact.channel == "whatsapp",
            )
        )
        return last is not None and self.clock() - last < WHATSAPP_WINDOW

    async def _failed(self, message_id: int, code: str, to: str) -> None:
        now = self.clock()
        async with self.db() as session, session.begin():
            await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message_id)
                .values(status="failed", error_code=code[:16], updated_at=now)
                .execution_options(synchronize_session=False)
            )
        if code == str(UNSUBSCRIBED):  # she said STOP to Twilio itself
            await self.stop(via="sms_stop", phone=to)

    async def receipt(self, sid: str, status: str, error: str | None) -> bool:
        """A delivery receipt from Twilio; False for a message we do not know."""
        order = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "read"]
        if status not in order:
            return False
        async with self.db() as session, session.begin():
            message = await session.scalar(
                select(OutboundMessage).where(OutboundMessage.provider_sid == sid)
            )
            if message is None:
                return False
            # Receipts can arrive out of order: never step back (delivered stays delivered).
            current = message.status if message.status in order else "queued"
            if order.index(status) >= order.index(current):
                message.status = status
                message.error_code = error[:16] if error else message.error_code
                message.updated_at = self.clock()
        return True
