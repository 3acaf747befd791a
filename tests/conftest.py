"""Shared fixtures: real databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set),
a fake clock, a recording notifier, and helpers that set data up through the real actions."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import text

from server import migrations
from server.app import create_app
from server.core import auth
from server.core.clock import FakeClock
from server.core.context import Context
from server.core.db import Database
from server.core.files import FileStore
from server.core.notifier import RecordingNotifier
from server.core.ratelimit import MemoryRateLimiter
from server.core.web import CTX
from server.outcomes import actions as outcomes
from server.settings import Settings
from tests.factories import City, make_city
from tests.http_helpers import OPEN_SESSIONS

PG_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("MASHANGYI_REQUIRE_SERVICES") == "1"

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest: the same code path, without 50 ms per hash."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def _pg_url() -> str:
    if not PG_URL:
        if REQUIRE_SERVICES:
            pytest.fail("TEST_DATABASE_URL is required (MASHANGYI_REQUIRE_SERVICES=1)")
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run")
    return Settings.from_env({"MASHANGYI_DATABASE_URL": PG_URL}, base_dir=Path("/tmp")).database_url


def redis_url() -> str:
    if not REDIS_URL:
        if REQUIRE_SERVICES:
            pytest.fail("TEST_REDIS_URL is required (MASHANGYI_REQUIRE_SERVICES=1)")
        pytest.skip("Redis: set TEST_REDIS_URL to run")
    return REDIS_URL


async def reset_postgres(url: str) -> None:
    """An empty public schema, migrated to head: each test starts from nothing."""
    db = Database(url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await db.close()
    await migrations.upgrade(url)


_pg_template_ready = False


async def _fresh_postgres(url: str) -> None:
    global _pg_template_ready
    if not _pg_template_ready:
        await reset_postgres(url)
        _pg_template_ready = True
        return
    db = Database(url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            tables = ", ".join(t.name for t in migrations.target_metadata().sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await db.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> str:
    if backend == "postgresql":
        url = _pg_url()
        await _fresh_postgres(url)
        return url
    url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    await migrations.upgrade(url)
    return url


def make_settings(tmp_path: Path, database_url: str, **overrides: str) -> Settings:
    """Settings for one test: its own folders and database; ``overrides`` without the prefix."""
    env = {
        "MASHANGYI_DATA_DIR": str(tmp_path / "var"),
        "MASHANGYI_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "MASHANGYI_DATABASE_URL": database_url,
        "MASHANGYI_PUBLIC_BASE_URL": "https://msy.example.cn",
        "MASHANGYI_SECRET_KEY": "x" * 40,
        # Tests run the reminder sweep themselves, after moving the clock, and publish
        # monthly disclosures themselves.
        "MASHANGYI_REMINDER_SECONDS": "0",
        "MASHANGYI_DISCLOSURE_CHECK_SECONDS": "0",
    }
    env.update({f"MASHANGYI_{name}": value for name, value in overrides.items()})
    return Settings.from_env(env, base_dir=tmp_path)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@asynccontextmanager
async def context_for(
    settings: Settings, clock: FakeClock, notifier: RecordingNotifier | None = None
) -> AsyncIterator[Context]:
    """A Context of its own (its own engine: another process, as far as the database can
    tell) on these settings."""
    db = Database(settings.database_url)
    try:
        context = Context(
            settings=settings,
            db=db,
            clock=clock,
            notifier=notifier or RecordingNotifier(),
            limiter=MemoryRateLimiter(clock),
            files=FileStore(settings.uploads_dir),
        )
        outcomes.install(context)
        yield context
    finally:
        await db.close()


@pytest.fixture
async def ctx(
    settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> AsyncIterator[Context]:
    async with context_for(settings, clock, notifier) as context:
        yield context


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


@pytest.fixture
def no_leftover_files(settings: Settings) -> Iterator[None]:
    yield
    assert files_under(settings.uploads_dir) == []


# --- the app over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def web_settings(tmp_path: Path, database_url: str) -> Settings:
    """Plain http, so the test client sends the cookies back; small photos keep bodies small."""
    return make_settings(
        tmp_path,
        database_url,
        PUBLIC_BASE_URL="http://msy.example.cn",
        MAX_PHOTO_BYTES=str(256 * 1024),
        RATE_LIMIT_DEVICE="3/600",
    )


@pytest.fixture
async def client(
    aiohttp_client: Any, web_settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(web_settings, clock=clock, notifier=notifier)
    )
    return client


@pytest.fixture
async def city(client: TestClient[Any, Any]) -> City:
    return await make_city(client.app[CTX])


@pytest.fixture
async def resident(client: TestClient[Any, Any]) -> AsyncIterator[aiohttp.ClientSession]:
    """A phone: keeps the device cookie the room page sets."""
    async with aiohttp.ClientSession(
        base_url=client.make_url("/"), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        yield session


@pytest.fixture(autouse=True)
async def _close_staff_sessions() -> AsyncIterator[None]:
    yield
    while OPEN_SESSIONS:
        await OPEN_SESSIONS.pop().close()
