"""Fixed-window rate limits: in process by default, in Redis when configured.

Windows are aligned to the epoch, so every process that shares a Redis counts
the same window for the same key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from server.core.clock import Clock
from server.core.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: int


class RateLimiter(Protocol):
    async def hit(self, key: str, count: int, seconds: int) -> Decision: ...

    async def close(self) -> None: ...


def _window(now: float, seconds: int) -> tuple[int, int]:
    index = int(now // seconds)
    retry_after = max(1, math.ceil((index + 1) * seconds - now))
    return index, retry_after


class MemoryRateLimiter:
    MAX_KEYS = 100_000

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int, int], int] = {}
        self._next_prune = 0.0

    async def hit(self, key: str, count: int, seconds: int) -> Decision:
        now = self._clock.now().timestamp()
        index, retry_after = _window(now, seconds)
        if len(self._counts) > self.MAX_KEYS and now >= self._next_prune:
            # Drop windows that have ended, each by its own length; at most once a second,
            # so a flood of fresh keys cannot make every request pay for a full sweep.
            self._counts = {k: v for k, v in self._counts.items() if k[2] >= int(now // k[1])}
            self._next_prune = now + 1.0
        slot = (key, seconds, index)
        used = self._counts.get(slot, 0)
        if used >= count:
            return Decision(False, retry_after)
        self._counts[slot] = used + 1
        return Decision(True, 0)

    async def close(self) -> None:
        self._counts.clear()


class RedisRateLimiter:
    def __init__(self, redis: Any, clock: Clock, *, prefix: str = "msy:rl:") -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = prefix

    async def hit(self, key: str, count: int, seconds: int) -> Decision:
        now = self._clock.now().timestamp()
        index, retry_after = _window(now, seconds)
        name = f"{self._prefix}{key}:{seconds}:{index}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, seconds + 5)
            used, _ = await pipe.execute()
        if int(used) > count:
            return Decision(False, retry_after)
        return Decision(True, 0)

    async def close(self) -> None:
        await self._redis.aclose()


async def enforce(limiter: RateLimiter, checks: list[tuple[str, int, int]]) -> None:
    """Count one hit against each (key, count, seconds) in turn; raise RateLimited at the
    first that is spent (the later ones are not counted)."""
    for key, count, seconds in checks:
        decision = await limiter.hit(key, count, seconds)
        if not decision.allowed:
            raise RateLimited(
                "Too many requests; try again later.", retry_after=decision.retry_after
            )
