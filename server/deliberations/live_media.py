"""The live room's media: the ``media`` event of ``/live``, driving ``signaling``.

Each live session this process serves media for has one ``signaling.room.MediaRoom``
(a session's media is pinned to one process, as LiveKit pins a room; see the README's
scale-out notes). The host console (the room's camera and microphone) and each admitted
guest are participants, named by their live identity key (``staff:7``, ``guest:12``);
viewers never get a peer. Ops:

- ``offer`` (host or admitted guest) → ``{"answer": sdp}``; ``candidate``; ``bye``;
- host only: ``mute``, ``spotlight``, and the ``live`` and ``record`` switches.

What a page needs to hear (its slots, its peer's state) goes to that participant's
connections only; the media status (who is on video, the spotlight, live and recording)
goes to the whole session at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from server.core.context import Context
from server.core.errors import AppError, Forbidden
from server.deliberations.actions import room as room_actions
from server.deliberations.actions.common import Identity
from server.deliberations.model import GuestRole, LiveRole
from signaling.messages import (
    HOST_OPS,
    Bye,
    Candidate,
    MessageError,
    Mute,
    Offer,
    Spotlight,
    Switch,
    parse,
)
from signaling.room import IceServer, MediaRoom

log = logging.getLogger(__name__)

SWEEP_SECONDS = 2.0

# (deliberation, participant key, event payload): to that participant's connections
ToParticipant = Callable[[int, str, dict[str, Any]], Awaitable[None]]
# (deliberation, event payload): to everyone in the session
ToSession = Callable[[int, dict[str, Any]], Awaitable[None]]

ROLE_LABELS = {
    LiveRole.HOST: "主持人 · 议事会场",
    GuestRole.OFFICIAL: "部门负责人",
    GuestRole.DEPUTY: "代表委员",
    GuestRole.EXPERT: "专家学者",
}


class MediaError(AppError):
    """A refused media message, with signaling's own code (``bad_sdp``, ``not_joined``...)."""

    code = "media_refused"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.media_code = code

    def to_json(self) -> dict[str, object]:
        return {"error": {"code": self.media_code, "message": self.message, "fields": {}}}


