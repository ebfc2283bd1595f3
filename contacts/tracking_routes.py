"""Public tracking by code on HTTP: ``POST /api/track``.

She sends her 12-digit code (spaces, dashes and Urdu digits allowed) and, if
she set one, her PIN; the answer is the public view (:mod:`cases.public_view`).
The tracking service (:mod:`contacts.tracking`, shared with the phone menu)
charges the lookup to her address, answers a code with a wrong check digit
and a code no case has the same way (404 ``tracking_code_unknown``), and
limits PIN attempts per case. Every answer carries ``Cache-Control:
no-store``: nothing of it may stay on a shared phone.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cases.public_view import PublicCase, build
from contacts.service import TRACKING
from contacts.tracking import Asker
from safecall.endpoint import endpoint
from safecall.errors import read_body
from safecall.state import client_address

NO_STORE = {"Cache-Control": "no-store"}


class TrackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        max_length=4096,
        description="The 12-digit tracking code; spaces, dashes and Urdu digits are allowed.",
        examples=["1234 5678 9012"],
    )
    pin: str | None = Field(
        default=None,
        max_length=64,
        description="Her PIN, if she set one: unlocks the FIR number and her timeline.",
    )


@endpoint(
    "Track a case by its code: coarse status, and with the right PIN her timeline.",
    public=True,
    body=TrackRequest,
    response=PublicCase,
    errors=["invalid_tracking_code", "tracking_code_unknown", "pin_wrong", "too_many_attempts"],
    tags=["tracking"],
)
async def track(request: web.Request) -> web.Response:
    body = await read_body(request, TrackRequest)
    asker = Asker.address(client_address(request))
    found = await request.app[TRACKING].find(body.code, asker, pin=body.pin)
    view = build(found.case, found.events)
    return web.json_response(view.model_dump(mode="json"), headers=NO_STORE)


class PinChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=4096, description="Her tracking code.")
    pin: str = Field(max_length=64, description="The PIN she has now.")
    new_pin: str = Field(max_length=64, description="Her new PIN: 4 to 8 digits.")


class PinChanged(BaseModel):
    changed: bool


@endpoint(
    "Change her case's PIN, with the one she has (a case without a PIN gets one only at the "
    "end of the contact that opened it).",
    public=True,
    body=PinChange,
    response=PinChanged,
    errors=[
        "invalid_tracking_code",
        "tracking_code_unknown",
        "pin_wrong",
        "invalid_pin",
        "too_many_attempts",
    ],
    tags=["tracking"],
)
async def change_pin(request: web.Request) -> web.Response:
    body = await read_body(request, PinChange)
    asker = Asker.address(client_address(request))
    await request.app[TRACKING].change_pin(body.code, asker, pin=body.pin, new_pin=body.new_pin)
    return web.json_response(PinChanged(changed=True).model_dump(), headers=NO_STORE)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/track", track)
    app.router.add_post("/api/track/pin", change_pin)
