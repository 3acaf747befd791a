"""Scale-out: two real server processes on one PostgreSQL and one Redis.

A comment posted through one process reaches a viewer connected to the other (the
socket.io Redis manager), a second vote by the same identity through the other process
is refused (the database's unique constraint), and one identity's comment rate limit is
shared by both (Redis counters).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from server.core.clock import FakeClock
from server.core.context import Context
from server.core.notifier import RecordingNotifier
from tests.conftest import _fresh_postgres, _pg_url, context_for, make_settings, redis_url
from tests.deliberations.live_helpers import LiveClient, Session, live_session
from tests.factories import PASSWORD, make_city
from tests.processes import free_port, stop, wait_healthy

BIN = Path(sys.executable).parent


@dataclass
class Node:
    base_url: str

    def make_url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    database = _pg_url()
    await _fresh_postgres(database)
    url = redis_url()
    client = aioredis.from_url(url)
    await client.flushdb()
    await client.aclose()
    yield database, url


@pytest.fixture
def nodes(shared: tuple[str, str], tmp_path: Path) -> Iterator[list[Node]]:
    database, redis = shared
    procs: list[subprocess.Popen[bytes]] = []
    made: list[Node] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASHANGYI_")}
    env.update(
        MASHANGYI_DATA_DIR=str(tmp_path / "var"),
        MASHANGYI_RECORDINGS_DIR=str(tmp_path / "recordings"),
        MASHANGYI_DATABASE_URL=database,
        MASHANGYI_REDIS_URL=redis,
        MASHANGYI_SECRET_KEY="x" * 40,
        MASHANGYI_LIVE_BATCH_MS="50",
        MASHANGYI_LOG_LEVEL="WARNING",
        MASHANGYI_REMINDER_SECONDS="0",
    )
    try:
        for i in range(2):
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            log = tmp_path / f"node{i}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [str(BIN / "mashangyi"), "serve", "--port", str(port), "--quiet"],
                    env={**env, "MASHANGYI_PUBLIC_BASE_URL": base_url},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append(proc)
            wait_healthy(base_url, proc, log)
            made.append(Node(base_url))
        yield made
    finally:
        for proc in procs:
            stop(proc)


@pytest.fixture
async def ctx(shared: tuple[str, str], tmp_path: Path) -> AsyncIterator[Context]:
    database, _ = shared
    settings = make_settings(tmp_path / "setup", database, SECRET_KEY="x" * 40)
    async with context_for(settings, FakeClock(), RecordingNotifier()) as made:
        yield made


async def test_two_processes_share_comments_votes_and_rate_limits(
    ctx: Context, nodes: list[Node]
) -> None:
    city = await make_city(ctx)
    session: Session = await live_session(ctx, city)
    one, two = nodes
    clients: list[LiveClient] = []
    try:
        viewer = LiveClient()
        clients.append(viewer)
        await viewer.connect(one, session.id, device="viewer-on-one")  # type: ignore[arg-type]
        await viewer.sync()
        poster = LiveClient()
        clients.append(poster)
        await poster.connect(two, session.id, device="poster-on-two")  # type: ignore[arg-type]
        posted = await poster.call("comment", "post", body="从二号进程发出的意见")
        assert posted["ok"], posted
        arrived = await viewer.wait_for(
            lambda: [c for c in viewer.comments() if c["id"] == posted["comment"]["id"]]
        )
        assert arrived[0]["body"] == "从二号进程发出的意见"

        # The host opens a poll through process one; a device votes there, then again
        # through process two: refused.
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                one.make_url("/api/auth/login"),
                json={"username": session.host.username, "password": PASSWORD},
            )
            assert response.status == 200
            cookie = f"msy_session={response.cookies['msy_session'].value}"
        host = LiveClient()
        clients.append(host)
        await host.connect(one, session.id, cookie=cookie)  # type: ignore[arg-type]
        made = await host.call("poll", "create", question="同意加装吗？", options=["同意", "反对"])
        poll_id, yes = made["poll"]["id"], made["poll"]["options"][0]["id"]
        assert (await host.call("poll", "open", id=poll_id))["ok"]
        voter_one, voter_two = LiveClient(), LiveClient()
        clients += [voter_one, voter_two]
        await voter_one.connect(one, session.id, device="same-device-01")  # type: ignore[arg-type]
        await voter_two.connect(two, session.id, device="same-device-01")  # type: ignore[arg-type]
        assert (await voter_one.call("poll", "vote", id=poll_id, choices=[yes]))["ok"]
        again = await voter_two.call("poll", "vote", id=poll_id, choices=[yes])
        assert again["error"]["code"] == "conflict"
        # The tally reaches the viewer on the other process, exact.
        await viewer.wait_for(
            lambda: [b for b in viewer.batches() if (b.get("tally") or {}).get("ballots") == 1]
        )
        closed = await host.call("poll", "close", id=poll_id)
        assert closed["poll"]["tally"]["ballots"] == 1

        # One identity's comment budget (5 per 30 s) is spent across both processes. The
        # windows are aligned to the epoch: start well inside one.
        if time.time() % 30 > 25:
            await asyncio.sleep(30 - time.time() % 30 + 0.1)
        results = []
        for i in range(6):
            client = voter_one if i % 2 == 0 else voter_two
            results.append(await client.call("comment", "post", body=f"第{i}条"))
        assert [r["ok"] for r in results] == [True] * 5 + [False]
        assert results[-1]["error"]["code"] == "rate_limited"
    finally:
        for c in clients:
            await c.close()
