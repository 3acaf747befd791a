"""What the live-room tests share: a live session made through the real actions, and a
socket.io client on ``/live`` that records everything it is sent."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import socketio
from aiohttp.test_utils import TestServer

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.core.auth import Principal, Role
from server.core.context import Context
from server.deliberations.actions import schedule
from server.topics import actions as topics
from server.topics.model import TopicStatus
from tests.factories import City, make_staff, submit


async def key_topic(ctx: Context, city: City, dispatcher: Principal, title: str) -> int:
    """A topic escalated to a lead (提级督办): what a deliberation's agenda holds."""
    relay = await accounts.create_unit(
        ctx, None, name=f"中转{title[:4]}", kind=UnitKind.RELAY, region_id=city.county.id
    )
    town = await accounts.create_unit(
        ctx, None, name=f"街道{title[:4]}", kind=UnitKind.TOWN, region_id=city.town.id
    )
    done = await submit(ctx, city.room, title=title)
    await topics.move_topic(ctx, dispatcher, done.topic_id, TopicStatus.ACCEPTED, version=1)
    await topics.route_topic(ctx, dispatcher, done.topic_id, version=2, unit_id=relay.id)
    await topics.route_topic(ctx, dispatcher, done.topic_id, version=3, unit_id=town.id)
    await topics.move_topic(
        ctx, dispatcher, done.topic_id, TopicStatus.ESCALATED, version=4, lead="县住建局 王局长"
    )
    return done.topic_id


@dataclass
class Session:
    id: int
    host: Principal
    topics: list[int]


async def live_session(
    ctx: Context, city: City, *, moderation: str = "post", start: bool = True, topics_n: int = 2
) -> Session:
    """A session in the city's room with ``topics_n`` key topics, announced and (by default)
    started, hosted by a county dispatcher."""
    host = await make_staff(ctx, Role.DISPATCHER, city.county, username="host")
    topic_ids = [
        await key_topic(ctx, city, host, title)
        for title in ["加装电梯怎么分摊", "小区停车难"][:topics_n]
    ]
    now = ctx.clock.now()
    created = await schedule.create_deliberation(
        ctx,
        host,
        room_id=city.room.id,
        title="加装电梯协商议事会",
        description="议加装电梯与停车",
        place="幸福社区协商议事室",
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=3),
        capacity=30,
        moderation=moderation,
        host_name="李室长",
        moderators="",
        agenda=topic_ids,
    )
    view = await schedule.announce(ctx, host, created.id, version=created.version)
    if start:
        view = await schedule.start(ctx, host, created.id, version=view.version)
    return Session(created.id, host, topic_ids)


class Refused(Exception):
    """The server refused the connection; the message is its reason code."""


class LiveClient:
    """A real socket.io client on /live that records every event it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Event()

        @self.sio.on("*", namespace="/live")
        async def _any(event: str, data: dict[str, Any]) -> None:
            self.received.append((event, data))
            self._changed.set()

        @self.sio.on("connect_error", namespace="/live")
        async def _refused(data: Any) -> None:
            self.refusal = data.get("message") if isinstance(data, dict) else str(data)

        self.refusal: str | None = None

    async def connect(
        self,
        server: TestServer,
        deliberation_id: Any,
        *,
        cookie: str | None = None,
        device: str | None = None,
        invite: str | None = None,
    ) -> None:
        auth: dict[str, Any] = {"deliberation": deliberation_id}
        if device is not None:
            auth["device"] = device
        if invite is not None:
            auth["invite"] = invite
        try:
            await self.sio.connect(
                str(server.make_url("/")),
                namespaces=["/live"],
                headers={"Cookie": cookie} if cookie else {},
                auth=auth,
                transports=["websocket"],
                wait_timeout=5,
            )
        except socketio.exceptions.ConnectionError:
            raise Refused(self.refusal or "no reason given") from None

    async def call(self, event: str, op: str, **data: Any) -> dict[str, Any]:
        ack: dict[str, Any] = await self.sio.call(
            event, {"op": op, **data}, namespace="/live", timeout=10
        )
        return ack

    async def sync(self) -> dict[str, Any]:
        ack = await self.call("sync", "snapshot")
        assert ack["ok"], ack
        snapshot: dict[str, Any] = ack["snapshot"]
        return snapshot

    def events(self, event: str, op: str | None = None) -> list[dict[str, Any]]:
        return [d for e, d in self.received if e == event and (op is None or d.get("op") == op)]

    def batches(self) -> list[dict[str, Any]]:
        return self.events("batch")

    def comments(self) -> list[dict[str, Any]]:
        return [c for b in self.batches() for c in b.get("comments", [])]

    async def wait_for(self, check: Callable[[], Any], seconds: float = 5.0) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            value = check()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; received: {self.received[-5:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def quiet(self, seconds: float = 0.3) -> None:
        """Let in-flight batches arrive (used before asserting that something did NOT)."""
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
