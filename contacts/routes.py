"""The contact desk on HTTP: the officer's answer, her statement confirmed, the words to choose.

An officer accepts an offer through the queues API, then asks
``POST /api/contacts/{id}/answer`` for the officer side's join token
(:meth:`contacts.desk.Desk.answer`): only the officer the contact is assigned
to gets it. She may ask again (a reload): the same token, with the chat so far
and, once the call is over, when it ended (her wrap-up is timed from it). Join
tokens are derived from a secret every process shares (the hub's), so the
officer may ask any process for hers.

What a returning complainant said about herself on a contact reaches her case
only when the officer holding the contact confirms it in the conversation
(``POST /api/contacts/{id}/statement/confirm``), field by field, audited.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contacts.desk import Answered
from contacts.service import DESK, VOCABULARY
from officers.auth import current_officer
from queues.service import ROUTER
from safecall.endpoint import STAFF, endpoint
from safecall.errors import ApiError, read_body
from safecall.pages import compressed_json
from safecall.state import AUDIT, SETTINGS, client_address

TAGS = ["contacts"]


class LocationOut(BaseModel):
    latitude: float
    longitude: float
    accuracy: float | None = Field(default=None, description="Metres.")


class DistrictOut(BaseModel):
    code: str = Field(description="What to send as `district`.")
    names: dict[str, str] = Field(description="Its name by language (en, ur).")


class DistrictsOut(BaseModel):
    districts: list[DistrictOut]


@endpoint(
    "The districts to choose from (a district is chosen, never typed: routing matches it exactly).",
    public=True,
    response=DistrictsOut,
    tags=["contacts"],
)
async def districts(request: web.Request) -> web.Response:
    listed = [
        DistrictOut(code=d.code, names=dict(d.names)) for d in request.app[VOCABULARY].districts
    ]
    body = DistrictsOut(districts=listed).model_dump()
    # Names only, the same for everyone: cached, and compressed (4 KB on her first visit).
    return compressed_json(request, body, {"Cache-Control": "public, max-age=3600"})


class ChatLine(BaseModel):
    side: Literal["citizen", "officer", "colleague"]
    text: str


class WarmTransferOut(BaseModel):
    from_officer: int = Field(description="The officer who asked you to join.")
    from_name: str
    note: str = Field(description="What she wrote for you when she asked.")


class StatementOut(BaseModel):
    name: str | None
    phone: str | None
    callback_safe: bool
    callback_times: str | None


class AskingOut(BaseModel):
    task_id: str = Field(description="Your colleague's task (`<id>~<random>~warm`).")
    status: str = Field(description="`waiting`, `offered` or `assigned` (she accepted).")
    officer_id: int | None = Field(description="The colleague, once named or offered.")
    joined: bool = Field(description="She sits in the chat now: you may leave her the contact.")


class AnswerOut(BaseModel):
    session_id: str
    case_id: int
    token: str = Field(description="The officer side's join token for /ws.")
    channel: str
    service_line: str
    language: str
    anonymous: bool
    category: str | None
    district: str | None
    callback_safe: bool
    tracking_code: str
    linked_case: bool = Field(description="She gave the tracking code of an earlier contact.")
    code_unmatched: bool = Field(
        description="She gave a code that matched no case: this contact opened a new case; "
        "tell her its code (she was not told)."
    )
    statement: StatementOut | None = Field(
        description="What a returning complainant said about herself on this contact: "
        "unconfirmed, never written over the case by itself."
    )
    silent: bool = Field(description="She cannot speak (chat, or a silent phone call).")
    recorded: bool = Field(
        description="Calls of this service line are recorded (not one of "
        "SAFECALL_RECORDING_OFF_LINES): the console records a video call only when true."
    )
    location: LocationOut | None
    ended_at: float | None = Field(
        description="Seconds since the epoch when the call ended (wrap-up), null while it goes on."
    )
    chat: list[ChatLine] = Field(description="The session's chat so far, oldest first.")
    task_id: str = Field(
        description="The task you hold for it (complete it after the wrap-up): the contact's "
        "id, or `<id>~warm` when you joined it by a warm transfer."
    )
    seat: Literal["officer", "colleague"] = Field(
        description="`colleague`: you joined a warm transfer beside the officer who asked "
        "(chat only; answer again when she leaves you the contact)."
    )
    signal_session: str = Field(description="The session `token` joins on /ws.")
    transfer: WarmTransferOut | None = Field(
        description="The warm transfer you were asked to join (who asked, her note)."
    )
    asking: AskingOut | None = Field(
        description="The warm transfer you asked of this contact, still going (after a reload)."
    )


@endpoint(
    "Answer the contact you accepted (through the queues API): the officer side's join "
    "token and the intake.",
    roles=STAFF,
    response=AnswerOut,
    errors=["not_yours", "session_ended"],
    tags=TAGS,
)
async def answer(request: web.Request) -> web.Response:
    app = request.app
    session_id = request.match_info["session_id"]
    officer = current_officer(request)
    answered = await app[DESK].answer(session_id, officer.id)
    await app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="session.answer",
        object_type="session",
        object_id=session_id,
        address=client_address(request),
        detail={"case_id": answered.case_id, "again": answered.again},
    )
    body = _answer_out(app, answered)
    return web.json_response(body.model_dump(), headers={"Cache-Control": "no-store"})


def _answer_out(app: web.Application, answered: Answered) -> AnswerOut:
    said = answered.statement
    return AnswerOut(
        session_id=answered.session_id,
        case_id=answered.case_id,
        token=answered.token,
        channel=answered.channel,
        service_line=answered.service_line,
        language=answered.language,
        anonymous=answered.anonymous,
        category=answered.category,
        district=answered.district,
        callback_safe=placement_callback(app, answered.session_id),
        tracking_code=answered.tracking_code.display(),
        linked_case=answered.linked_case,
        code_unmatched=answered.code_unmatched,
        statement=None
        if said is None
        else StatementOut(
            name=said.name,
            phone=said.phone,
            callback_safe=said.callback_safe,
            callback_times=said.callback_times,
        ),
        silent=answered.silent,
        recorded=answered.service_line not in app[SETTINGS].recording_off_lines,
        location=None
        if answered.location is None
        else LocationOut.model_validate(answered.location),
        ended_at=None if answered.ended_at is None else answered.ended_at.timestamp(),
        chat=[ChatLine(side=side, text=text) for side, text in answered.chat],
        task_id=answered.task_id,
        seat=answered.seat,
        signal_session=answered.signal_session,
        transfer=None
        if answered.transfer is None
        else WarmTransferOut(
            from_officer=answered.transfer.from_officer,
            from_name=answered.transfer.from_name,
            note=answered.transfer.note,
        ),
        asking=None
        if answered.asking is None
        else AskingOut(
            task_id=answered.asking.task_id,
            status=answered.asking.status,
            officer_id=answered.asking.officer_id,
            joined=answered.asking.joined,
        ),
    )


class WarmTransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: str | None = Field(default=None, max_length=16)
    officer_id: int | None = None
    note: str = Field(default="", max_length=500, description="For your colleague.")


class WarmAskedOut(BaseModel):
    task_id: str = Field(description="Your colleague's task (`<id>~warm`).")


class LeftOut(BaseModel):
    officer_id: int = Field(description="The colleague the contact is now with.")


@endpoint(
    "Warm transfer: ask a colleague (by name, or whoever is free next on a line) to join "
    "the chat or browser call you hold; you stay with her until you leave it to the "
    "colleague (or cancel before she accepts).",
    roles=STAFF,
    body=WarmTransferIn,
    response=WarmAskedOut,
    errors=[
        "not_yours",
        "unknown_task",
        "unknown_line",
        "unknown_officer",
        "hard_rule",
        "officer_not_free",
        "transfer_pending",
        "warm_not_for_phone",
    ],
    tags=TAGS,
)
async def warm_transfer(request: web.Request) -> web.Response:
    body = await read_body(request, WarmTransferIn)
    if body.line is None and body.officer_id is None:
        raise ApiError(400, "invalid_body", "Give a line or an officer_id to ask to join.")
    session_id = request.match_info["session_id"]
    officer = current_officer(request)
    task_id = await request.app[DESK].warm_transfer(
        session_id, officer.id, line=body.line, to_officer=body.officer_id, note=body.note
    )
    await _audit(
        request, officer.id, "session.warm_transfer", session_id, line=body.line, to=body.officer_id
    )
    return web.json_response(WarmAskedOut(task_id=task_id).model_dump())


@endpoint(
    "Call off a warm transfer before your colleague accepted it: the contact stays yours.",
    roles=STAFF,
    errors=["not_yours", "unknown_task", "no_transfer", "transfer_accepted"],
    tags=TAGS,
)
async def cancel_warm_transfer(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    officer = current_officer(request)
    await request.app[DESK].cancel_warm(session_id, officer.id)
    await _audit(request, officer.id, "session.warm_transfer_cancel", session_id)
    return web.json_response({"cancelled": True})


@endpoint(
    "Leave the contact to the colleague who joined it (a warm transfer): it is hers now.",
    roles=STAFF,
    response=LeftOut,
    errors=["not_yours", "colleague_not_here", "session_ended"],
    tags=TAGS,
)
async def leave(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    officer = current_officer(request)
    colleague = await request.app[DESK].leave(session_id, officer.id)
    await _audit(request, officer.id, "session.leave", session_id, to=colleague)
    return web.json_response(LeftOut(officer_id=colleague).model_dump())


async def _audit(
    request: web.Request, officer_id: int, action: str, session_id: str, **detail: object
) -> None:
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer_id,
        action=action,
        object_type="session",
        object_id=session_id,
        address=client_address(request),
        detail=detail,
    )


def placement_callback(app: web.Application, session_id: str) -> bool:
    task = app[ROUTER].board.tasks.get(session_id)
    return bool(task is not None and task.callback_safe)


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: list[Literal["name", "phone", "callback_safe", "callback_times"]] = Field(
        min_length=1,
        max_length=4,
        description="What she confirmed in the conversation, to take onto her case.",
    )


class ConfirmOut(BaseModel):
    taken: list[str] = Field(description="The fields now on her case.")


@endpoint(
    "Take what a returning complainant said about herself on this contact onto her case, "
    "field by field, once she confirmed it in the conversation (the officer who answered, "
    "or a supervisor).",
    roles=STAFF,
    body=ConfirmIn,
    response=ConfirmOut,
    errors=[
        "contact_not_found",
        "not_yours",
        "no_statement",
        "nothing_to_confirm",
        "callback_needs_phone",
    ],
    statuses=[403, 404, 409],
    tags=TAGS,
)
async def confirm_statement(request: web.Request) -> web.Response:
    body = await read_body(request, ConfirmIn)
    officer = current_officer(request)
    session_id = request.match_info["session_id"]
    taken = await request.app[DESK].confirm_statement(session_id, officer, frozenset(body.fields))
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="case.complainant_confirm",
        object_type="session",
        object_id=session_id,
        address=client_address(request),
        detail={"fields": taken},
    )
    return web.json_response(ConfirmOut(taken=taken).model_dump())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/districts", districts)
    app.router.add_post("/api/contacts/{session_id}/answer", answer)
    app.router.add_post("/api/contacts/{session_id}/transfer", warm_transfer)
    app.router.add_post("/api/contacts/{session_id}/transfer/cancel", cancel_warm_transfer)
    app.router.add_post("/api/contacts/{session_id}/leave", leave)
    app.router.add_post("/api/contacts/{session_id}/statement/confirm", confirm_statement)
