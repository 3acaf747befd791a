"""A media room: the WebRTC peers of one live deliberation, and what flows between them.

Each interactive participant (the host console's room camera and microphone, each
admitted guest) has one aiortc peer connection with the server. The browser makes the
offer: its own camera and microphone (``sendonly``) and N receive slots, N audio and N
video transceivers (``recvonly``). The server answers, putting a ``ForwardTrack`` in each
slot, and fills the slots with the other participants as they come and go; the page
learns which participant is in which slot from ``slots`` events. Nobody renegotiates when
someone joins or leaves, which keeps the browser side simple and the server away from
aiortc's renegotiation corners.

Video is VP8 and audio Opus everywhere (the answer allows nothing else), so a frame
received from one participant is sent to every other as it came: no decode, no encode per
subscriber. Everyone hears everyone but themselves, since nobody's own audio is in their
slots. The decoded pictures and sound (aiortc decodes each input once anyway) go to the
``Sink``, the livestream and recording pipeline, and only while it wants them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription, candidate_from_sdp

from signaling import _aiortc
from signaling.forwarding import ForwardTrack, Throttle
from signaling.messages import Candidate, MessageError

log = logging.getLogger(__name__)

FORWARDED_CODECS = {"video": "video/VP8", "audio": "audio/opus"}

# (participant, event, data): "slots" {mid: {...}} and "state" {"state": ...} for a page
EventHook = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class Sink(Protocol):
    """What the room feeds decoded media to (``signaling.pipeline.MediaPipeline``)."""

    def add_participant(self, participant_id: str, name: str, role: str) -> None: ...
    def remove_participant(self, participant_id: str) -> None: ...
    def push_video(self, participant_id: str, frame: av.VideoFrame) -> None: ...
    def push_audio(self, participant_id: str, frame: av.AudioFrame) -> None: ...
    def set_muted(self, participant_id: str, muted: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def public(self) -> dict[str, Any]:
        """As a browser's ``RTCPeerConnection`` takes it."""
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
            out["credential"] = self.credential or ""
        return out


@dataclass(eq=False)
class _Slot:
    audio: ForwardTrack
    video: ForwardTrack
    audio_mid: str
    video_mid: str

    @property
    def source(self) -> str | None:
        return self.video.source


@dataclass(eq=False)
class _Participant:
    id: str
    name: str
    role: str
    pc: RTCPeerConnection
    inputs: dict[str, RTCRtpReceiver] = field(default_factory=dict)  # kind -> receiver
    slots: list[_Slot] = field(default_factory=list)
    muted: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    keyframe: Callable[[], None] = lambda: None

    def slot_of(self, source: str) -> _Slot | None:
        return next((s for s in self.slots if s.source == source), None)


