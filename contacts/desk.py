"""The desk: opening, answering and ending a contact, in one place for every channel.

A contact is opened in three steps: the case log (the session on a new or
existing case, in one transaction), the signaling session (her join token),
the line (a task for the router). When a later step fails, the earlier ones
are undone: the rows the first step wrote are deleted and the signaling
session is ended, so a refused contact leaves nothing behind, and the
channel is told to try again (:class:`~safecall.refusals.Unavailable`). A
crash between the steps leaves an open contact with no task: the sweep
(:mod:`contacts.sweep`) finds and ends it.

What she says about herself becomes the case's details only on a case she
opened now; on a case she names by its code it is her statement on this
contact (:class:`cases.models.ContactStatement`), for an officer to confirm.

Answering makes the officer the case's known officer (unless it has one) and
moves a new case to ``in_progress``; an officer who accepted a transfer
answers the same contact on a leg of her own.

A warm transfer (chat and browser calls): the officer holding the contact asks a
colleague to join (:meth:`Desk.warm_transfer`, with a note); the colleague is offered
a task of her own (``<session>~warm``) under the same hard rules; when she accepts and
answers, she takes a second officer seat in the call (the hub's colleague seat, bound
to her login) on a leg of her own, and both see the chat. The officer who asked then
leaves (:meth:`Desk.leave`: the contact becomes the colleague's, who answers again for
the officer's own seat), or calls it off before the colleague accepted
(:meth:`Desk.cancel_warm`): the contact stays hers.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter
from redis.exceptions import RedisError
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from audit.log import AuditLog
from cases.casework import MANAGER_ROLES, Conflict, can_read, hash_pin
from cases.casework import set_pin as set_case_pin
from cases.models import (
    Case,
    Complainant,
    ContactSession,
    ContactStatement,
    Leg,
    TimelineEvent,
)
from cases.sessions import (
    ComplainantDetails,
    add_details,
    add_leg,
    add_statement,
    confirm_details,
    end_session,
    mark_answered,
    new_statement,
    open_contact,
    open_statement,
)
from cases.timeline import record_event
from cases.tracking_code import TrackingCode, ascii_digits
from cases.vocabulary import CaseStatus, Channel
from contacts.request import Answers, ContactRequest, Location
from contacts.vocabulary import Vocabulary
from officers.models import Officer
from queues.model import TaskStatus
from queues.router import CALLBACK_SUFFIX, Contact, Refused, Router
from safecall.db import reader
from safecall.refusals import Invalid, NotAllowed, NotFound, Unavailable
from sealing.data_key import DataKey
from signaling.hub import Hub, HubClosing, SessionExists, colleague_seat

log = logging.getLogger(__name__)

NEVER_JOINED = Counter(
    "safecall_contacts_never_joined",
    "Contacts ended because her page never joined its call (abandoned, no callback).",
)
LOCATION_FIELD = "contact.location"
CHAT_FIELD = "chat.text"
TRANSFER_NOTE_FIELD = "transfer.note"
QUICK_EXIT = "quick_exit"
"""The reason her call ends with when she leaves by the quick exit (her page, the console)."""

Writer = Callable[[AsyncSession, ContactSession], Awaitable[None]]
"""A channel's own rows, written in the same transaction as the contact (a phone call's)."""
Unwriter = Callable[[AsyncSession, str], Awaitable[None]]
"""Deletes what a :data:`Writer` wrote for a session, when the contact is undone."""


@dataclass(frozen=True)
class Opened:
    """A contact opened on a case, in line (unless asked otherwise)."""

    session_id: str
    case_id: int
    case_code: TrackingCode
    """The case's tracking code (a new case's, or the one she gave when it matched)."""
    linked: bool
    """She gave the code of an earlier contact and it matched."""
    citizen_token: str
    """Her join token for ``/ws`` (her page keeps it in memory only)."""

    def code_for_her(self, request: ContactRequest) -> TrackingCode:
        """The code to tell her: the one she gave, whether or not it matched (the answer must
        not tell a guesser which codes exist; the officer tells her when it matched nothing),
        or her new case's."""
        return request.tracking_code or self.case_code


