"""The officer's PCMU straight to Twilio: aiortc's receiver with its decoding skipped for PCMU.

aiortc's ``RTCRtpReceiver`` puts every frame its jitter buffer releases on a
queue read by a decoder thread, which decodes it (PCMU: FFmpeg's
``pcm_mulaw``) and hands the samples back to the event loop: a thread
switch, a decode and a cross-thread wake-up for every 20 ms frame, only for
the bridge to encode the samples back to mu-law for Twilio. With PCMU on
the officer's leg the frame already is what Twilio wants: 8 kHz mu-law.

aiortc 1.16 has no option to receive encoded frames. Its receiver calls
``put((codec, frame))`` on that queue (name-mangled
``_RTCRtpReceiver__decoder_queue``) from the event loop, after the jitter
buffer (reordering and prefetch as usual) and before the decoder thread.
:func:`tap_pcmu` replaces the queue of one receiver, before the leg starts
receiving, with :class:`PcmuTap`: PCMU frames go to ``sink`` there and then,
untouched (bit-exact, no thread); any other codec (Opus) and the end-of-stream
marker go to the decoder thread as before, so the remote track still ends
when the receiver stops. Only the receivers the bridge taps are changed;
other aiortc users in the process are not.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver

_QUEUE = "_RTCRtpReceiver__decoder_queue"
PCMU = "audio/pcmu"


class PcmuTap(queue.Queue[Any]):
    """A receiver's decoder queue that hands PCMU frames to ``sink`` instead."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        super().__init__()
        self.sink = sink
        self.frames = 0
        """PCMU frames handed to ``sink``."""

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:
            codec, frame = item
            if codec.mimeType.lower() == PCMU:
                self.frames += 1
                self.sink(frame.data)
                return
        super().put(item, block, timeout)


def tap_pcmu(receiver: RTCRtpReceiver, sink: Callable[[bytes], None]) -> PcmuTap:
    """Send ``receiver``'s PCMU frames (mu-law bytes) to ``sink``; call before it receives.

    Raises ``RuntimeError`` if aiortc no longer has the queue this relies on
    (a newer aiortc: check this module against its ``rtcrtpreceiver.py``).
    """
    if not isinstance(getattr(receiver, _QUEUE, None), queue.Queue):
        raise RuntimeError("aiortc's RTCRtpReceiver has no decoder queue to tap")
    if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
        raise RuntimeError("tap the receiver before it starts receiving")
    tap = PcmuTap(sink)
    setattr(receiver, _QUEUE, tap)
    return tap
