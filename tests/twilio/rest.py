"""Twilio's REST API, the parts safecall uses: Calls (create, fetch, update) and Messages.

Built from the documented contract:

* https://www.twilio.com/docs/voice/api/call-resource —
  ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json``
  (To, From, Url | Twiml | ApplicationSid, Method, StatusCallback,
  StatusCallbackEvent, StatusCallbackMethod, Timeout, MachineDetection, ...;
  201 with the Call resource, status "queued"), ``GET .../Calls/{Sid}.json``,
  ``POST .../Calls/{Sid}.json`` (Url | Twiml | Status=completed|canceled, Method);
* https://www.twilio.com/docs/messaging/api/message-resource — ``POST .../Messages.json``
  (To, From | MessagingServiceSid, Body; 201 with status "queued"), ``GET .../Messages/{Sid}.json``;
* https://www.twilio.com/docs/usage/requests-to-twilio — HTTP Basic auth with
  AccountSid:AuthToken, form-encoded bodies, JSON answers;
* https://www.twilio.com/docs/usage/twilios-response — errors are
  ``{"code", "message", "more_info", "status"}``: 20003 (401 Authenticate),
  20404 (not found), 21201/21211/21213/21210 (To/From missing, invalid, not
  yours), 21205 (no valid Url/Twiml), 21220 (call not in progress),
  21602/21603/21604/21606/21617 (message body/From/To).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.twilio.call import TERMINAL, Document, _Fetch
from tests.twilio.twiml import TwimlError, parse

if TYPE_CHECKING:
    from tests.twilio.cloud import TwilioCloud

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
BASE = "/2010-04-01/Accounts/{account}"
EVENTS = {"initiated", "ringing", "answered", "completed"}


def error(status: int, code: int, message: str) -> web.Response:
    """Twilio's error body (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions)."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return web.json_response(body, status=status, headers=headers)


def routes(cloud: TwilioCloud) -> list[web.RouteDef]:
    api = _Api(cloud)
    return [
        web.post(BASE + "/Calls.json", api.create_call),
        web.get(BASE + "/Calls/{sid}.json", api.fetch_call),
        web.post(BASE + "/Calls/{sid}.json", api.update_call),
        web.post(BASE + "/Messages.json", api.create_message),
        web.get(BASE + "/Messages/{sid}.json", api.fetch_message),
        web.get(BASE + "/Messages/{sid}/Media/{media}", api.fetch_media),
    ]


