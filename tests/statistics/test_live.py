"""The /dashboard socket.io namespace with real clients: a snapshot on watch, a push when
the figures change (and none when they do not), refusals in the ack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.core.web import CTX, SIO
from server.settings import Settings
from server.statistics import actions
from server.statistics.live import DASHBOARD_NAMESPACE, DashboardNamespace
from tests.conftest import make_settings
from tests.factories import make_city, submit


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, PUBLIC_BASE_URL="http://127.0.0.1")


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> TestServer:
    srv: TestServer = await aiohttp_server(create_app(settings))  # real clock and notifier
    namespace: DashboardNamespace = srv.app[SIO].namespace_handlers[DASHBOARD_NAMESPACE]  # type: ignore[attr-defined]
    namespace.interval = 0.1
    actions.snapshots(srv.app[CTX]).seconds = 0.05
    return srv


class Screen:
    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.pushed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        @self.client.on("dashboard", namespace=DASHBOARD_NAMESPACE)
        async def on_dashboard(data: dict[str, Any]) -> None:
            await self.pushed.put(data)

    async def connect(self, server: TestServer) -> None:
        await self.client.connect(
            str(server.make_url("/")),
            namespaces=[DASHBOARD_NAMESPACE],
            transports=["websocket"],
            wait_timeout=5,
        )

    async def watch(self, region: object) -> dict[str, Any]:
        ack: dict[str, Any] = await self.client.call(
            "dashboard", {"op": "watch", "region": region}, namespace=DASHBOARD_NAMESPACE
        )
        return ack


@pytest.fixture
async def screens() -> AsyncIterator[list[Screen]]:
    made: list[Screen] = []
    yield made
    for screen in made:
        await screen.client.disconnect()


async def test_a_new_topic_is_pushed_to_the_screens_of_its_region_only(
    server: TestServer, screens: list[Screen]
) -> None:
    ctx = server.app[CTX]
    city = await make_city(ctx)
    whole, county, park = Screen(), Screen(), Screen()
    screens.extend([whole, county, park])
    for screen in screens:
        await screen.connect(server)
    first = await whole.watch(None)
    assert first["ok"] and first["snapshot"]["figures"]["topics_collected"] == 0
    assert (await county.watch(city.county.id))["ok"]
    assert (await park.watch(city.other_county.id))["ok"]

    await asyncio.sleep(0.5)  # ticks pass: nothing changed, nothing is pushed
    assert whole.pushed.empty() and county.pushed.empty() and park.pushed.empty()

    await submit(ctx, city.room)
    for screen in (whole, county):
        message = await asyncio.wait_for(screen.pushed.get(), 5)
        assert message["op"] == "snapshot"
        assert message["snapshot"]["figures"]["topics_collected"] == 1, (first, message)
    await asyncio.sleep(0.5)
    assert park.pushed.empty()  # the park's figures did not change
    assert whole.pushed.empty()  # and nothing is pushed twice


async def test_watch_refusals_answer_in_the_ack(server: TestServer, screens: list[Screen]) -> None:
    await make_city(server.app[CTX])
    screen = Screen()
    screens.append(screen)
    await screen.connect(server)
    assert (await screen.watch(999_999))["error"]["code"] == "not_found"
    assert (await screen.watch("1"))["error"]["code"] == "bad_request"
    bad = await screen.client.call("dashboard", {"op": "dance"}, namespace=DASHBOARD_NAMESPACE)
    assert bad["error"]["code"] == "bad_request"
    assert (await screen.watch(None))["ok"]
