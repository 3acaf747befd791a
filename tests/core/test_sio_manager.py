"""The direct-emit managers against real socket.io clients, in process and across Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.core.sio_manager import DirectEmitManager, DirectEmitRedisManager
from tests.conftest import redis_url


async def bare_server(
    aiohttp_server: Any, manager: socketio.AsyncManager
) -> tuple[socketio.AsyncServer, TestServer]:
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)

    @sio.on("join")  # type: ignore[untyped-decorator]
    async def join(sid: str, room: str) -> str:
        await sio.enter_room(sid, room)
        return "ok"

    app = web.Application()
    sio.attach(app)

    async def close(_app: web.Application) -> None:
        await manager.close()

    app.on_cleanup.append(close)
    return sio, await aiohttp_server(app)


class Viewer:
    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.got: list[Any] = []
        self.client.on("batch", self.receive)

    async def receive(self, *args: Any) -> None:
        self.got.append(args[0] if len(args) == 1 else args)

    async def join(self, server: TestServer, room: str) -> str:
        await self.client.connect(str(server.make_url("/")), transports=["websocket"])
        assert await self.client.call("join", room, timeout=5) == "ok"
        sid = self.client.get_sid("/")  # the socket.io sid (client.sid is engine.io's)
        assert sid is not None
        return str(sid)


@pytest.fixture
async def viewers() -> AsyncIterator[Callable[[], Viewer]]:
    made: list[Viewer] = []

    def make() -> Viewer:
        made.append(Viewer())
        return made[-1]

    yield make
    for v in made:
        await v.client.disconnect()


async def until(check: Callable[[], Awaitable[bool] | bool]) -> None:
    """Poll for up to five seconds (the clients and Redis have no event to wait on)."""
    for _ in range(500):
        done = check()
        if done if isinstance(done, bool) else await done:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_a_broadcast_reaches_the_room_once_each_and_skips_who_it_should(
    aiohttp_server: Any, viewers: Callable[[], Viewer]
) -> None:
    sio, server = await bare_server(aiohttp_server, DirectEmitManager())
    a, b, c, outsider = viewers(), viewers(), viewers(), viewers()
    sid_a = await a.join(server, "d1")
    await b.join(server, "d1")
    sid_c = await c.join(server, "d1")
    await outsider.join(server, "d2")

    await sio.emit("batch", {"comments": ["一", "二"]}, room="d1", namespace="/")
    await sio.emit("batch", ("two", "args"), room="d1", skip_sid=sid_a, namespace="/")
    await sio.emit("batch", "last", room="d1", skip_sid=[sid_a, sid_c], namespace="/")
    await until(lambda: len(b.got) == 3)
    await asyncio.sleep(0.1)  # anything extra would have arrived by now
    assert a.got == [{"comments": ["一", "二"]}]
    assert c.got == [{"comments": ["一", "二"]}, ("two", "args")]
    assert b.got == [{"comments": ["一", "二"]}, ("two", "args"), "last"]
    assert outsider.got == []


async def test_binary_payloads_and_callbacks_take_their_own_paths(
    aiohttp_server: Any, viewers: Callable[[], Viewer]
) -> None:
    sio, server = await bare_server(aiohttp_server, DirectEmitManager())
    a = viewers()
    sid = await a.join(server, "d1")
    a.client.on("ping-me", lambda: "pong")

    await sio.emit("batch", {"blob": b"\x00\x01"}, room="d1", namespace="/")
    await until(lambda: len(a.got) == 1)
    assert a.got == [{"blob": b"\x00\x01"}]  # attachments follow the event frame
    assert await sio.call("ping-me", to=sid, namespace="/", timeout=5) == "pong"


async def test_one_failing_recipient_does_not_cost_the_others_their_packet(
    aiohttp_server: Any, viewers: Callable[[], Viewer], monkeypatch: pytest.MonkeyPatch
) -> None:
    sio, server = await bare_server(aiohttp_server, DirectEmitManager())
    first, second = viewers(), viewers()
    await first.join(server, "d1")
    await second.join(server, "d1")
    broken = first.client.sid  # that viewer's engine.io sid
    real_send = sio._send_eio_packet

    async def send(eio_sid: str, pkt: Any) -> None:
        if eio_sid == broken:
            raise ConnectionResetError("gone")
        await real_send(eio_sid, pkt)

    monkeypatch.setattr(sio, "_send_eio_packet", send)
    await sio.emit("batch", "hello", room="d1", namespace="/")
    await until(lambda: second.got == ["hello"])
    assert first.got == []


async def test_the_redis_manager_delivers_across_servers_with_the_direct_path(
    aiohttp_server: Any, viewers: Callable[[], Viewer]
) -> None:
    channel = f"test-sio-{uuid.uuid4().hex}"
    url = redis_url()
    sio_a, server_a = await bare_server(
        aiohttp_server, DirectEmitRedisManager(url, channel=channel)
    )
    _, server_b = await bare_server(aiohttp_server, DirectEmitRedisManager(url, channel=channel))
    on_a, on_b = viewers(), viewers()
    await on_a.join(server_a, "d1")
    await on_b.join(server_b, "d1")
    probe = redis.asyncio.from_url(url)

    async def both_listening() -> bool:
        return dict(await probe.pubsub_numsub(channel)).get(channel.encode()) == 2

    try:  # both listeners subscribed, so nothing published below can be missed
        await until(both_listening)
    finally:
        await probe.aclose()
    # The listener hands what it hears to the direct path, not upstream's task per socket.
    direct = DirectEmitManager.emit
    calls: list[str] = []

    async def counting(self: Any, event: str, *args: Any, **kwargs: Any) -> None:
        calls.append(event)
        await direct(self, event, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DirectEmitManager, "emit", counting)
        await sio_a.emit("batch", "across", room="d1", namespace="/")
        await until(lambda: on_a.got == ["across"] and on_b.got == ["across"])
    assert calls.count("batch") == 2  # on the sender's host at once, on the other's listener