class _Api:
    def __init__(self, cloud: TwilioCloud) -> None:
        self.cloud = cloud

    async def _authorised(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        user = password = ""
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        ok = (
            user == self.cloud.account_sid
            and password == self.cloud.auth_token
            and request.match_info["account"] == user
        )
        return None if ok else error(401, 20003, "Authenticate")

    async def _form(self, request: web.Request) -> dict[str, list[str]]:
        form = await request.post()
        values: dict[str, list[str]] = {}
        for key, value in form.items():
            values.setdefault(key, []).append(str(value))
        return values

    def _record(
        self, request: web.Request, form: dict[str, list[str]], response: web.Response
    ) -> web.Response:
        from tests.twilio.cloud import RestRequest

        body = response.text or ""
        self.cloud.requests.append(
            RestRequest(request.method, request.path, form, response.status, body)
        )
        return response

    async def create_call(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        return self._record(request, form, await self._create_call(request, form))

    async def _create_call(self, request: web.Request, form: dict[str, list[str]]) -> web.Response:
        if (refused := await self._authorised(request)) is not None:
            return refused
        one = {key: values[-1] for key, values in form.items()}
        to, from_ = one.get("To", ""), one.get("From", "")
        if not to:
            return error(400, 21201, "No 'To' number is specified")
        if not E164.fullmatch(to):
            return error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_:
            return error(400, 21213, "No 'From' number is specified")
        if from_ not in self.cloud.owned_numbers:
            return error(
                400,
                21210,
                f"The source phone number provided, {from_}, is not yet verified for your account",
            )
        source: Document | _Fetch
        if "Twiml" in one:
            try:
                source = Document("", parse(one["Twiml"]))
            except TwimlError as exc:
                return error(400, exc.code, f"Twiml: {exc.message}")
        elif "Url" in one:
            if not _absolute(one["Url"]):
                return error(400, 21205, f"Url is not a valid URL: {one['Url']}")
            source = _Fetch(one["Url"], one.get("Method", "POST"))
        else:
            return error(400, 21205, "Url, Twiml or ApplicationSid is required")
        events = {e for value in form.get("StatusCallbackEvent", []) for e in value.split()}
        if events - EVENTS:
            return error(400, 21626, f"StatusCallbackEvent must be among {sorted(EVENTS)}")
        callback = one.get("StatusCallback")
        if callback is not None and not _absolute(callback):
            return error(400, 21609, f"StatusCallback is not a valid URL: {callback}")
        call = self.cloud.new_call(
            from_=from_,
            to=to,
            direction="outbound-api",
            status_callback=callback,
            status_events=tuple(events or {"completed"}),
            status_method=one.get("StatusCallbackMethod", "POST"),
            machine_detection=one.get("MachineDetection"),
        )
        body = call.to_json()
        call.start(source)
        self.cloud.dialled(call)
        return web.json_response(body, status=201)

    def _call(self, request: web.Request) -> Any:
        call = self.cloud.calls.get(request.match_info["sid"])
        if call is None or call.account_sid != request.match_info["account"]:
            return error(404, 20404, f"The requested resource {request.path} was not found")
        return call

    async def fetch_call(self, request: web.Request) -> web.Response:
        if (refused := await self._authorised(request)) is not None:
            return self._record(request, {}, refused)
        found = self._call(request)
        response = found if isinstance(found, web.Response) else web.json_response(found.to_json())
        return self._record(request, {}, response)

    async def update_call(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        return self._record(request, form, await self._update_call(request, form))

    async def _update_call(self, request: web.Request, form: dict[str, list[str]]) -> web.Response:
        if (refused := await self._authorised(request)) is not None:
            return refused
        found = self._call(request)
        if isinstance(found, web.Response):
            return found
        call = found
        one = {key: values[-1] for key, values in form.items()}
        status = one.get("Status")
        if status is not None:
            if status not in ("completed", "canceled"):
                return error(400, 21218, f"Status must be completed or canceled, not {status}")
            if call.ending:
                return web.json_response(call.to_json())
            if not call.answered:
                call.finish("canceled")  # a call not yet answered is cancelled either way
            elif status == "completed":
                call.finish("completed")  # canceled does not touch an answered call
            return web.json_response(call.to_json())
        source: Document | _Fetch
        if "Twiml" in one:
            try:
                source = Document("", parse(one["Twiml"]))
            except TwimlError as exc:
                return error(400, exc.code, f"Twiml: {exc.message}")
        elif "Url" in one:
            if not _absolute(one["Url"]):
                return error(400, 21205, f"Url is not a valid URL: {one['Url']}")
            source = _Fetch(one["Url"], one.get("Method", "POST"))
        else:
            return error(400, 21205, "Url, Twiml or Status is required")
        if call.ending or call.status in TERMINAL or not call.answered:
            return error(400, 21220, "Call is not in-progress. Cannot redirect.")
        call.redirect(source)
        return web.json_response(call.to_json())

    async def create_message(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        return self._record(request, form, await self._create_message(request, form))

    async def _create_message(
        self, request: web.Request, form: dict[str, list[str]]
    ) -> web.Response:
        if (refused := await self._authorised(request)) is not None:
            return refused
        one = {key: values[-1] for key, values in form.items()}
        return self.cloud.messaging.create(one)

    async def fetch_message(self, request: web.Request) -> web.Response:
        if (refused := await self._authorised(request)) is not None:
            return self._record(request, {}, refused)
        for message in self.cloud.messages:
            if message["sid"] == request.match_info["sid"]:
                return self._record(request, {}, web.json_response(message))
        return self._record(
            request, {}, error(404, 20404, f"The requested resource {request.path} was not found")
        )

    async def fetch_media(self, request: web.Request) -> web.Response:
        if (refused := await self._authorised(request)) is not None:
            return refused
        return self.cloud.messaging.fetch_media(request)


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
