"""Ready replies over HTTP: every officer reads them, supervisors replace the set.

``GET /api/ready-replies`` gives the stored set, or the shipped defaults
(``replies/defaults.toml``) while none is stored. ``PUT /api/ready-replies``
(supervisors and admins) replaces the whole set in one transaction: what the
console shows is always one supervisor's whole list, never half of two. The
texts are templates, not anyone's data: they are stored in clear.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select

from officers.auth import current_officer
from replies.models import ReadyReply
from safecall.endpoint import MANAGERS, STAFF, endpoint
from safecall.errors import read_body
from safecall.state import AUDIT, CLOCK, DB, client_address

TAGS = ["ready replies"]
LANGUAGES = ("ur", "en", "pa")
MAX_REPLIES = 60


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: str = Field(description="ur, en or pa.")
    title: str = Field(min_length=1, max_length=60, description="The button's words.")
    text: str = Field(min_length=1, max_length=2000, description="What is sent (chat limit).")

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("title", "text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be only spaces")
        return value


class ReplyOut(BaseModel):
    language: str
    title: str
    text: str


class RepliesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replies: list[ReplyIn] = Field(max_length=MAX_REPLIES, description="The whole set, in order.")


class RepliesOut(BaseModel):
    replies: list[ReplyOut]
    defaults: bool = Field(description="True while no supervisor has saved a set.")


@cache
def defaults() -> tuple[ReplyOut, ...]:
    """The shipped set (checked like a supervisor's: a bad file fails the first read)."""
    data = tomllib.loads((Path(__file__).parent / "defaults.toml").read_text(encoding="utf-8"))
    return tuple(ReplyOut(**ReplyIn(**item).model_dump()) for item in data["reply"])


async def _stored(request: web.Request) -> list[ReplyOut]:
    async with request.app[DB]() as session:
        rows = await session.scalars(select(ReadyReply).order_by(ReadyReply.position))
        return [ReplyOut(language=r.language, title=r.title, text=r.text) for r in rows]


@endpoint(
    "The ready replies for the console, in order (the shipped defaults while none are saved).",
    roles=STAFF,
    response=RepliesOut,
    tags=TAGS,
)
async def list_replies(request: web.Request) -> web.Response:
    stored = await _stored(request)
    body = RepliesOut(replies=stored or list(defaults()), defaults=not stored)
    return web.json_response(body.model_dump())


@endpoint(
    "Supervisors: replace the whole set of ready replies (an empty list brings the defaults back).",
    roles=MANAGERS,
    body=RepliesIn,
    response=RepliesOut,
    errors=["invalid_body", "invalid_json"],
    tags=TAGS,
)
async def replace_replies(request: web.Request) -> web.Response:
    body = await read_body(request, RepliesIn)
    officer = current_officer(request)
    now = request.app[CLOCK]()
    async with request.app[DB]() as session, session.begin():
        await session.execute(delete(ReadyReply))
        session.add_all(
            ReadyReply(
                language=reply.language,
                title=reply.title,
                text=reply.text,
                position=n,
                updated_by=officer.id,
                updated_at=now,
            )
            for n, reply in enumerate(body.replies)
        )
    await request.app[AUDIT].record(
        actor_kind="officer",
        officer_id=officer.id,
        action="ready_replies.replace",
        object_type="ready_replies",
        object_id=None,
        address=client_address(request),
        detail={"count": len(body.replies)},
    )
    return await list_replies(request)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/ready-replies", list_replies)
    app.router.add_put("/api/ready-replies", replace_replies)
