"""Timers and limits of the bridge (tests shorten them before the app starts)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MediaConfig:
    start_timeout_seconds: float = 10.0
    """Twilio sends ``connected`` and ``start`` at once; a stream silent this long is closed."""
    leg_grace_seconds: float = 20.0
    """How long the officer's leg may stay unconnected (ICE failed, never answered) before
    the call is ended rather than left as a silent open line."""
    hangup_wait_seconds: float = 2.0
    """After the caller's ``stop``, how long to wait for the hub to confirm the ending."""
    frame_seconds: float = 0.020
    """One Twilio ``media`` message: 160 mu-law samples."""
    resync_seconds: float = 0.1
    """The pacer catches up a stall of the event loop shorter than this; a longer one
    restarts its schedule rather than sending the missed frames in a burst."""
    mark_every_frames: int = 50
    """A ``mark`` after this many frames sent to Twilio (one a second)."""
    clear_after_seconds: float = 2.0
    """A mark Twilio has not echoed for this long means audio piles up on its side: clear it."""
    caller_packet_frames: int = 2
    """Twilio frames in one RTP packet to the officer with PCMU (2: 40 ms packets, half the
    packets, and half aiortc's work for each, for 20 ms more delay; 1: a packet a frame)."""
    caller_backlog_frames: int = 5
    """Caller frames waiting for the officer's leg beyond this are dropped, oldest first."""
    officer_backlog_frames: int = 10
    """Officer audio waiting to be paced out beyond this is dropped, oldest first."""
