"""Events to browsers, sent after commit, to explicitly named socket.io rooms."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class Notifier(Protocol):
    async def emit(
        self, event: str, payload: dict[str, Any], *, namespace: str, rooms: Sequence[str]
    ) -> None: ...


class SocketIONotifier:
    """Emits through python-socketio; with a Redis manager it reaches every process."""

    def __init__(self, sio: Any) -> None:
        self._sio = sio

    async def emit(
        self, event: str, payload: dict[str, Any], *, namespace: str, rooms: Sequence[str]
    ) -> None:
        if rooms:
            await self._sio.emit(event, payload, room=list(rooms), namespace=namespace)


@dataclass
class SentEvent:
    event: str
    payload: dict[str, Any]
    namespace: str
    rooms: list[str]


@dataclass
class RecordingNotifier:
    """A fake for tests: keeps what was sent, round-tripped through JSON."""

    sent: list[SentEvent] = field(default_factory=list)

    async def emit(
        self, event: str, payload: dict[str, Any], *, namespace: str, rooms: Sequence[str]
    ) -> None:
        self.sent.append(SentEvent(event, json.loads(json.dumps(payload)), namespace, list(rooms)))


class NullNotifier:
    """For command-line work, where no browser is listening."""

    async def emit(
        self, event: str, payload: dict[str, Any], *, namespace: str, rooms: Sequence[str]
    ) -> None:
        return None
