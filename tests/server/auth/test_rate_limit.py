"""Login rate limits: in one process's memory, or shared by every process through real Redis."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.auth.rate_limit import MemoryRateLimiter, RedisRateLimiter
from server.keys import DB_SESSIONS
from tests.conftest import make_settings
from tests.support.factories import make_nucleo, make_professional
from tests.support.redis import running_redis


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


async def test_the_memory_window_refuses_the_attempt_past_the_limit_under_any_key() -> None:
    limiter = MemoryRateLimiter(per_minute=3)
    assert [await limiter.hit("ip:a", "cpf:x") for _ in range(3)] == [True] * 3
    assert await limiter.hit("ip:a", "cpf:x") is False
    # a fresh CPF from the same address is still refused: the address is over its limit
    assert await limiter.hit("ip:a", "cpf:y") is False
    assert await limiter.hit("ip:b", "cpf:z") is True


async def test_the_memory_window_slides(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("server.auth.rate_limit.time.monotonic", lambda: now[0])
    limiter = MemoryRateLimiter(per_minute=2, window_s=60)
    assert await limiter.hit("k") and await limiter.hit("k")
    assert not await limiter.hit("k")
    now[0] += 61
    assert await limiter.hit("k")


async def test_two_processes_on_one_redis_share_one_window(redis_url: str) -> None:
    first = RedisRateLimiter(aioredis.Redis.from_url(redis_url), per_minute=4, prefix="t1")
    second = RedisRateLimiter(aioredis.Redis.from_url(redis_url), per_minute=4, prefix="t1")
    try:
        results = [await (first if i % 2 else second).hit("cpf:abc") for i in range(5)]
        assert results == [True, True, True, True, False]
        # another key, and the same key under another prefix (another deployment), are free
        assert await first.hit("cpf:other")
        third = RedisRateLimiter(aioredis.Redis.from_url(redis_url), per_minute=4, prefix="t2")
        assert await third.hit("cpf:abc")
        await third.close()
    finally:
        await first.close()
        await second.close()


async def test_the_redis_window_expires_its_keys(redis_url: str) -> None:
    limiter = RedisRateLimiter(
        aioredis.Redis.from_url(redis_url), per_minute=1, window_s=0.3, prefix="t3"
    )
    try:
        assert await limiter.hit("k")
        assert not await limiter.hit("k")
        ttl = await limiter.redis.pttl("t3:k")
        assert 0 < ttl <= 300
    finally:
        await limiter.close()


def _dead_redis_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there any more


async def test_with_redis_down_each_process_still_limits_on_its_own() -> None:
    limiter = RedisRateLimiter(aioredis.Redis.from_url(_dead_redis_url()), per_minute=2)
    try:
        assert [await limiter.hit("cpf:x") for _ in range(3)] == [True, True, False]
    finally:
        await limiter.close()


async def test_logins_through_two_app_processes_count_against_one_limit(
    sqlite_url: str, tmp_path: Path, redis_url: str, aiohttp_client: Any
) -> None:
    """Ten wrong passwords spread over two processes: the eleventh attempt is refused by
    either of them (with a per-process window each would still accept ten more)."""
    settings = make_settings(sqlite_url, tmp_path, redis_url=redis_url)
    one: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    two: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    async with one.app[DB_SESSIONS].begin() as db:
        nucleo = await make_nucleo(db)
        pro = await make_professional(db, nucleo=nucleo, name="Dra. Ana")
    statuses = []
    for i in range(10):
        client = one if i % 2 else two
        response = await client.post("/api/auth/login", json={"cpf": pro.cpf, "password": "x"})
        statuses.append(response.status)
    assert statuses == [401] * 10
    for client in (one, two):
        response = await client.post("/api/auth/login", json={"cpf": pro.cpf, "password": "x"})
        assert response.status == 429
    redis = aioredis.Redis.from_url(redis_url)
    keys = [key async for key in redis.scan_iter("*ratelimit*")]
    await redis.aclose()
    assert keys and not any(pro.cpf.encode() in key for key in keys)  # no CPF in clear
