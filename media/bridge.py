"""One phone call bridged to the officer's console: Twilio stream <-> signaling side <-> WebRTC.

The bridge holds the caller's side (``citizen``) of the contact's signaling
session through an in-process page (:class:`signaling.local.LocalPeer`) and
is the offerer on the officer's leg: an aiortc peer connection offering PCMU
first (the caller's mu-law goes through untouched) and Opus as the fallback,
with every candidate in the SDP (aiortc does not trickle) followed by
end-of-candidates; the officer's trickled candidates are added as they come.
aiortc has no ICE restart: whenever the officer's page comes (back), the leg
is replaced by a new peer connection and a new offer, and the caller stays.

Endings, each logged, none leaving a silent open line:

- the caller hangs up (``stop``): hang-up from the citizen side ends the session;
- the stream breaks (closed without ``stop``): the same, and the call is hung up;
- the session ends (the officer hung up, her side dropped, the server closed it):
  the call is hung up through the Calls resource and the stream closed;
- the officer's leg stays unconnected past ``leg_grace_seconds`` while her page is
  there (ICE failed, never answered): hang-up, and the call is hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import web
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.sdp import SessionDescription, candidate_from_sdp

from media.caller_track import CallerTrack, ToOfficer
from media.config import MediaConfig
from media.ice import configuration, pinned
from media.outbound import Outbound
from media.receiver_tap import tap_receiver
from media.recording import CallRecording
from media.stream_token import StreamClaim
from media.telephony import hang_up_call
from media.twilio_stream import Closed, Dtmf, Mark, Media, MediaStream, Stop
from safecall.state import SETTINGS
from signaling.local import LocalPeer, SessionOver
from signaling.routes import HUB

log = logging.getLogger(__name__)

PREFERRED = ("audio/PCMU", "audio/opus")
"""Codecs offered on the officer's leg, best first."""
DIGITS = frozenset("0123456789*#ABCD")


def codec_preferences(mime_types: tuple[str, ...] = PREFERRED) -> list[RTCRtpCodecCapability]:
    """aiortc's audio capabilities for ``mime_types``, in that order."""
    codecs = RTCRtpSender.getCapabilities("audio").codecs
    return [c for mime in mime_types for c in codecs if c.mimeType.lower() == mime.lower()]


def answered_codec(sdp: str) -> str | None:
    """The codec an answer chose for audio (its first one), e.g. ``audio/PCMU``."""
    for media in SessionDescription.parse(sdp).media:
        if media.kind == "audio" and media.rtp.codecs:
            return media.rtp.codecs[0].mimeType
    return None


