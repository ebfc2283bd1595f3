"""The officer's audio straight from aiortc's receiver, as 8 kHz mu-law, on the event loop.

aiortc's ``RTCRtpReceiver`` puts every frame its jitter buffer releases on a
queue read by a decoder thread of its own, which decodes it (PCMU: FFmpeg's
``pcm_mulaw``; Opus: libopus to 48 kHz stereo) and hands the samples back to
the event loop as a task per frame: a thread switch, a decode and a
cross-thread wake-up for every 20 ms frame, only for the bridge to turn the
samples back into 8 kHz mu-law for Twilio.

aiortc 1.16 has no option to receive encoded frames. Its receiver calls
``put((codec, frame))`` on that queue (name-mangled
``_RTCRtpReceiver__decoder_queue``) from the event loop, after the jitter
buffer (reordering and prefetch as usual) and before the decoder thread.
:func:`tap_receiver` replaces the queue of one receiver, before the leg starts
receiving, with :class:`ReceiverTap`, which hands ``sink`` mu-law there and
then: PCMU frames untouched (they already are 8 kHz mu-law: bit-exact, no
decoding), Opus frames decoded to 8 kHz mono by :class:`media.opus.Decoder`.
Any other codec and the end-of-stream marker go to the decoder thread as
before, so the remote track still ends when the receiver stops. Only the
receivers the bridge taps are changed; other aiortc users in the process are
not.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from typing import Any

import av
from aiortc import RTCRtpReceiver

from media import opus

log = logging.getLogger(__name__)

_QUEUE = "_RTCRtpReceiver__decoder_queue"
PCMU = "audio/pcmu"
OPUS = "audio/opus"


class ReceiverTap(queue.Queue[Any]):
    """A receiver's decoder queue that hands PCMU and Opus frames to ``sink`` as mu-law."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        super().__init__()
        self.sink = sink
        self.frames = 0
        """Frames handed to ``sink``."""
        self.undecodable = 0
        """Opus frames libopus could not read (dropped, as aiortc's decoder does)."""
        self._opus: opus.Decoder | None = None

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:
            codec, frame = item
            mime = codec.mimeType.lower()
            if mime == PCMU:
                self.frames += 1
                self.sink(frame.data)
                return
            if mime == OPUS:
                self._decode(frame.data)
                return
        super().put(item, block, timeout)

    def _decode(self, payload: bytes) -> None:
        if self._opus is None:
            self._opus = opus.Decoder()
        try:
            mulaw = self._opus.decode(payload)
        except av.FFmpegError:
            self.undecodable += 1
            if self.undecodable == 1:
                log.warning("media: an Opus frame from the officer could not be decoded")
            return
        self.frames += 1
        if mulaw:
            self.sink(mulaw)


def tap_receiver(receiver: RTCRtpReceiver, sink: Callable[[bytes], None]) -> ReceiverTap:
    """Send ``receiver``'s PCMU and Opus audio, as mu-law, to ``sink``; call before it receives.

    Raises ``RuntimeError`` if aiortc no longer has the queue this relies on
    (a newer aiortc: check this module against its ``rtcrtpreceiver.py``).
    """
    if not isinstance(getattr(receiver, _QUEUE, None), queue.Queue):
        raise RuntimeError("aiortc's RTCRtpReceiver has no decoder queue to tap")
    if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
        raise RuntimeError("tap the receiver before it starts receiving")
    tap = ReceiverTap(sink)
    setattr(receiver, _QUEUE, tap)
    return tap
