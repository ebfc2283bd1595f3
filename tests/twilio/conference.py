"""Conference rooms as Twilio runs them for ``<Dial><Conference>``.

From https://www.twilio.com/docs/voice/twiml/conference and
https://www.twilio.com/docs/voice/api/conference-resource:

* a room is named by the app and namespaced to the account; the first call that dials its
  name creates it; it starts when a participant with ``startConferenceOnEnter`` (default
  true) is in it; before that the others wait (``waitUrl``: music, or nothing for "");
* a participant leaves when its call hangs up or moves on (``Calls(sid).update``); when one
  with ``endConferenceOnExit`` leaves, the room ends and every other participant leaves it
  too, and each of their calls goes on after its ``<Dial>``; the room ends when the last
  participant leaves;
* status callbacks (``statusCallback``, ``statusCallbackEvent`` of start, end, join, leave)
  go to the URL of the first participant that gave one, with AccountSid, ConferenceSid,
  FriendlyName, StatusCallbackEvent (conference-start, conference-end, participant-join,
  participant-leave), CallSid (participant events), EndConferenceOnExit,
  StartConferenceOnEnter, Muted, Hold, Coaching, SequenceNumber and Timestamp.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tests.twilio.call import new_sid, rfc2822
from tests.twilio.errors import Fail, TwilioError

if TYPE_CHECKING:
    from tests.twilio.cloud import TwilioCloud


@dataclass
class Participant:
    call_sid: str
    start_on_enter: bool
    end_on_exit: bool
    muted: bool
    label: str | None


@dataclass
class Room:
    name: str
    sid: str = field(default_factory=lambda: new_sid("CF"))
    status: str = "init"
    """init (waiting to start) | in-progress | completed"""
    participants: dict[str, Participant] = field(default_factory=dict)
    history: list[tuple[str, str]] = field(default_factory=list)
    """(event, call sid) in order: participant-join, participant-leave, conference-start..."""
    callback: str | None = None
    callback_method: str = "POST"
    events: frozenset[str] = frozenset()
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _seq: int = 0

    def together(self, *call_sids: str) -> bool:
        """These calls are in the room and it has started: they hear each other."""
        return self.status == "in-progress" and all(s in self.participants for s in call_sids)


class Conferences:
    def __init__(self, cloud: TwilioCloud) -> None:
        self.cloud = cloud
        self.rooms: dict[str, Room] = {}

    def live(self, name: str) -> Room:
        room = self.rooms.get(name)
        if room is None or room.status == "completed":
            room = self.rooms[name] = Room(name)
        return room

    async def join(self, room: Room, call_sid: str, attrs: dict[str, str]) -> None:
        """The call is in the room until it leaves or the room ends."""
        if room.callback is None and attrs.get("statusCallback"):
            room.callback = attrs["statusCallback"]
            room.callback_method = attrs.get("statusCallbackMethod", "POST")
            room.events = frozenset(attrs.get("statusCallbackEvent", "start end").split())
        maximum = int(attrs.get("maxParticipants", "250"))
        if len(room.participants) >= maximum:
            raise Fail(TwilioError(13236, f"conference {room.name!r} is full"))
        participant = Participant(
            call_sid,
            attrs.get("startConferenceOnEnter", "true") == "true",
            attrs.get("endConferenceOnExit", "false") == "true",
            attrs.get("muted", "false") == "true",
            attrs.get("participantLabel"),
        )
        room.participants[call_sid] = participant
        await self._event(room, "participant-join", "join", call_sid)
        if room.status == "init" and participant.start_on_enter:
            room.status = "in-progress"
            await self._event(room, "conference-start", "start", None)
        self._changed(room)

    async def leave(self, room: Room, call_sid: str) -> None:
        participant = room.participants.pop(call_sid, None)
        if participant is None:
            return
        await self._event(room, "participant-leave", "leave", call_sid)
        if participant.end_on_exit or not room.participants:
            await self.end(room)
        self._changed(room)

    async def end(self, room: Room) -> None:
        if room.status == "completed":
            return
        room.status = "completed"
        room.ended.set()
        for call_sid in list(room.participants):
            room.participants.pop(call_sid)
            await self._event(room, "participant-leave", "leave", call_sid)
        await self._event(room, "conference-end", "end", None)

    def _changed(self, room: Room) -> None:
        room.changed.set()
        room.changed = asyncio.Event()

    async def _event(self, room: Room, event: str, short: str, call_sid: str | None) -> None:
        room.history.append((event, call_sid or ""))
        if room.callback is None or short not in room.events:
            return
        params = {
            "AccountSid": self.cloud.account_sid,
            "ConferenceSid": room.sid,
            "FriendlyName": room.name,
            "StatusCallbackEvent": event,
            "SequenceNumber": str(room._seq),
            "Timestamp": rfc2822(datetime.now(UTC)),
        }
        room._seq += 1
        if call_sid is not None:
            params.update(
                CallSid=call_sid,
                Muted="false",
                Hold="false",
                Coaching="false",
                EndConferenceOnExit="false",
                StartConferenceOnEnter="true",
            )
        try:
            answer = await self.cloud.signed_request(
                room.callback_method, room.callback, params, kind="status"
            )
        except Fail as fail:
            self.cloud.errors.append(fail.error)
            return
        if not 200 <= (answer.status or 0) < 300:
            self.cloud.errors.append(
                TwilioError(15003, f"conference callback ({event}) answered {answer.status}")
            )