class Bridge:
    """The caller's stream and the officer's leg for one call."""

    def __init__(
        self, app: web.Application, stream: MediaStream, claim: StreamClaim, config: MediaConfig
    ) -> None:
        self.app = app
        self.stream = stream
        self.claim = claim
        self.config = config
        self.hosts = app[SETTINGS].media_ice_hosts
        self.peer = LocalPeer(app[HUB])
        self.outbound = Outbound(config)
        self.recording = CallRecording(app, claim.session_id)
        """Both sides, from the moment the officer's leg first connects."""
        self.pc: RTCPeerConnection | None = None
        self.track: CallerTrack | None = None
        self.codec: str | None = None
        """The codec of the current leg once answered (``audio/PCMU`` or ``audio/opus``)."""
        self.legs = 0
        """Peer connections made for the officer so far (1 + renegotiations)."""
        self.frames_in = 0
        self.to_officer = ToOfficer()
        """The caller's frames handed to the officer's legs, and how many late."""
        self.officer_present = False
        self.unconnected_since: float | None = None
        """Monotonic time since when the officer's current leg has not been connected."""
        self.ending = ""
        """Why the call ended: ``stop``, ``broken``, ``ended`` or ``leg_dead``."""
        self.task: asyncio.Task[None] | None = None
        """The task running :meth:`run` (set by the route)."""
        self._started = time.monotonic()

    # ---- the whole call ----------------------------------------------------

    async def run(self) -> None:
        """Bridge until the call ends one way or another; cleans up everything."""
        session_id = self.claim.session_id
        try:
            token = self.app[HUB].join_token(session_id, "citizen")
            joined = await self.peer.join(session_id, token)
        except SessionOver:
            log.info("media: the session had ended before the call was bridged; hanging up")
            await hang_up_call(self.app, self.claim.call_sid)
            await self.stream.close()
            return
        self.officer_present = joined["peer"] == "connected"
        pacer = asyncio.create_task(self.outbound.run(self.recording.tap(self.stream)))
        loops = {
            asyncio.create_task(self._signaling(), name="signaling"),
            asyncio.create_task(self._caller(), name="caller"),
            asyncio.create_task(self._watch_leg(), name="leg"),
        }
        try:
            if self.officer_present:
                await self._on_signal({"type": "peer-joined", "side": "officer"})
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            self.ending = next(iter(done)).result()
            self.recording.end()  # the call is over: the recording's clock stops here
            await self._end(loops)
        finally:
            for task in (*loops, pacer):
                task.cancel()
            await asyncio.gather(*loops, pacer, return_exceptions=True)
            await self._close_leg()
            await self.peer.close()
            await self.stream.close()
            await self.recording.close()
            self._log_summary()

    async def _end(self, loops: set[asyncio.Task[Any]]) -> None:
        ending = self.ending
        if ending in ("stop", "broken", "leg_dead"):
            if ending != "stop":
                log.warning("media: ending a bridged call: %s", _WHY[ending])
            await self.peer.send("hangup")
            signaling = next(t for t in loops if t.get_name() == "signaling")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.hangup_wait_seconds):
                    await asyncio.shield(signaling)
        if ending != "stop":
            await hang_up_call(self.app, self.claim.call_sid)

    def _log_summary(self) -> None:
        stats = self.outbound.stats
        log.info(
            "media: call ended (%s) after %.0f s; codec %s, legs %d; frames from Twilio %d, "
            "to the officer %d (late %d), to Twilio %d (late %d, dropped %d)",
            self.ending or "error",
            time.monotonic() - self._started,
            self.codec,
            self.legs,
            self.frames_in,
            self.to_officer.frames,
            self.to_officer.late,
            stats.frames,
            stats.late,
            stats.dropped,
        )

    # ---- the caller's side (Twilio) -----------------------------------------

    async def _caller(self) -> str:
        while True:
            event = await self.stream.next_event()
            if isinstance(event, Media):
                self.frames_in += 1
                self.recording.caller(event.payload, event.timestamp)
                if self.track is not None:
                    self.track.push(event.payload)
            elif isinstance(event, Dtmf):
                if event.digit in DIGITS:
                    await self.peer.send("dtmf", digit=event.digit)
            elif isinstance(event, Mark):
                self.outbound.played(event.name)
            elif isinstance(event, Stop):
                return "stop"
            elif isinstance(event, Closed):
                return "stop" if event.clean else "broken"

    # ---- the officer's side (signaling and WebRTC) --------------------------

    async def _signaling(self) -> str:
        while True:
            try:
                message = await self.peer.receive()
            except SessionOver:
                return "ended"
            await self._on_signal(message)

    async def _on_signal(self, message: dict[str, Any]) -> None:
        try:
            await self._handle_signal(message)
        except Exception:  # aiortc refusing an SDP or a candidate must not end the call
            log.exception("media: a signaling message could not be handled")

    async def _handle_signal(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "peer-joined" and message["side"] == "officer":
            self.officer_present = True
            await self._offer()
        elif kind == "joined":  # our own side resumed after a lost socket
            self.officer_present = message["peer"] == "connected"
            if self.officer_present and self.pc is None:
                await self._offer()
        elif kind == "peer-left":
            self.officer_present = False
            log.info("media: the officer's page is away; the hub's grace period runs")
        elif kind == "answer":
            await self._answer(message["sdp"])
        elif kind == "candidate":
            await self._candidate(message["candidate"])
        elif kind == "error":
            log.warning("media: signaling refused a message: %s", message.get("code"))

    async def _offer(self) -> None:
        """A new peer connection for the officer's leg, and its offer."""
        await self._close_leg()
        pc = RTCPeerConnection(configuration())
        track = CallerTrack(
            self.config.caller_backlog_frames, self.to_officer, self.config.caller_packet_frames
        )
        transceiver = pc.addTransceiver(track, direction="sendrecv")
        transceiver.setCodecPreferences(codec_preferences())
        # Her audio goes to Twilio from the receiver itself: PCMU untouched, Opus decoded here.
        tap_receiver(transceiver.receiver, self.outbound.add)
        self.pc, self.track, self.codec = pc, track, None
        self.legs += 1
        self.unconnected_since = time.monotonic()

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc is not self.pc:
                return
            state = pc.connectionState
            if state == "connected":
                self.unconnected_since = None
                self.recording.start()  # once: the first time they are connected
                log.info("media: the officer's leg is connected (%s)", self.codec)
            elif state in ("failed", "closed") and self.unconnected_since is None:
                log.warning("media: the officer's leg is %s", state)
                self.unconnected_since = time.monotonic()

        with pinned(self.hosts):
            await pc.setLocalDescription(await pc.createOffer())
        await self.peer.send("offer", sdp=pc.localDescription.sdp)
        await self.peer.send("candidate", candidate=None)  # all of ours are in the SDP

    async def _answer(self, sdp: str) -> None:
        pc, track = self.pc, self.track
        if pc is None or track is None or pc.signalingState != "have-local-offer":
            log.info("media: an answer to an earlier offer was ignored")
            return
        self.codec = answered_codec(sdp)
        track.passthrough = (self.codec or "").lower() == "audio/pcmu"  # before sending starts
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def _candidate(self, candidate: dict[str, Any] | None) -> None:
        pc = self.pc
        if pc is None:
            return
        text = (candidate or {}).get("candidate") or ""
        if not text:  # null or "": end of candidates (one audio m-line)
            await pc.addIceCandidate(None)
            return
        parsed = candidate_from_sdp(text.removeprefix("candidate:"))
        parsed.sdpMid = candidate.get("sdpMid") if candidate else None
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex") if candidate else None
        await pc.addIceCandidate(parsed)

    async def _close_leg(self) -> None:
        pc, track = self.pc, self.track
        self.pc, self.track = None, None
        if track is not None:
            track.stop()
        if pc is not None:
            await pc.close()

    async def _watch_leg(self) -> str:
        step = min(0.5, self.config.leg_grace_seconds / 4)
        while True:
            await asyncio.sleep(step)
            since = self.unconnected_since
            if not self.officer_present or since is None:
                continue
            if time.monotonic() - since > self.config.leg_grace_seconds:
                return "leg_dead"


_WHY = {
    "broken": "the Twilio stream broke (closed without stop)",
    "leg_dead": "the officer's leg stayed unconnected past the grace period",
}