@dataclass(frozen=True)
class Answered:
    """What the officer who answered sees of the contact and its case."""

    session_id: str
    case_id: int
    channel: str
    service_line: str
    language: str
    anonymous: bool
    silent: bool
    category: str | None
    district: str | None
    tracking_code: TrackingCode
    linked_case: bool
    code_unmatched: bool
    """She gave a code that matched no case: tell her the new one."""
    statement: ComplainantDetails | None
    """What she said about herself on this contact (a returning complainant), unconfirmed."""
    location: dict[str, object] | None
    ended_at: datetime | None
    again: bool
    """She had answered it before (a reload)."""
    token: str
    """Her join token for the officer side, fresh and bound to her login (the one given
    before opens nothing more)."""
    chat: list[tuple[str, str]]
    """The chat so far: (side, text), oldest first."""
    task_id: str = ""
    """The task she holds for it (a warm transfer's is ``<session>~warm``): the one she
    completes after her wrap-up."""
    seat: str = "officer"
    """``officer``, or ``colleague``: she joined a warm transfer beside the officer who
    asked (the chat only, until that officer leaves her the contact)."""
    signal_session: str = ""
    """The signaling session her token joins (the colleague seat's, for a colleague)."""
    transfer: WarmTransfer | None = None
    """The warm transfer she was asked to join: who asked, and her note."""
    asking: Asking | None = None
    """The warm transfer she asked of this contact, still going (a reloaded console)."""


@dataclass(frozen=True)
class Asking:
    """A warm transfer the officer holding the contact asked: the colleague's task, where it
    stands (``waiting``, ``offered``, ``assigned``), the colleague (once offered or named),
    and whether she sits in the chat now."""

    task_id: str
    status: str
    officer_id: int | None
    joined: bool


@dataclass(frozen=True)
class WarmTransfer:
    """A colleague asked to join a contact: by whom, with what note."""

    from_officer: int
    from_name: str
    note: str


