"""Twilio's Calls resource, the one part of Twilio's cloud the nodes ask during a fault run:
``GET /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json`` (HTTP Basic auth with the
account and its token; https://www.twilio.com/docs/voice/api/call-resource), answered
from the ledger: a call is ``completed`` once the driver sent its status callback, else
``in-progress``. The contacts sweep asks it about a phone contact whose session is gone
or whose task the line lost (``ivr.calls.CallCheck``); every other request is a 404, and
each one is counted so the table can say what the nodes asked."""

from __future__ import annotations

import base64
from collections import Counter

from aiohttp import web

from bench.faults.ledger import Ledger, PhoneCall
from bench.faults.processes import ACCOUNT_SID, AUTH_TOKEN


class CallsResource:
    def __init__(self, ledger: Ledger, earlier: dict[str, PhoneCall]) -> None:
        self.ledger = ledger
        self.earlier = earlier
        """The calls of the run's earlier faults (their contacts share the database)."""
        self.asked: Counter[str] = Counter()
        self.runner: web.AppRunner | None = None

    async def start(self, port: int) -> None:
        app = web.Application()
        app.router.add_get("/2010-04-01/Accounts/{account}/Calls/{sid}.json", self.fetch)
        app.router.add_route("*", "/{tail:.*}", self.other)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def fetch(self, request: web.Request) -> web.Response:
        if not self._authorised(request) or request.match_info["account"] != ACCOUNT_SID:
            self.asked["unauthorised"] += 1
            body = {"code": 20003, "message": "Authenticate", "status": 401}
            return web.json_response(body, status=401)
        sid = request.match_info["sid"]
        call = self.ledger.calls.get(sid) or self.earlier.get(sid)
        if call is None:
            self.asked["unknown"] += 1
            body = {"code": 20404, "message": "The requested resource was not found", "status": 404}
            return web.json_response(body, status=404)
        status = "completed" if call.status_sent else "in-progress"
        self.asked[f"fetch {status}"] += 1
        return web.json_response(
            {"sid": sid, "account_sid": ACCOUNT_SID, "status": status, "direction": "inbound"}
        )

    async def other(self, request: web.Request) -> web.Response:
        self.asked[f"{request.method} other"] += 1
        return web.json_response(
            {"code": 20404, "message": "Not emulated", "status": 404}, status=404
        )
