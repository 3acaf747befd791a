"""Helpers for tests that talk to the app over HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from server.core.auth import Role
from server.core.context import Context
from server.core.web import CTX
from server.rooms.actions import RegionView
from tests.factories import PASSWORD, make_staff


def ctx_of(client: TestClient[Any, Any]) -> Context:
    return client.app[CTX]  # type: ignore[index]


class Staff:
    """A logged-in staff browser: its own cookie jar and CSRF token."""

    def __init__(
        self, client: TestClient[Any, Any], session: aiohttp.ClientSession, csrf: str
    ) -> None:
        self.client = client
        self.session = session
        self.csrf = csrf

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def get(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        return await self.session.get(self.url(path), allow_redirects=False, **kw)

    async def post(
        self, path: str, *, csrf: bool = True, headers: dict[str, str] | None = None, **kw: Any
    ) -> aiohttp.ClientResponse:
        merged = {**(headers or {}), **({"X-CSRF-Token": self.csrf} if csrf else {})}
        return await self.session.post(self.url(path), headers=merged, **kw)

    async def patch(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        return await self.session.patch(self.url(path), headers={"X-CSRF-Token": self.csrf}, **kw)


# Sessions opened by `login`; the conftest closes any left open after each test.
OPEN_SESSIONS: list[aiohttp.ClientSession] = []


async def login(client: TestClient[Any, Any], username: str, password: str = PASSWORD) -> Staff:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    OPEN_SESSIONS.append(session)
    response = await session.post(
        client.make_url("/api/auth/login"), json={"username": username, "password": password}
    )
    assert response.status == 200, await response.text()
    data = await response.json()
    return Staff(client, session, data["csrf_token"])


async def staff(client: TestClient[Any, Any], role: Role, region: RegionView) -> Staff:
    principal = await make_staff(ctx_of(client), role, region)
    return await login(client, principal.username)