class MediaRoom:
    def __init__(
        self,
        *,
        ice_servers: tuple[IceServer, ...] = (),
        on_event: EventHook | None = None,
        sink: Sink | None = None,
    ) -> None:
        _aiortc.check()
        self._ice = ice_servers
        self._on_event = on_event
        self._sink = sink
        self._decoding = sink is not None
        self._participants: dict[str, _Participant] = {}
        self._lock = asyncio.Lock()  # joins and leaves change everyone's slots
        self.spotlight: str | None = None
        self.closed = False

    # --- who is here ------------------------------------------------------------------

    @property
    def participants(self) -> list[str]:
        return list(self._participants)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "id": p.id,
                "name": p.name,
                "role": p.role,
                "muted": p.muted,
                "state": p.pc.connectionState,
            }
            for p in self._participants.values()
        ]

    # --- joining and leaving ----------------------------------------------------------

    async def join(self, participant_id: str, name: str, role: str, offer_sdp: str) -> str:
        """Answer a participant's offer; a second offer from the same one replaces the
        first peer (a page that reconnects). Raises ``MessageError`` for a bad offer,
        leaving nothing behind."""
        if self.closed:
            raise MessageError("gone", "The session's media has ended.")
        media = _parse_offer(offer_sdp)
        async with self._lock:
            if participant_id in self._participants:
                await self._leave(participant_id)
            # One transport for every m-line: with aiortc's default (balanced) policy the
            # second and later video m-lines of a BUNDLE stay on a transport never started.
            pc = RTCPeerConnection(
                RTCConfiguration(
                    iceServers=self._rtc_ice_servers(), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
                )
            )
            person = _Participant(participant_id, name, role, pc)
            try:
                await self._negotiate(person, offer_sdp, media)
            except MessageError:
                await pc.close()
                raise
            except Exception as exc:  # aiortc refuses some offers with ValueError & co
                await pc.close()
                log.info("offer from %s refused: %s", participant_id, exc)
                raise MessageError("bad_sdp", f"The offer could not be answered: {exc}") from None
            self._participants[participant_id] = person
            self._watch(person)
            if self._sink is not None:
                self._sink.add_participant(participant_id, name, role)
            touched = {participant_id}
            for other in self._participants.values():
                if other is not person:
                    if self._subscribe(person, other):
                        touched.add(person.id)
                    if self._subscribe(other, person):
                        touched.add(other.id)
            answer = pc.localDescription.sdp
        await self._announce_slots(touched)
        return answer

    async def candidate(self, participant_id: str, message: Candidate) -> None:
        person = self._participants.get(participant_id)
        if person is None:
            raise MessageError("not_joined", "Send an offer first.")
        if not message.candidate:
            return  # end of candidates: aiortc needs no word of it
        try:
            ice = candidate_from_sdp(message.candidate.split(":", 1)[1])
        except Exception as exc:  # aiortc's parser asserts on some garbage
            raise MessageError("bad_candidate", f"Unreadable candidate: {exc!r}") from None
        ice.sdpMid = message.sdp_mid
        ice.sdpMLineIndex = message.sdp_mline_index
        try:
            await person.pc.addIceCandidate(ice)
        except Exception as exc:
            raise MessageError("bad_candidate", f"Candidate refused: {exc}") from None

    async def leave(self, participant_id: str) -> bool:
        async with self._lock:
            touched = await self._leave(participant_id)
        if touched is None:
            return False
        await self._announce_slots(touched)
        return True

    async def close(self) -> None:
        """End every peer (session end, shutdown)."""
        self.closed = True
        async with self._lock:
            for pid in list(self._participants):
                await self._leave(pid)

    # --- the host's controls ----------------------------------------------------------

    def mute(self, participant_id: str, muted: bool) -> None:
        person = self._get(participant_id)
        person.muted = muted
        if self._sink is not None:
            self._sink.set_muted(participant_id, muted)

    def set_spotlight(self, participant_id: str | None) -> None:
        if participant_id is not None:
            self._get(participant_id)
        self.spotlight = participant_id

    def set_decoding(self, on: bool) -> None:
        """Decode inputs only while the livestream or the recording needs pictures."""
        self._decoding = on and self._sink is not None
        for person in self._participants.values():
            for receiver in person.inputs.values():
                _aiortc.set_decoding(receiver, self._decoding)
            if self._decoding:
                person.keyframe()

    async def stats(self) -> dict[str, Any]:
        """Per participant: frames forwarded and dropped in its slots."""
        out = {}
        for p in self._participants.values():
            tracks = [t for s in p.slots for t in (s.audio, s.video)]
            out[p.id] = {
                "forwarded": sum(t.forwarded for t in tracks),
                "dropped": sum(t.dropped for t in tracks),
                "state": p.pc.connectionState,
            }
        return out

    # --- internals ----------------------------------------------------------------------

    def _get(self, participant_id: str) -> _Participant:
        person = self._participants.get(participant_id)
        if person is None:
            raise MessageError("not_found", "No such participant in the media room.")
        return person

    def _rtc_ice_servers(self) -> list[RTCIceServer]:
        return [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in self._ice
        ]

    async def _negotiate(
        self, person: _Participant, offer_sdp: str, media: dict[str, tuple[str, str]]
    ) -> None:
        pc = person.pc
        await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        pending: dict[str, list[tuple[str, ForwardTrack]]] = {"audio": [], "video": []}
        for transceiver in pc.getTransceivers():
            kind, direction = media.get(transceiver.mid or "", ("", ""))
            if kind not in ("audio", "video"):
                continue
            if not _aiortc.restrict_codecs(transceiver, FORWARDED_CODECS[kind]):
                raise MessageError(
                    "bad_sdp", f"The offer's {kind} must allow {FORWARDED_CODECS[kind]}."
                )
            if direction in ("sendonly", "sendrecv") and kind not in person.inputs:
                person.inputs[kind] = transceiver.receiver
                self._tap(person, kind, transceiver.receiver)
            elif direction == "recvonly":
                track = ForwardTrack(kind)
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendonly"
                _aiortc.on_keyframe_request(transceiver.sender, track.request_keyframe)
                pending[kind].append((transceiver.mid or "", track))
        for (audio_mid, audio), (video_mid, video) in zip(
            pending["audio"], pending["video"], strict=False
        ):
            person.slots.append(_Slot(audio, video, audio_mid, video_mid))
        if "video" in person.inputs:
            person.keyframe = Throttle(
                0.3, lambda: _aiortc.request_keyframe(person.inputs["video"])
            )
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)

    def _tap(self, person: _Participant, kind: str, receiver: RTCRtpReceiver) -> None:
        def forward(codec: str, data: bytes, timestamp: int) -> None:
            if kind == "audio" and person.muted:
                return
            for other in self._participants.values():
                slot = other.slot_of(person.id) if other is not person else None
                if slot is not None:
                    (slot.audio if kind == "audio" else slot.video).push(data, timestamp)

        _aiortc.install_tap(receiver, forward)
        _aiortc.set_decoding(receiver, self._decoding)

    def _subscribe(self, subscriber: _Participant, source: _Participant) -> bool:
        """Put ``source`` in a free slot of ``subscriber``; False if none is free."""
        free = next((s for s in subscriber.slots if s.source is None), None)
        if free is None:
            if subscriber.slots:
                log.warning("%s has no free slot for %s", subscriber.id, source.id)
            return False
        free.audio.attach(source.id, lambda: None)
        free.video.attach(source.id, source.keyframe)
        return True

    async def _leave(self, participant_id: str) -> set[str] | None:
        person = self._participants.pop(participant_id, None)
        if person is None:
            return None
        touched = set()
        for other in self._participants.values():
            slot = other.slot_of(participant_id)
            if slot is not None:
                slot.audio.detach()
                slot.video.detach()
                touched.add(other.id)
        for task in person.tasks:
            task.cancel()
        for task in person.tasks:
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await task
        await person.pc.close()
        for slot in person.slots:
            slot.audio.stop()
            slot.video.stop()
        if self._sink is not None:
            self._sink.remove_participant(participant_id)
        if self.spotlight == participant_id:
            self.spotlight = None
        # Whoever lost a neighbour may now have room for someone who found none.
        for other in self._participants.values():
            for source in self._participants.values():
                if (
                    source is not other
                    and other.slot_of(source.id) is None
                    and self._subscribe(other, source)
                ):
                    touched.add(other.id)
        return touched

    def _watch(self, person: _Participant) -> None:
        pc = person.pc

        @pc.on("connectionstatechange")
        async def changed() -> None:
            state = pc.connectionState
            await self._emit(person.id, "state", {"state": state})
            if state == "failed" and self._participants.get(person.id) is person:
                log.info("media peer of %s failed; closing it", person.id)
                await self.leave(person.id)

        for kind, receiver in person.inputs.items():
            person.tasks.append(asyncio.ensure_future(self._drain(person, kind, receiver)))

    async def _drain(self, person: _Participant, kind: str, receiver: RTCRtpReceiver) -> None:
        """Read the decoded frames (aiortc queues them without bound) into the sink."""
        track = receiver.track
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            sink = self._sink
            if sink is None:
                continue
            try:
                if kind == "video" and isinstance(frame, av.VideoFrame):
                    sink.push_video(person.id, frame)
                elif isinstance(frame, av.AudioFrame):
                    sink.push_audio(person.id, frame)
            except Exception:
                log.exception("media sink refused a frame from %s", person.id)

    async def _announce_slots(self, participant_ids: set[str]) -> None:
        for pid in participant_ids:
            person = self._participants.get(pid)
            if person is None:
                continue
            slots = {}
            for slot in person.slots:
                source = self._participants.get(slot.source or "")
                if source is not None:
                    info = {"participant": source.id, "name": source.name, "role": source.role}
                    slots[slot.video_mid] = {**info, "kind": "video"}
                    slots[slot.audio_mid] = {**info, "kind": "audio"}
            await self._emit(pid, "slots", {"slots": slots})

    async def _emit(self, participant_id: str, event: str, data: dict[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            await self._on_event(participant_id, event, data)
        except Exception:
            log.exception("media event %s for %s failed", event, participant_id)


def _parse_offer(sdp: str) -> dict[str, tuple[str, str]]:
    """mid -> (kind, direction as the browser sees it), or ``MessageError``."""
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:
        raise MessageError("bad_sdp", f"Unreadable SDP: {exc}") from None
    media = {}
    for m in parsed.media:
        if m.kind in ("audio", "video") and m.rtp.muxId:
            media[m.rtp.muxId] = (m.kind, m.direction or "sendrecv")
    if not media:
        raise MessageError("bad_sdp", "The offer has no audio or video.")
    return media
