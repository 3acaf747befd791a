"""Every use of aiortc's internals, in one place.

Forwarding encoded frames needs three things aiortc does not expose:

- the encoded frames a receiver reassembles, before its decoder thread sees them: the
  receiver's private decoder queue is replaced, before the receiver starts, by a queue
  that hands each frame to a tap and then to the decoder as before;
- asking the sender of a received stream for a keyframe (the receiver's
  ``_send_rtcp_pli``), when a new subscriber starts or a subscriber lost a picture;
- hearing a subscriber's keyframe request: a sender fed pre-encoded packets cannot make
  one itself, so ``_send_keyframe`` is wrapped to pass the request upstream.

The aiortc version is pinned in pyproject.toml. ``check()`` raises if any of these
internals moved; ``tests/signaling/test_aiortc_internals.py`` calls it, so an upgrade that
breaks forwarding fails loudly there, not silently in a session.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Callable
from typing import Any

import aiortc
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver

logger = logging.getLogger(__name__)

PINNED_VERSION = "1.16.0"
_QUEUE = "_RTCRtpReceiver__decoder_queue"
_THREAD = "_RTCRtpReceiver__decoder_thread"

# (codec name, frame bytes, RTP timestamp already rebased by aiortc to start at 0)
Tap = Callable[[str, bytes, int], None]


class InternalsChanged(RuntimeError):
    """aiortc no longer has an internal that forwarding relies on."""


def check() -> None:
    """Raise ``InternalsChanged`` naming whatever is missing."""
    problems = []
    if aiortc.__version__ != PINNED_VERSION:
        problems.append(f"aiortc {aiortc.__version__} is not the pinned {PINNED_VERSION}")
    for cls, name in (
        (RTCRtpReceiver, "_send_rtcp_pli"),
        (RTCRtpReceiver, "receive"),
        (RTCRtpSender, "_send_keyframe"),
    ):
        if not callable(getattr(cls, name, None)):
            problems.append(f"{cls.__name__}.{name} is gone")
    if problems:
        raise InternalsChanged("; ".join(problems))


class _TeeQueue(queue.Queue[Any]):
    """The decoder's input queue, with a tap that sees each frame first.

    ``put`` runs on the event loop (aiortc calls it from ``_handle_rtp_packet``); the
    decoder thread's ``get`` is untouched. ``decode`` turns the decoder off and on: while
    off, frames go to the tap only, saving the decode (and the decoder thread's work)."""

    def __init__(self, tap: Tap) -> None:
        super().__init__()
        self.tap = tap
        self.decode = True

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:
            codec, frame = item
            try:
                self.tap(codec.name, frame.data, frame.timestamp)
            except Exception:  # a forwarding bug must not stop the receiver
                logger.exception("encoded-frame tap failed")
            if not self.decode:
                return
        super().put(item, block, timeout)


def install_tap(receiver: RTCRtpReceiver, tap: Tap) -> None:
    """Hand every encoded frame ``receiver`` reassembles to ``tap``, before decoding.

    Must run before the receiver starts (after ``setRemoteDescription``, before the
    connection is up): the decoder thread takes the queue when it starts."""
    if getattr(receiver, _THREAD, None) is not None:
        raise InternalsChanged("the receiver's decoder already started; tap it earlier")
    if not isinstance(getattr(receiver, _QUEUE, None), queue.Queue):
        raise InternalsChanged("RTCRtpReceiver has no decoder queue")
    setattr(receiver, _QUEUE, _TeeQueue(tap))


def restrict_codecs(transceiver: RTCRtpTransceiver, mime_type: str) -> bool:
    """Answer with ``mime_type`` (and its retransmission codec) only; False if the offer
    does not allow it. ``setCodecPreferences`` does not reach an answer once the remote
    offer is set, so the negotiated list is filtered directly."""
    codecs = getattr(transceiver, "_codecs", None)
    if not isinstance(codecs, list):
        raise InternalsChanged("RTCRtpTransceiver has no negotiated codec list")
    kept = [c for c in codecs if c.mimeType.lower() == mime_type.lower()]
    types = {c.payloadType for c in kept}
    kept += [
        c
        for c in codecs
        if c.mimeType.lower().endswith("/rtx") and int(c.parameters.get("apt", -1)) in types
    ]
    if not types:
        return False
    transceiver._codecs = kept
    return True


def set_decoding(receiver: RTCRtpReceiver, on: bool) -> None:
    """Decode this receiver's frames (for the livestream) or only forward them."""
    tee = getattr(receiver, _QUEUE, None)
    if isinstance(tee, _TeeQueue):
        tee.decode = on


def request_keyframe(receiver: RTCRtpReceiver) -> None:
    """Send a picture loss indication to whoever sends this receiver's stream."""
    for source in receiver.getSynchronizationSources():
        task = asyncio.ensure_future(receiver._send_rtcp_pli(source.source))
        task.add_done_callback(_log_failure)


def on_keyframe_request(sender: RTCRtpSender, hook: Callable[[], None]) -> None:
    """Call ``hook`` whenever the far end of ``sender`` asks for a keyframe."""
    original = sender._send_keyframe

    def forward() -> None:
        original()
        hook()

    sender._send_keyframe = forward  # type: ignore[method-assign]


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("keyframe request failed: %s", task.exception())
