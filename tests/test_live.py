"""The staff consoles' live channel, with real socket.io clients against a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer

from server.accounts import actions as accounts
from server.accounts.model import UnitKind
from server.accounts.tables import StaffUser
from server.app import create_app
from server.core.auth import Role
from server.core.context import Context
from server.core.web import CTX
from server.settings import Settings
from server.topics import actions as topics
from server.topics.model import TopicStatus
from tests.conftest import make_settings
from tests.factories import PASSWORD, City, make_city, make_staff, submit


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, PUBLIC_BASE_URL="http://127.0.0.1")


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> TestServer:
    srv: TestServer = await aiohttp_server(create_app(settings))  # the real notifier
    return srv


async def session_cookie(server: TestServer, username: str) -> str:
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            server.make_url("/api/auth/login"), json={"username": username, "password": PASSWORD}
        )
        assert response.status == 200
        return f"msy_session={response.cookies['msy_session'].value}"


async def unitless_handler(ctx: Context, city: City) -> str:
    """A handler account that predates units (made straight in the table)."""
    principal = await make_staff(ctx, Role.HANDLER, city.town, username="handler.loose")
    async with ctx.db.write() as session:
        user = await session.get(StaffUser, principal.user_id)
        assert user is not None
        user.unit_id = None
    return principal.username


class Console:
    """A staff console: a socket.io client on /staff that records what it is sent."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

        @self.client.on("topic", namespace="/staff")
        async def on_topic(data: dict[str, Any]) -> None:
            self.events.append(data)
            self.arrived.set()

    async def connect(self, server: TestServer, cookie: str | None) -> None:
        headers = {"Cookie": cookie} if cookie else {}
        await self.client.connect(
            str(server.make_url("/")),
            namespaces=["/staff"],
            headers=headers,
            transports=["websocket"],
            wait_timeout=5,
        )


@pytest.fixture
async def consoles() -> AsyncIterator[list[Console]]:
    made: list[Console] = []
    yield made
    for console in made:
        await console.client.disconnect()


async def test_new_topics_reach_the_territorys_consoles_and_no_others(
    server: TestServer, consoles: list[Console]
) -> None:
    ctx = server.app[CTX]
    city: City = await make_city(ctx)
    county = await make_staff(ctx, Role.DISPATCHER, city.county)
    park = await make_staff(ctx, Role.DISPATCHER, city.other_county)
    mine, theirs = Console(), Console()
    consoles.extend([mine, theirs])
    await mine.connect(server, await session_cookie(server, county.username))
    await theirs.connect(server, await session_cookie(server, park.username))

    async with aiohttp.ClientSession() as phone:
        response = await phone.post(
            server.make_url(f"/api/rooms/{city.room.code}/topics"),
            json={
                "title": "电梯坏了",
                "description": "二号楼电梯坏了三天了，老人上下楼很困难。",
                "kind": "demand",
                "phone": "13812341234",
                "consent": True,
            },
        )
        assert response.status == 201
        number = (await response.json())["number"]

    await asyncio.wait_for(mine.arrived.wait(), 5)
    [event] = mine.events
    assert event["type"] == "topic" and event["op"] == "submitted"
    assert event["topic"]["number"] == number
    assert event["topic"]["submitter"]["phone"] == "138****1234"
    await asyncio.sleep(0.3)  # long enough for a misrouted event to have arrived
    assert theirs.events == []


async def test_handlers_consoles_get_their_units_topics_only(
    server: TestServer, consoles: list[Console]
) -> None:
    ctx = server.app[CTX]
    city = await make_city(ctx)
    relay = await accounts.create_unit(
        ctx, None, name="中转", kind=UnitKind.RELAY, region_id=city.county.id
    )
    town = await accounts.create_unit(
        ctx, None, name="街道办", kind=UnitKind.TOWN, region_id=city.town.id
    )
    other = await accounts.create_unit(
        ctx, None, name="别的办", kind=UnitKind.TOWN, region_id=city.town.id
    )
    mine = await make_staff(ctx, Role.HANDLER, city.town, unit_id=town.id)
    theirs = await make_staff(
        ctx, Role.HANDLER, city.town, username="handler.other", unit_id=other.id
    )
    admin = await make_staff(ctx, Role.ADMIN, city.city)
    done = await submit(ctx, city.room)
    await topics.move_topic(ctx, admin, done.topic_id, TopicStatus.ACCEPTED, version=1)
    await topics.route_topic(ctx, admin, done.topic_id, version=2, unit_id=relay.id)
    mine_console, their_console = Console(), Console()
    consoles.extend([mine_console, their_console])
    await mine_console.connect(server, await session_cookie(server, mine.username))
    await their_console.connect(server, await session_cookie(server, theirs.username))
    await topics.route_topic(ctx, admin, done.topic_id, version=3, unit_id=town.id)
    await asyncio.wait_for(mine_console.arrived.wait(), 5)
    [event] = mine_console.events
    assert event["op"] == "moved" and event["topic"]["status"] == "assigned"
    assert event["topic"]["unit_id"] == town.id
    await asyncio.sleep(0.3)
    assert their_console.events == []


@pytest.mark.parametrize("who", ["anonymous", "forged", "handler_without_unit"])
async def test_connections_without_a_right_to_see_topics_are_refused(
    server: TestServer, who: str
) -> None:
    ctx = server.app[CTX]
    city = await make_city(ctx)
    cookie = {
        "anonymous": None,
        "forged": "msy_session=forged-token",
        "handler_without_unit": await session_cookie(server, await unitless_handler(ctx, city)),
    }[who]
    console = Console()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await console.connect(server, cookie)
    await console.client.disconnect()