class Desk:
    def __init__(
        self,
        *,
        db: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        data_key: DataKey,
        hub: Hub,
        router: Router,
        clock: Callable[[], datetime],
        vocabulary: Vocabulary,
        audit: AuditLog,
    ) -> None:
        self.audit = audit
        self.db = db
        self.engine = engine
        self.data_key = data_key
        self.hub = hub
        self.router = router
        self.clock = clock
        self.vocabulary = vocabulary

    # --- opening ---------------------------------------------------------------------------

    async def open(
        self,
        request: ContactRequest,
        *,
        queue: bool = True,
        officer_id: int | None = None,
        answered_by: int | None = None,
        known_officer: int | None = None,
        join_within: float | None = None,
        write: Writer | None = None,
        unwrite: Unwriter | None = None,
    ) -> Opened:
        """Open her contact: the case log, the signaling session, the line; all or nothing.

        ``queue=False`` keeps it out of the line (a callback or a video leg: an officer
        already holds the conversation); ``officer_id`` binds the officer side to that
        officer; ``answered_by`` marks it answered by her at once. ``known_officer`` is
        who handled her before (the desk also takes the known officer of the case her
        code names). With ``join_within`` (seconds) her page must join the call by then:
        a contact whose page never comes ends ``abandoned``, without a callback (nobody
        was there). Raises :class:`~safecall.refusals.Unavailable` (after undoing what
        was done) when the hub or the router cannot take it now.
        """
        now = self.clock()
        async with self.db() as session, session.begin():
            contact, case = await self._log(session, request, now, queue=queue)
            linked = request.tracking_code is not None and (
                case.tracking_code == request.tracking_code.digits
            )
            if request.location is not None:
                await self._record_location(session, contact, request.location, now)
            if answered_by is not None:
                await mark_answered(session, contact, officer_id=answered_by, answered_at=now)
            if write is not None:
                await write(session, contact)
            if linked and known_officer is None:
                known_officer = case.assigned_officer_id
            opened_case = not linked
            session_id, case_id = contact.id, case.id
            case_code = TrackingCode(case.tracking_code)
        undo = _Undo(self, session_id, case_id if opened_case else None, unwrite)
        try:
            citizen_token, _ = await self.hub.open_session(
                session_id, officer_id=officer_id or answered_by, join_within=join_within
            )
        except HubClosing:
            await undo(hub=False)
            raise Unavailable(
                "going_away", "This server is restarting; try again.", retry_after=1
            ) from None
        except (RedisError, OSError, SessionExists) as exc:
            log.warning("contacts: the hub could not open a session (%s)", type(exc).__name__)
            await undo(hub=False)
            raise _not_now() from None
        if queue:
            try:
                await self.router.enqueue(self._task(request, session_id, now, known_officer))
            except Exception as exc:
                log.warning(
                    "contacts: the router could not take a contact (%s)", type(exc).__name__
                )
                await undo(hub=True)
                raise _not_now() from None
        if linked and request.statement is not None:
            # What a returning contact says about herself is audited (never her address:
            # anonymous means anonymous); the case is not changed by it.
            await self.audit.record(
                actor_kind="public",
                officer_id=None,
                action="contact.statement",
                object_type="session",
                object_id=session_id,
                address=None,
                detail={"case_id": case_id},
            )
        return Opened(session_id, case_id, case_code, linked, citizen_token)

    async def _log(
        self, session: AsyncSession, request: ContactRequest, now: datetime, *, queue: bool
    ) -> tuple[ContactSession, Case]:
        statement = request.statement
        details = None
        if statement is not None:
            details = ComplainantDetails(
                name=statement.name,
                phone=statement.phone,
                callback_safe=statement.callback_safe,
                callback_times=statement.callback_times,
            )
        return await open_contact(
            session,
            self.data_key,
            service_line=request.line,
            channel=request.channel.value,
            now=now,
            language=request.language,
            category=request.category,
            district=request.district,
            anonymous=request.anonymous,
            silent=request.silent,
            tracking_code=None if request.tracking_code is None else str(request.tracking_code),
            complainant=details,
            external_id=request.external_id,
            extra_categories=self.vocabulary.categories,
            queued_at=now if queue else None,
        )

    async def _record_location(
        self, session: AsyncSession, contact: ContactSession, where: Location, now: datetime
    ) -> None:
        shared = {"latitude": where.latitude, "longitude": where.longitude}
        if where.accuracy is not None:
            shared["accuracy"] = where.accuracy
        sealed = self.data_key.seal(json.dumps(shared), LOCATION_FIELD)
        await record_event(
            session,
            key=f"session:{contact.id}:location",
            kind="contact.location",
            at=now,
            session_id=contact.id,
            case_id=contact.case_id,
            data={"sealed": base64.b64encode(sealed).decode()},
        )

    def _task(
        self, request: ContactRequest, session_id: str, now: datetime, known: int | None
    ) -> Contact:
        return Contact(
            id=session_id,
            line=request.line,
            channel=request.channel.value,
            category=request.category,
            language=request.language,
            district=request.district,
            emergency=request.emergency,
            silent=request.silent,
            callback_safe=request.callback_safe,
            known_officer=known,
            priority=request.priority,
            arrived=now,
        )

    async def put_back(self, task: Contact) -> None:
        """Put an open contact back in line when the line lost it (an in-process store that
        restarted), with its first arrival; its signaling session is opened if it is gone."""
        try:
            await self.hub.open_session(task.id)
        except SessionExists:
            pass
        except HubClosing:
            log.info("contacts: this process is stopping; the contact is put back elsewhere")
            return
        await self.router.enqueue(task)

    async def officer_token(self, session_id: str, officer_id: int) -> str | None:
        """A fresh officer-side join token for an officer who holds this contact outside the
        line (her callback ring, her video leg); None when it has ended."""
        return await self.hub.officer_token(session_id, officer_id)

    async def mark_answered(self, session_id: str, officer_id: int) -> None:
        """An officer answered a contact she holds outside the line (a callback ring she
        placed was picked up); nothing happens when it was answered already."""
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            if contact is None:
                return
            try:
                await mark_answered(
                    session, contact, officer_id=officer_id, answered_at=self.clock()
                )
            except Conflict:
                pass

    # --- answering -------------------------------------------------------------------------

    async def answer(self, session_id: str, officer_id: int) -> Answered:
        """The officer the router gave this contact to answers it.

        The first answer marks it answered; the case gets her as its known officer (unless
        it has one) and moves from new to in progress. She may answer again (a reload).
        An officer who accepted it as a transfer answers on a leg of her own; one who
        accepted it as a warm transfer (``task_id`` names hers) joins the colleague seat.
        A contact that ended in the moment after her accept is answered with its end and
        no token: her console goes straight to the wrap-up, which frees her capacity.
        """
        session_id = session_id.split("~", 1)[0]  # a warm transfer's task names it too
        task_id = session_id
        placement = self.router.placement(session_id)
        if placement.status != "assigned" or placement.officer_id != officer_id:
            warm = self.router.warm_of(session_id)
            if warm is None or warm.status != TaskStatus.ASSIGNED or warm.officer != officer_id:
                raise _not_yours("Accept the offer first; this contact is not yours.")
            task_id = warm.id
        now = self.clock()
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            if contact is None:
                raise _not_yours("There is no such contact.")
            again = contact.answered_at is not None and contact.officer_id == officer_id
            # Beside the officer who asked while she holds the contact; once she has left
            # it (or for one who takes the warm task on afterwards), the contact's own seat.
            colleague = (
                task_id != session_id
                and placement.status == "assigned"
                and contact.officer_id != officer_id
            )
            # She hung up in the moment before (her ending reached the desk after the
            # accept): nobody to talk to; the officer goes straight to her wrap-up, which
            # frees her capacity, and is not made the case's officer by it.
            gone = contact.ended_at is not None and (
                contact.answered_at is None or contact.officer_id != officer_id
            )
            if gone:
                pass
            elif colleague:
                await self._join_beside(session, contact, officer_id, now)
            elif contact.answered_at is None:
                await mark_answered(session, contact, officer_id=officer_id, answered_at=now)
            elif contact.officer_id != officer_id:
                await self._take_over(session, contact, officer_id, now)
            case = await session.get(Case, contact.case_id)
            assert case is not None
            if not colleague and not gone:
                await self._know(session, case, officer_id, now)
            ended = contact.ended_at is not None
            answered = await self._answered(session, contact, case, again)
            asked = None if task_id == session_id else await self._asked(session, session_id)
        token, signal_session, asking = None, session_id, None
        warm_task = None if colleague or ended else self.router.warm_of(session_id)
        if warm_task is not None and task_id == session_id:
            asking = Asking(
                warm_task.id,
                str(warm_task.status),
                warm_task.officer or warm_task.known_officer,
                await self.hub.colleague_here(session_id),
            )
        if ended:
            pass  # over already (her wrap-up): nothing to join; the console reads how it ended
        elif colleague:
            token = await self.hub.colleague_token(session_id, officer_id)
            signal_session = colleague_seat(session_id)
        else:
            token = await self.hub.officer_token(session_id, officer_id)
        return dataclasses.replace(
            answered,
            token=token or "",
            task_id=task_id,
            seat="colleague" if colleague else "officer",
            signal_session=signal_session,
            transfer=asked,
            asking=asking,
        )

    # --- warm transfers --------------------------------------------------------------------

    async def warm_transfer(
        self,
        session_id: str,
        officer_id: int,
        *,
        line: str | None = None,
        to_officer: int | None = None,
        note: str = "",
    ) -> str:
        """The officer holding the contact asks a colleague (by name, or whoever is free
        next on a line) to join her in it; she stays until the colleague joins. The
        colleague's task id. A phone call is passed on cold (its media is the bridge's)."""
        async with reader(self.engine).connect() as conn:
            channel = await conn.scalar(_CHANNEL, {"id": session_id})
        if channel is None:
            raise _not_yours("There is no such contact.")
        if channel == Channel.PHONE:
            raise Conflict(
                "warm_not_for_phone", "A phone call is passed on as it is: use Transfer."
            )
        placement = await self.router.warm_transfer(
            session_id, officer_id, line=line, to_officer=to_officer
        )
        now = self.clock()
        sealed = self.data_key.seal(note, TRANSFER_NOTE_FIELD)
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            assert contact is not None
            await record_event(
                session,
                key=f"session:{session_id}:warm_asked:{int(now.timestamp() * 1000)}",
                kind="contact.transfer_asked",
                at=now,
                session_id=session_id,
                case_id=contact.case_id,
                officer_id=officer_id,
                data={
                    "to_officer": to_officer,
                    "to_line": line,
                    "warm": True,
                    "note": base64.b64encode(sealed).decode(),
                },
            )
        return placement.task_id

    async def cancel_warm(self, session_id: str, officer_id: int) -> None:
        """The officer who asked a colleague to join calls it off, before the colleague
        accepted: the contact stays hers."""
        await self.router.cancel_warm(session_id, officer_id)
        now = self.clock()
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            if contact is None:
                return
            await record_event(
                session,
                key=f"session:{session_id}:warm_cancelled:{int(now.timestamp() * 1000)}",
                kind="contact.transfer_cancelled",
                at=now,
                session_id=session_id,
                case_id=contact.case_id,
                officer_id=officer_id,
            )

    async def leave(self, session_id: str, officer_id: int) -> int:
        """The officer who asked a colleague to join leaves: the contact is the colleague's
        from now on (her leg goes on, the officer's ends; the colleague answers again for
        the officer's own seat). The colleague's officer id."""
        placement = self.router.placement(session_id)
        if placement.status != "assigned" or placement.officer_id != officer_id:
            raise _not_yours("This contact is not yours to leave.")
        warm = self.router.warm_of(session_id)
        colleague = None if warm is None else warm.officer
        if warm is None or warm.status != TaskStatus.ASSIGNED or colleague is None:
            raise Conflict(
                "colleague_not_here",
                "Your colleague has not accepted yet: wait for her, or cancel the transfer.",
            )
        if not await self.hub.colleague_here(session_id):
            raise Conflict(
                "colleague_not_here",
                "Your colleague is not in the chat now: wait for her, or cancel the transfer.",
            )
        now = self.clock()
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            if contact is None:
                raise _not_yours("There is no such contact.")
            joined = await session.scalar(
                select(Leg.id).where(
                    Leg.session_id == session_id,
                    Leg.officer_id == colleague,
                    Leg.ended_at.is_(None),
                )
            )
            if joined is None:
                raise Conflict(
                    "colleague_not_here",
                    "Your colleague has not joined yet: wait for her, or cancel the transfer.",
                )
            await self._take_over(session, contact, colleague, now)
            case = await session.get(Case, contact.case_id)
            assert case is not None
            await self._know(session, case, colleague, now)
        await self.router.complete(session_id, officer_id)
        await self.hub.pass_seat(session_id)
        return colleague

    async def _join_beside(
        self, session: AsyncSession, contact: ContactSession, officer_id: int, now: datetime
    ) -> None:
        """A colleague asked to join: a leg of her own beside the officer's (once)."""
        if contact.ended_at is not None:
            return
        mine = await session.scalar(
            select(Leg.id).where(
                Leg.session_id == contact.id, Leg.officer_id == officer_id, Leg.ended_at.is_(None)
            )
        )
        if mine is not None:
            return  # answered again (a reload)
        await add_leg(
            session, contact, channel=contact.channel, started_at=now, officer_id=officer_id
        )
        await record_event(
            session,
            key=f"session:{contact.id}:colleague_joined:{officer_id}:{int(now.timestamp() * 1000)}",
            kind="contact.colleague_joined",
            at=now,
            session_id=contact.id,
            case_id=contact.case_id,
            officer_id=officer_id,
            data={"beside": contact.officer_id},
        )

    async def _asked(self, session: AsyncSession, session_id: str) -> WarmTransfer | None:
        """The latest warm transfer asked of this contact: who asked, her note."""
        row = (
            await session.execute(
                select(TimelineEvent.officer_id, TimelineEvent.data)
                .where(
                    TimelineEvent.session_id == session_id,
                    TimelineEvent.kind == "contact.transfer_asked",
                )
                .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
                .limit(1)
            )
        ).first()
        if row is None or row.officer_id is None:
            return None
        name = await session.scalar(select(Officer.name).where(Officer.id == row.officer_id))
        note = self.data_key.open(base64.b64decode(row.data["note"]), TRANSFER_NOTE_FIELD)
        return WarmTransfer(row.officer_id, name or "", note)

    async def _take_over(
        self, session: AsyncSession, contact: ContactSession, officer_id: int, now: datetime
    ) -> None:
        """A transfer's new officer: her own leg; the contact is hers from now on."""
        if contact.ended_at is not None:
            raise Conflict("session_ended", "This contact has ended.")
        previous = contact.officer_id
        await session.execute(
            update(Leg)
            .where(
                Leg.session_id == contact.id,
                Leg.ended_at.is_(None),
                or_(Leg.officer_id.is_(None), Leg.officer_id != officer_id),
            )
            .values(ended_at=now)
        )
        mine = await session.scalar(
            select(Leg.id).where(
                Leg.session_id == contact.id, Leg.officer_id == officer_id, Leg.ended_at.is_(None)
            )
        )
        if mine is None:  # (a colleague who joined a warm transfer has hers already)
            await add_leg(
                session, contact, channel=contact.channel, started_at=now, officer_id=officer_id
            )
        await session.execute(
            update(ContactSession)
            .where(ContactSession.id == contact.id)
            .values(officer_id=officer_id)
        )
        contact.officer_id = officer_id
        await record_event(
            session,
            key=f"session:{contact.id}:taken_over:{officer_id}:{int(now.timestamp() * 1000)}",
            kind="contact.transferred",
            at=now,
            session_id=contact.id,
            case_id=contact.case_id,
            officer_id=officer_id,
            data={"from": previous, "to": officer_id},
        )

    async def _know(
        self, session: AsyncSession, case: Case, officer_id: int, now: datetime
    ) -> None:
        """She becomes the case's known officer (unless it has one); a new case is in progress."""
        values: dict[str, object] = {}
        if case.assigned_officer_id is None:
            values["assigned_officer_id"] = officer_id
        if case.status == CaseStatus.NEW:
            values["status"] = CaseStatus.IN_PROGRESS.value
        if not values:
            return
        values["updated_at"] = now
        await session.execute(update(Case).where(Case.id == case.id).values(**values))
        for name, value in values.items():
            setattr(case, name, value)
        if "status" in values:
            await record_event(
                session,
                key=f"case:{case.id}:in_progress:answered",
                kind="case.status",
                at=now,
                case_id=case.id,
                officer_id=officer_id,
                data={"from": CaseStatus.NEW.value, "to": CaseStatus.IN_PROGRESS.value},
                complainant_visible=True,
            )

    async def _answered(
        self, session: AsyncSession, contact: ContactSession, case: Case, again: bool
    ) -> Answered:
        keys = [f"session:{contact.id}:{name}" for name in ("linked", "code_unmatched", "location")]
        found = {
            row.key: row.data
            for row in await session.execute(
                select(TimelineEvent.key, TimelineEvent.data).where(TimelineEvent.key.in_(keys))
            )
        }
        said = await session.scalar(
            select(ContactStatement).where(ContactStatement.session_id == contact.id)
        )
        location = None
        if keys[2] in found:
            sealed = base64.b64decode(found[keys[2]]["sealed"])
            location = json.loads(self.data_key.open(sealed, LOCATION_FIELD))
        return Answered(
            session_id=contact.id,
            case_id=case.id,
            channel=contact.channel,
            service_line=contact.service_line,
            language=contact.language,
            anonymous=contact.anonymous,
            silent=contact.silent,
            category=case.category,
            district=case.district,
            tracking_code=TrackingCode(case.tracking_code),
            linked_case=keys[0] in found,
            code_unmatched=keys[1] in found,
            statement=None if said is None else open_statement(self.data_key, said),
            location=location,
            ended_at=contact.ended_at,
            again=again,
            token="",
            chat=await self.chat_so_far(session, contact.id),
        )

    async def chat_so_far(self, session: AsyncSession, session_id: str) -> list[tuple[str, str]]:
        """The session's chat messages, opened, oldest first."""
        rows = await session.scalars(
            select(TimelineEvent.data)
            .where(TimelineEvent.session_id == session_id, TimelineEvent.kind == "chat.message")
            .order_by(TimelineEvent.at, TimelineEvent.id)
        )
        return [
            (data["from"], self.data_key.open(base64.b64decode(data["sealed"]), CHAT_FIELD))
            for data in rows
        ]

    # --- her statement -------------------------------------------------------------------

    async def confirm_statement(
        self, session_id: str, officer: Officer, fields: frozenset[str]
    ) -> list[str]:
        """The officer takes ``fields`` of what she said on this contact onto her case, having
        confirmed them with her in the conversation; the fields taken, in order.

        Only the officer who answered the contact, or a supervisor or admin who may read
        its case. Turning "safe to call back" on needs a number on the case (hers, or the
        one taken now).
        """
        unknown = fields - set(STATEMENT_FIELDS)
        if unknown or not fields:
            raise Invalid(
                "invalid_fields",
                f"Choose among {', '.join(STATEMENT_FIELDS)} what she confirmed.",
            )
        now = self.clock()
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            said = await session.scalar(
                select(ContactStatement).where(ContactStatement.session_id == session_id)
            )
            case = None if contact is None else await session.get(Case, contact.case_id)
            if contact is None or case is None or not can_read(officer, case):
                raise NotFound("contact_not_found", "There is no such contact you can see.")
            if contact.officer_id != officer.id and officer.role not in MANAGER_ROLES:
                raise NotAllowed(
                    "not_yours", "Only the officer who answered her confirms what she said."
                )
            if said is None:
                raise Conflict("no_statement", "She said nothing about herself on this contact.")
            given = open_statement(self.data_key, said)
            taken = [f for f in STATEMENT_FIELDS if f in fields and _has(given, f)]
            if not taken:
                raise Conflict("nothing_to_confirm", "She did not give what you chose.")
            await confirm_details(
                session, self.data_key, case, given, taken, language=contact.language, now=now
            )
            said.confirmed_at, said.confirmed_by = now, officer.id
            await record_event(
                session,
                key=f"session:{session_id}:statement_confirmed:{int(now.timestamp() * 1000)}",
                kind="case.complainant_confirmed",
                at=now,
                session_id=session_id,
                case_id=case.id,
                officer_id=officer.id,
                data={"fields": taken},
            )
        return taken

    # --- while she waits, and when she leaves -----------------------------------------------

    async def take_answers(self, session_id: str, answers: Answers) -> list[str]:
        """What she answered while she waited (one question at a time, after the contact
        started); the fields taken. On the case her contact opened they are the case's
        (category, district, her language and details); on a case she named by its code,
        only her language and her statement on this contact (for an officer to confirm):
        a public request never changes an existing case. Her place in line is unchanged.
        """
        now = self.clock()
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            case = None if contact is None else await session.get(Case, contact.case_id)
            if contact is None or case is None:
                raise NotFound("contact_not_found", "There is no such contact.")
            if contact.ended_at is not None:
                raise Conflict("session_ended", "This contact has ended.")
            linked = await session.scalar(
                select(TimelineEvent.id).where(TimelineEvent.key == f"session:{session_id}:linked")
            )
            taken: list[str] = []
            if answers.language is not None:
                contact.language = answers.language
                taken.append("language")
            if linked is None:
                if answers.category is not None:
                    case.category = answers.category
                    taken.append("category")
                if answers.district is not None:
                    case.district = answers.district
                    taken.append("district")
            details = answers.details
            if details is not None and linked is None:
                taken += await add_details(
                    session, self.data_key, case, details, language=contact.language, now=now
                )
                contact.anonymous = False
            elif details is not None:
                row = await session.scalar(
                    select(ContactStatement).where(ContactStatement.session_id == session_id)
                )
                if row is None:
                    session.add(new_statement(self.data_key, session_id, case.id, details, now))
                else:
                    add_statement(self.data_key, row, details, now)
                taken += [f for f in STATEMENT_FIELDS if _has(details, f)]
            await record_event(
                session,
                key=f"session:{session_id}:answers:{secrets.token_hex(6)}",
                kind="contact.answers",
                at=now,
                session_id=session_id,
                case_id=case.id,
                data={"given": taken},  # the fields' names only: the values stay sealed
            )
        return taken

    async def left_by_quick_exit(self, session_id: str) -> bool:
        """She left with the quick exit: the contact is marked so (the officer sees it) and
        its call ends (reason ``quick_exit``); one nobody answered leaves the line, with a
        callback only when her line said it was safe. False when it had ended."""
        now = self.clock()
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            if contact is None:
                raise NotFound("contact_not_found", "There is no such contact.")
            if contact.ended_at is not None:
                return False
            await record_event(
                session,
                key=f"session:{session_id}:quick_exit",
                kind="contact.quick_exit",
                at=now,
                session_id=session_id,
                case_id=contact.case_id,
            )
        await self.hub.end_session(session_id, QUICK_EXIT)
        return True

    # --- her PIN -------------------------------------------------------------------------

    async def may_set_pin(self, session_id: str) -> bool:
        """This contact opened its case and the case has no PIN yet (see :meth:`set_pin`)."""
        async with self.db() as session:
            contact = await session.get(ContactSession, session_id)
            case = None if contact is None else await session.get(Case, contact.case_id)
            linked = await session.scalar(
                select(TimelineEvent.id).where(TimelineEvent.key == f"session:{session_id}:linked")
            )
        return case is not None and case.pin_hash is None and linked is None

    async def set_pin(self, session_id: str, pin: str) -> int:
        """She sets the PIN that unlocks her case's timeline, at the end of the contact that
        opened her case, once (a PIN is changed on /track with the old one); the case id.

        Never on a case her contact only named by its code: whoever holds her code must
        not lock her out of her own case.
        """
        pin_hash = await asyncio.to_thread(hash_pin, ascii_digits(pin).strip())
        now = self.clock()
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            case = None if contact is None else await session.get(Case, contact.case_id)
            if contact is None or case is None:
                raise NotFound("contact_not_found", "There is no such contact.")
            linked = await session.scalar(
                select(TimelineEvent.id).where(TimelineEvent.key == f"session:{session_id}:linked")
            )
            if linked is not None:
                raise Conflict(
                    "not_this_contacts_case",
                    "A PIN is set at the end of the contact that opened the case; to change "
                    "it, use the tracking page with the PIN you have.",
                )
            if case.pin_hash is not None:
                raise Conflict(
                    "pin_already_set",
                    "This case has a PIN already; change it on the tracking page with it.",
                )
            await set_case_pin(session, case, pin_hash=pin_hash, now=now)
            return case.id

    # --- ending ----------------------------------------------------------------------------

    async def end(
        self,
        session_id: str,
        reason: str,
        *,
        callback: bool = True,
        disposition: str | None = None,
    ) -> bool:
        """The contact is over (``hangup``, ``dropped``, ``closed``...): it ends on its case
        once, and one nobody answered leaves the line first (a callback is made when she
        said it is safe and ``callback``). ``disposition`` overrides the one the desk would
        choose (an unanswered callback ring is ``missed``). False when it had ended."""
        async with reader(self.engine).connect() as conn:
            found = (await conn.execute(_ENDED, {"id": session_id})).first()
        if found is None or found.ended_at is not None:
            return False
        answered = found.answered_at is not None
        await self._no_colleague(session_id)
        if disposition is None:
            if not answered:
                # Out of line first: an officer must not be offered a contact that has ended.
                # A page that never came gets no callback: nobody was there.
                callback = callback and reason != "never_joined"
                if reason == "never_joined":
                    NEVER_JOINED.inc()
                await self._out_of_line(session_id, callback=callback)
            disposition = "abandoned"
            if answered:
                disposition = "dropped" if reason == "dropped" else "answered"
        return await self.record_end(session_id, disposition)

    async def end_missed(self, session_id: str) -> bool:
        """Nobody answered a browser contact before its time in line ran out: it ends
        ``missed`` and her page is told (its session ends). A phone call's hold loop does
        this for the phone, in her language."""
        async with reader(self.engine).connect() as conn:
            channel = await conn.scalar(_CHANNEL, {"id": session_id})
        if channel is None or channel == Channel.PHONE:
            return False
        ended = await self.record_end(session_id, "missed")
        await self.hub.end_session(session_id, "missed")
        if ended:
            await self._callback_asked_while_waiting(session_id)
        return ended

    async def _callback_asked_while_waiting(self, session_id: str) -> None:
        """She said it is safe to call her back (and gave her number) while she waited, on
        the case her contact opened: her callback goes in line as if she had said so at the
        start. Said on a case named by its code, it waits for an officer (a statement)."""
        if self.router.placement(session_id + CALLBACK_SUFFIX).status != "unknown":
            return  # the line made it already (she said so at the start)
        async with self.db() as session:
            contact = await session.get(ContactSession, session_id)
            case = None if contact is None else await session.get(Case, contact.case_id)
            if contact is None or case is None:
                return
            details = await session.scalar(
                select(Complainant).where(Complainant.case_id == case.id)
            )
            linked = await session.scalar(
                select(TimelineEvent.id).where(TimelineEvent.key == f"session:{session_id}:linked")
            )
        if details is None or not details.callback_safe or details.phone_sealed is None:
            return
        if linked is not None:
            return
        asked = Contact(
            id=session_id,
            line=contact.service_line,
            channel=contact.channel,
            category=case.category,
            language=contact.language,
            district=case.district,
            callback_safe=True,
        )
        await self.router.callback_again(asked, attempt=1)

    async def lose(self, session_id: str, why: str) -> bool:
        """A contact whose call the server lost (a process died between the steps of its
        opening; an in-process hub restarted): out of line, ended ``failed`` with ``why``."""
        await self._out_of_line(session_id, callback=True)
        return await self.record_end(session_id, "failed", reason=why)

    async def record_end(
        self, session_id: str, disposition: str, *, reason: str | None = None
    ) -> bool:
        """Write the contact's end (once); False when it had ended, or cannot end so."""
        async with self.db() as session, session.begin():
            contact = await session.get(ContactSession, session_id)
            if contact is None or contact.ended_at is not None:
                return False
            if contact.answered_at is not None and disposition in ("abandoned", "missed"):
                return False
            try:
                await end_session(
                    session, contact, disposition=disposition, now=self.clock(), reason=reason
                )
            except Conflict:
                return False
        return True

    async def _no_colleague(self, session_id: str) -> None:
        """A warm transfer still waiting for a colleague is called off: she has gone."""
        warm = self.router.warm_of(session_id)
        if warm is None or warm.status == TaskStatus.ASSIGNED:
            return
        try:
            await self.router.cancel(warm.id, callback=False)
        except Refused as refusal:
            log.info("contacts: a warm transfer of an ended contact stays (%s)", refusal.code)

    async def _out_of_line(self, session_id: str, *, callback: bool) -> None:
        try:
            await self.router.cancel(session_id, callback=callback)
        except Refused as refusal:
            if refusal.code not in ("unknown_task", "ended", "answered"):
                log.warning("contacts: an ended contact stays in line (%s)", refusal.code)