class LiveMedia:
    def __init__(self, ctx: Context, to_participant: ToParticipant, to_session: ToSession) -> None:
        self._ctx = ctx
        self._to_participant = to_participant
        self._to_session = to_session
        self._rooms: dict[int, MediaRoom] = {}
        self._watch: asyncio.Task[None] | None = None
        self._ice = tuple(
            IceServer(tuple(s["urls"]), s.get("username"), s.get("credential"))
            for s in ctx.settings.ice_servers
        )

    def client_config(self) -> dict[str, Any]:
        """What a participant's page needs before it offers."""
        return {
            "ice_servers": [s.public() for s in self._ice],
            "slots": self._ctx.settings.media_slots,
        }

    def status(self, deliberation_id: int) -> dict[str, Any]:
        media = self._rooms.get(deliberation_id)
        return {
            "participants": media.describe() if media else [],
            "spotlight": media.spotlight if media else None,
            "live": False,
            "recording": False,
        }

    async def handle(self, who: Identity, data: dict[str, Any]) -> dict[str, Any]:
        """One ``media`` message; ``MediaError`` (an error ack) for anything refused."""
        try:
            message = parse(data)
        except MessageError as exc:
            raise MediaError(exc.code, str(exc)) from None
        if data.get("op") in HOST_OPS and not who.is_host:
            raise Forbidden("Only the host may do that.")
        if who.role is LiveRole.VIEWER:
            raise Forbidden("Viewers watch the livestream; only the host and guests join by video.")
        try:
            return await self._dispatch(who, message)
        except MessageError as exc:
            raise MediaError(exc.code, str(exc)) from None

    async def _dispatch(self, who: Identity, message: Any) -> dict[str, Any]:
        deliberation_id = who.deliberation_id
        if isinstance(message, Offer):
            await room_actions.require_live_session(self._ctx, deliberation_id)
            media = self._room(deliberation_id)
            label = ROLE_LABELS.get(who.guest_role or who.role, "")
            answer = await media.join(who.key, who.name, label, message.sdp)
            await self._publish(deliberation_id)
            return {"answer": answer, "participant": who.key}
        joined = self._rooms.get(deliberation_id)
        if joined is None:
            raise MediaError("not_joined", "Nobody is on video in this session.")
        media = joined
        if isinstance(message, Candidate):
            await media.candidate(who.key, message)
        elif isinstance(message, Bye):
            await self.leave(deliberation_id, who.key)
        elif isinstance(message, Mute):
            media.mute(message.participant, message.muted)
            await self._to_participant(
                deliberation_id, message.participant, {"op": "muted", "muted": message.muted}
            )
            await self._publish(deliberation_id)
        elif isinstance(message, Spotlight):
            media.set_spotlight(message.participant)
            await self._publish(deliberation_id)
        elif isinstance(message, Switch):
            raise MediaError("not_available", "The livestream and recording are not ready yet.")
        return {}

    def _room(self, deliberation_id: int) -> MediaRoom:
        media = self._rooms.get(deliberation_id)
        if media is None or media.closed:

            async def on_event(participant: str, event: str, data: dict[str, Any]) -> None:
                await self._to_participant(deliberation_id, participant, {"op": event, **data})
                if event == "state":
                    await self._publish(deliberation_id)

            media = MediaRoom(ice_servers=self._ice, on_event=on_event)
            self._rooms[deliberation_id] = media
            if self._watch is None or self._watch.done():
                self._watch = asyncio.get_running_loop().create_task(self._end_ended())
        return media

    async def _end_ended(self) -> None:
        """Close the media of sessions that ended or were cancelled, wherever that was done
        (any process, the HTTP API or the console), checked every ``SWEEP_SECONDS``."""
        while self._rooms:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                live = await room_actions.live_sessions(self._ctx, list(self._rooms))
                for deliberation_id in [d for d in self._rooms if d not in live]:
                    log.info(
                        "media: session %s is no longer live; closing its peers", deliberation_id
                    )
                    await self.end(deliberation_id)
            except Exception:
                log.exception("media: checking which sessions ended failed")

    async def leave(self, deliberation_id: int, participant: str) -> None:
        """A participant's page said bye, disconnected, or was removed by the host."""
        media = self._rooms.get(deliberation_id)
        if media is not None and await media.leave(participant):
            await self._publish(deliberation_id)

    async def follow_floor(self, deliberation_id: int, queue: list[dict[str, Any]]) -> None:
        """The speaker queue drives the spotlight: a guest given the floor is in it, an
        on-site speaker puts the room camera (the host's participant) there."""
        media = self._rooms.get(deliberation_id)
        if media is None:
            return
        speaking = next((s for s in queue if s.get("status") == "speaking"), None)
        target: str | None = None
        if speaking is not None:
            if speaking.get("invitation_id") is not None:
                target = f"guest:{speaking['invitation_id']}"
            else:
                target = next((p for p in media.participants if p.startswith("staff:")), None)
        if target is not None and target not in media.participants:
            target = None
        if target != media.spotlight:
            media.set_spotlight(target)
            await self._publish(deliberation_id)

    async def end(self, deliberation_id: int) -> None:
        """The session ended: every peer closes."""
        media = self._rooms.pop(deliberation_id, None)
        if media is not None:
            await media.close()
            await self._publish(deliberation_id)

    async def close(self) -> None:
        """Shutdown: stop watching and close every peer."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for deliberation_id in list(self._rooms):
            await self.end(deliberation_id)

    async def _publish(self, deliberation_id: int) -> None:
        await self._to_session(deliberation_id, {"op": "status", **self.status(deliberation_id)})
