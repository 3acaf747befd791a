"""Who is in a live room, summed over every process.

Each process knows only its own connections. It reports its counts per room; the total
is the sum over processes whose report is fresh, so a process that dies stops counting
within ``STALE_SECONDS`` instead of haunting the room. In one process (no Redis) the
board is that process's own counts.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any, Protocol

STALE_SECONDS = 30


class PresenceBoard(Protocol):
    async def report(self, room: str, counts: dict[str, int]) -> None: ...

    async def total(self, room: str) -> dict[str, int]: ...

    async def close(self) -> None: ...


class LocalPresence:
    def __init__(self) -> None:
        self._counts: dict[str, dict[str, int]] = {}

    async def report(self, room: str, counts: dict[str, int]) -> None:
        self._counts[room] = dict(counts)

    async def total(self, room: str) -> dict[str, int]:
        return dict(self._counts.get(room, {}))

    async def close(self) -> None:
        self._counts.clear()


class RedisPresence:
    """One Redis hash per room: a field per process, holding its counts and when."""

    def __init__(self, redis: Any, *, prefix: str = "msy:presence:") -> None:
        self._redis = redis
        self._prefix = prefix
        self.node = uuid.uuid4().hex[:12]

    async def report(self, room: str, counts: dict[str, int]) -> None:
        key = self._prefix + room
        value = json.dumps({"at": time.time(), "counts": counts})
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, self.node, value)
            pipe.expire(key, STALE_SECONDS * 4)
            await pipe.execute()

    async def total(self, room: str) -> dict[str, int]:
        fields = await self._redis.hgetall(self._prefix + room)
        now = time.time()
        total: Counter[str] = Counter()
        for raw in fields.values():
            try:
                report = json.loads(raw)
            except ValueError:
                continue
            if now - float(report.get("at", 0)) <= STALE_SECONDS:
                total.update({k: int(v) for k, v in report.get("counts", {}).items()})
        return dict(total)

    async def close(self) -> None:
        await self._redis.aclose()