_ENDED = select(ContactSession.ended_at, ContactSession.answered_at).where(
    ContactSession.id == bindparam("id")
)


STATEMENT_FIELDS = ("name", "phone", "callback_safe", "callback_times")


def _has(given: ComplainantDetails, field: str) -> bool:
    value = getattr(given, field)
    return bool(value) if field == "callback_safe" else value is not None


_CHANNEL = select(ContactSession.channel).where(ContactSession.id == bindparam("id"))


def _not_now() -> Unavailable:
    return Unavailable(
        "not_ready",
        "We could not put you through just now; try again in a moment, or call 15.",
        retry_after=2,
    )


def _not_yours(message: str) -> Conflict:
    return Conflict("not_yours", message)


class _Undo:
    """Undo an opened contact: its signaling session ends, the rows it wrote go."""

    def __init__(
        self, desk: Desk, session_id: str, new_case: int | None, unwrite: Unwriter | None
    ) -> None:
        self.desk = desk
        self.session_id = session_id
        self.new_case = new_case
        self.unwrite = unwrite

    async def __call__(self, *, hub: bool) -> None:
        desk, session_id = self.desk, self.session_id
        if hub:
            try:
                await desk.hub.end_session(session_id, "failed")
            except Exception as exc:  # the sweep ends it
                log.warning("contacts: could not end an undone session (%s)", type(exc).__name__)
        try:
            async with desk.db() as session, session.begin():
                if self.unwrite is not None:
                    await self.unwrite(session, session_id)
                await self._delete(session)
        except Exception as exc:  # the database failed too: the sweep ends it later
            log.warning("contacts: could not undo an opened contact (%s)", type(exc).__name__)

    async def _delete(self, session: AsyncSession) -> None:
        events = TimelineEvent.session_id == self.session_id
        if self.new_case is not None:
            events = or_(events, TimelineEvent.case_id == self.new_case)
        else:  # a linked case keeps its own events; only this contact's go
            events = or_(events, TimelineEvent.key == f"session:{self.session_id}:linked")
        await session.execute(delete(TimelineEvent).where(events))
        await session.execute(
            delete(ContactStatement).where(ContactStatement.session_id == self.session_id)
        )
        await session.execute(delete(Leg).where(Leg.session_id == self.session_id))
        await session.execute(delete(ContactSession).where(ContactSession.id == self.session_id))
        if self.new_case is not None:
            await session.execute(delete(Complainant).where(Complainant.case_id == self.new_case))
            await session.execute(delete(Case).where(Case.id == self.new_case))


__all__ = ["Answered", "Asking", "Channel", "Desk", "Opened", "WarmTransfer"]
