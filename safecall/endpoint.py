"""Declaring an HTTP endpoint: who may call it and what it takes and returns.

Every route handler carries an :class:`Endpoint`. The auth middleware reads
``roles`` (a handler without an Endpoint is refused, so nothing is public by
accident); the OpenAPI document is built from the same declarations, so the
document and the code cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])

OFFICER = "officer"
SUPERVISOR = "supervisor"
ADMIN = "admin"
STATION = "station"
"""A police station's (or district office's, or 15 control's) account, scoped to its place."""
INSTITUTION = "institution"
"""A protection centre's, child institution's or shelter's account, scoped to its place."""
ROLES = (OFFICER, SUPERVISOR, ADMIN, STATION, INSTITUTION)
STAFF = frozenset({OFFICER, SUPERVISOR, ADMIN})
"""The centre's own officers: the console, cases, queues. Field accounts are not staff."""
MANAGERS = frozenset({SUPERVISOR, ADMIN})
FIELD = frozenset({STATION, INSTITUTION})
"""Accounts of the places referrals go to: they see only what was sent to their place."""

_ATTR = "__safecall_endpoint__"


@dataclass(frozen=True)
class Endpoint:
    summary: str
    """One line for the OpenAPI document."""
    roles: frozenset[str] | None
    """Roles that may call it; ``None`` means public (no login)."""
    body: type[BaseModel] | None = None
    """JSON request body."""
    query: type[BaseModel] | None = None
    """Query parameters."""
    response: type[BaseModel] | None = None
    """JSON response body on success."""
    status: int = 200
    """Status on success."""
    errors: tuple[str, ...] = ()
    """Stable error codes the endpoint may answer with, besides the common ones."""
    statuses: tuple[int, ...] = ()
    """Error statuses it answers that the common set leaves out (a public login's 401)."""
    content_type: str = "application/json"
    """Media type of the success response."""
    document: bool = True
    """Listed in the OpenAPI document (pages and static files are not)."""
    tags: tuple[str, ...] = ()


def endpoint(
    summary: str,
    *,
    roles: Iterable[str] | None = None,
    public: bool = False,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: Iterable[str] = (),
    statuses: Iterable[int] = (),
    content_type: str = "application/json",
    document: bool = True,
    tags: Iterable[str] = (),
) -> Callable[[H], H]:
    """Attach an :class:`Endpoint` to a handler. Either ``public`` or ``roles``."""
    if public == (roles is not None):
        raise ValueError(f"endpoint {summary!r}: give exactly one of public=True or roles=")
    chosen = None if public else frozenset(roles or ())
    if chosen is not None and (not chosen or not chosen <= frozenset(ROLES)):
        raise ValueError(f"endpoint {summary!r}: roles must be a non-empty subset of {ROLES}")
    meta = Endpoint(
        summary=summary,
        roles=chosen,
        body=body,
        query=query,
        response=response,
        status=status,
        errors=tuple(errors),
        statuses=tuple(statuses),
        content_type=content_type,
        document=document,
        tags=tuple(tags),
    )

    def attach(handler: H) -> H:
        setattr(handler, _ATTR, meta)
        return handler

    return attach


def endpoint_of(handler: Any) -> Endpoint | None:
    """The declaration on a handler (or on a bound method's function)."""
    found = getattr(handler, _ATTR, None)
    if found is None:
        found = getattr(getattr(handler, "__func__", None), _ATTR, None)
    return found if isinstance(found, Endpoint) else None
