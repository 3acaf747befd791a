from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from server.core.clock import FakeClock
from server.core.errors import RateLimited
from server.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter, enforce
from tests.conftest import redis_url


async def exercise(limiter: RateLimiter, clock: FakeClock) -> None:
    key = f"k-{secrets.token_hex(4)}"
    for _ in range(3):
        assert (await limiter.hit(key, 3, 60)).allowed
    refused = await limiter.hit(key, 3, 60)
    assert not refused.allowed and 1 <= refused.retry_after <= 60
    assert (await limiter.hit(key + "-other", 3, 60)).allowed
    clock.advance(timedelta(seconds=refused.retry_after))
    assert (await limiter.hit(key, 3, 60)).allowed
    with pytest.raises(RateLimited) as caught:
        await enforce(limiter, [(key, 1, 60), (key + "-x", 5, 60)])
    assert caught.value.retry_after >= 1


async def test_memory_limiter() -> None:
    clock = FakeClock()
    await exercise(MemoryRateLimiter(clock), clock)


async def test_redis_limiter_is_shared_between_processes() -> None:
    url = redis_url()
    clock = FakeClock()
    first = RedisRateLimiter(aioredis.from_url(url), clock, prefix=f"test-{secrets.token_hex(4)}:")
    try:
        await exercise(first, clock)
        # A second limiter (another process in production) sees the same counts.
        second = RedisRateLimiter(aioredis.from_url(url), clock, prefix=first._prefix)
        key = "shared"
        for _ in range(2):
            assert (await first.hit(key, 3, 60)).allowed
        assert (await second.hit(key, 3, 60)).allowed
        assert not (await second.hit(key, 3, 60)).allowed
        assert not (await first.hit(key, 3, 60)).allowed
        await second.close()
    finally:
        await first.close()


async def test_pruning_keeps_live_windows_of_every_length(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    monkeypatch.setattr(MemoryRateLimiter, "MAX_KEYS", 10)
    for _ in range(3):
        assert (await limiter.hit("device", 3, 3600)).allowed
    for i in range(20):  # short-window keys push the table over its size
        await limiter.hit(f"login-{i}", 5, 300)
    clock.advance(timedelta(seconds=301))
    await limiter.hit("login-new", 5, 300)  # prunes: the hour-long window must survive
    assert not (await limiter.hit("device", 3, 3600)).allowed


async def test_a_refusal_does_not_count_against_the_later_keys() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    await limiter.hit("ip", 1, 60)
    for _ in range(5):
        with pytest.raises(RateLimited):
            await enforce(limiter, [("ip", 1, 60), ("device", 1, 60)])
    assert (await limiter.hit("device", 1, 60)).allowed
