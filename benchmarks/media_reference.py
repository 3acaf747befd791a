"""The reference for benchmarks/media.py: a stock-aiortc relay that re-encodes per subscriber.

    .venv/bin/python benchmarks/media_reference.py --port 8099

A minimal aiohttp server with its own tiny signalling and no database:

- ``POST /offer`` with ``{"id": "p3", "sdp": "..."}`` answers ``{"sdp": "..."}``. The
  offer is a participant's camera and microphone (sendonly) and N receive pairs
  (recvonly audio + video), as the pages offer to the real server;
- ``GET /api/health`` says ``{"ok": true}`` (the benchmark waits for it).

Each participant's received tracks are decoded by aiortc (as always) and relayed with
``aiortc.contrib.media.MediaRelay`` to every other participant as ordinary tracks, so each
subscriber's sender ENCODES its own copy: one VP8 decode per input, one VP8 encode (and
one Opus encode) per subscriber per source. That is the naive way to build a room with
stock aiortc, "a stock aiortc per-subscriber re-encoding relay". The relay proxies are
unbuffered (``buffered=False``, each serves the latest frame), which is the relay's own
low-latency option: a subscriber whose encoder falls behind skips pictures rather than
queueing them without bound.

Slots are filled as the real server fills them: when someone joins, each earlier
participant goes into a free receive pair of theirs and they go into a free pair of each
earlier participant, without renegotiation (a ``Slot`` track forwards whichever relay
proxy it is given, or waits).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription

log = logging.getLogger("media_reference")


class Slot(MediaStreamTrack):
    """One receive slot: passes on the frames of the relay proxy it is given."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.source: MediaStreamTrack | None = None
        self._attached = asyncio.Event()

    def attach(self, source: MediaStreamTrack) -> None:
        self.source = source
        self._attached.set()

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        await self._attached.wait()
        assert self.source is not None
        return await self.source.recv()

    def stop(self) -> None:
        super().stop()
        if self.source is not None:
            self.source.stop()
        self._attached.set()


@dataclass(eq=False)
class Participant:
    id: str
    pc: RTCPeerConnection
    inputs: dict[str, MediaStreamTrack] = field(default_factory=dict)
    slots: list[dict[str, Slot]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # whose tracks fill each used slot


class Room:
    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.participants: dict[str, Participant] = {}
        self.lock = asyncio.Lock()

    async def join(self, pid: str, sdp: str) -> str:
        async with self.lock:
            old = self.participants.pop(pid, None)
            if old is not None:
                await old.pc.close()
            pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
            person = Participant(pid, pc)
            directions = {
                m.rtp.muxId: m.direction or "sendrecv"
                for m in SessionDescription.parse(sdp).media
                if m.kind in ("audio", "video")
            }
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            pending: dict[str, list[Slot]] = {"audio": [], "video": []}
            for transceiver in pc.getTransceivers():
                direction = directions.get(transceiver.mid or "")
                if direction in ("sendonly", "sendrecv"):
                    person.inputs.setdefault(transceiver.kind, transceiver.receiver.track)
                elif direction == "recvonly":
                    slot = Slot(transceiver.kind)
                    transceiver.sender.replaceTrack(slot)
                    transceiver.direction = "sendonly"
                    pending[transceiver.kind].append(slot)
            person.slots = [
                {"audio": a, "video": v}
                for a, v in zip(pending["audio"], pending["video"], strict=False)
            ]
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            for other in self.participants.values():
                self._subscribe(person, other)
                self._subscribe(other, person)
            self.participants[pid] = person

            @pc.on("connectionstatechange")
            async def changed() -> None:
                if pc.connectionState in ("failed", "closed"):
                    await self.leave(pid, pc)

            description = pc.localDescription
            assert description is not None
            return description.sdp

    def _subscribe(self, subscriber: Participant, source: Participant) -> None:
        if len(subscriber.sources) >= len(subscriber.slots):
            log.warning("%s has no free slot for %s", subscriber.id, source.id)
            return
        slot = subscriber.slots[len(subscriber.sources)]
        subscriber.sources.append(source.id)
        for kind in ("audio", "video"):
            track = source.inputs.get(kind)
            if track is not None:
                slot[kind].attach(self.relay.subscribe(track, buffered=False))

    async def leave(self, pid: str, pc: RTCPeerConnection) -> None:
        async with self.lock:
            person = self.participants.get(pid)
            if person is not None and person.pc is pc:
                del self.participants[pid]
        await pc.close()

    async def close(self) -> None:
        for person in list(self.participants.values()):
            await person.pc.close()
        self.participants.clear()


def make_app() -> web.Application:
    room = Room()
    app = web.Application()

    async def offer(request: web.Request) -> web.Response:
        data = await request.json()
        answer = await room.join(str(data["id"]), str(data["sdp"]))
        return web.json_response({"sdp": answer})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "participants": len(room.participants)})

    async def on_shutdown(app: web.Application) -> None:
        with contextlib.suppress(Exception):
            await room.close()

    app.router.add_post("/offer", offer)
    app.router.add_get("/api/health", health)
    app.on_shutdown.append(on_shutdown)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(make_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
