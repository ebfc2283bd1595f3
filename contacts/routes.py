"""The words a page may choose from, for her intake and the officer's forms."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from contacts.service import VOCABULARY
from safecall.endpoint import endpoint


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
    return web.json_response(body, headers={"Cache-Control": "public, max-age=3600"})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/districts", districts)
