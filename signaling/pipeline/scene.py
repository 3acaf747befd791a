"""What is on stage: the participants with their latest media, the caption, the layout.

Written on the event loop (pushes, host actions), read by the compose thread. The
participant table is guarded by a lock; single attribute writes (a participant's latest
frame, the caption) are atomic under the GIL and need none.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import av

from signaling.pipeline.audio import AudioInput
from signaling.pipeline.layout import Layout


@dataclass(eq=False, slots=True)
class Participant:
    id: str
    name: str
    role: str
    video: av.VideoFrame | None = None  # only the latest: a picture is never queued
    audio: AudioInput = field(default_factory=AudioInput)
    muted: bool = False


class Scene:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._participants: dict[str, Participant] = {}
        self.caption: str | None = None
        self.spotlight: str | None = None
        self.layout: Layout = "grid"

    def add(self, participant_id: str, name: str, role: str) -> None:
        """Add a participant, or relabel one already here (keeping their media)."""
        with self.lock:
            known = self._participants.get(participant_id)
            if known is None:
                self._participants[participant_id] = Participant(participant_id, name, role)
            else:
                known.name, known.role = name, role

    def remove(self, participant_id: str) -> None:
        with self.lock:
            self._participants.pop(participant_id, None)
        if self.spotlight == participant_id:
            self.spotlight = None
            self.layout = "grid"

    def get(self, participant_id: str) -> Participant | None:
        return self._participants.get(participant_id)

    def snapshot(self) -> list[Participant]:
        """The participants in join order, as of now."""
        with self.lock:
            return list(self._participants.values())

    def __len__(self) -> int:
        return len(self._participants)
