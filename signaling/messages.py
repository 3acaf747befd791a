"""The signalling messages of the ``media`` event, as types.

Every message is ``{"op": ..., ...}``. Participants send ``offer``, ``candidate`` and
``bye``; the host also sends ``mute``, ``spotlight``, ``live`` and ``record``. ``parse``
turns a payload into one of the dataclasses below or raises ``MessageError`` with a code
and a sentence; nothing reaches aiortc unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_SDP = 60_000  # a browser offer with ten receive slots is about 25 KB
MAX_CANDIDATE = 1_000
MAX_ID = 64


class MessageError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Offer:
    sdp: str


@dataclass(frozen=True, slots=True)
class Candidate:
    candidate: str  # "candidate:..." from RTCIceCandidate.candidate; "" ends the candidates
    sdp_mid: str | None
    sdp_mline_index: int | None


@dataclass(frozen=True, slots=True)
class Bye:
    pass


@dataclass(frozen=True, slots=True)
class Mute:
    participant: str
    muted: bool


@dataclass(frozen=True, slots=True)
class Spotlight:
    participant: str | None


@dataclass(frozen=True, slots=True)
class Switch:
    """Turn the livestream (``live``) or the recording (``record``) on or off."""

    what: str
    on: bool


Message = Offer | Candidate | Bye | Mute | Spotlight | Switch
HOST_OPS = frozenset({"mute", "spotlight", "live", "record"})


def parse(data: Any) -> Message:
    if not isinstance(data, dict):
        raise MessageError("bad_request", "A media message must be an object.")
    op = data.get("op")
    if op == "offer":
        sdp = data.get("sdp")
        if not isinstance(sdp, str) or not sdp.startswith("v=0"):
            raise MessageError("bad_sdp", "offer needs an SDP text (sdp).")
        if len(sdp) > MAX_SDP:
            raise MessageError("bad_sdp", f"The SDP is longer than {MAX_SDP} characters.")
        return Offer(sdp)
    if op == "candidate":
        candidate = data.get("candidate")
        mid = data.get("sdpMid")
        index = data.get("sdpMLineIndex")
        if (
            not isinstance(candidate, str)
            or len(candidate) > MAX_CANDIDATE
            or (candidate and not candidate.startswith("candidate:"))
        ):
            raise MessageError("bad_candidate", "candidate must be an ICE candidate line.")
        if mid is not None and (not isinstance(mid, str) or len(mid) > MAX_ID):
            raise MessageError("bad_candidate", "sdpMid must be a short string.")
        if index is not None and (
            not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 64
        ):
            raise MessageError("bad_candidate", "sdpMLineIndex must be a small number.")
        if mid is None and index is None and candidate:
            raise MessageError("bad_candidate", "A candidate needs sdpMid or sdpMLineIndex.")
        return Candidate(candidate, mid, index)
    if op == "bye":
        return Bye()
    if op == "mute":
        return Mute(_participant(data.get("participant")), _flag(data.get("muted"), "muted"))
    if op == "spotlight":
        who = data.get("participant")
        return Spotlight(None if who is None else _participant(who))
    if op in ("live", "record"):
        return Switch(op, _flag(data.get("on"), "on"))
    raise MessageError("unknown_op", f"Unknown media op {op!r}.")


def _participant(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID:
        raise MessageError("bad_request", "participant must be a participant id.")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise MessageError("bad_request", f"{name} must be true or false.")
    return value
