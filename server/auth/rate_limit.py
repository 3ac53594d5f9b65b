"""Sliding-window limits on login attempts, per process or shared by every process via Redis.

One process counts in memory. Behind a load balancer each process would count only the
attempts that reach it, multiplying the limit by the number of workers, so with
``TELESSAUDE_REDIS_URL`` set the window lives in Redis (a sorted set of attempt times per key)
and every process sees every attempt. Keys never carry a CPF in clear: the caller passes a
fingerprint (`server.auth.login.cpf_fingerprint`).

When Redis cannot be reached the limiter falls back to its own in-memory window for that
attempt rather than refusing every login (a Redis outage must not lock the whole state out)
or letting guesses through unbounded.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict, deque
from typing import Protocol

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def hit(self, *keys: str) -> bool:
        """Count one attempt under every key; False when any key is over the limit."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """The window in this process's memory."""

    def __init__(self, per_minute: int, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    async def hit(self, *keys: str) -> bool:
        return self.hit_now(*keys)

    def hit_now(self, *keys: str) -> bool:
        now = time.monotonic()
        allowed = True
        for key in keys:
            hits = self._hits[key]
            while hits and now - hits[0] > self.window_s:
                hits.popleft()
            if len(hits) >= self.per_minute:
                allowed = False
            hits.append(now)
        if len(self._hits) > 10_000:
            self._forget_idle(now)
        return allowed

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or now - v[-1] > self.window_s]:
            del self._hits[key]

    async def close(self) -> None:
        self._hits.clear()


class RedisRateLimiter:
    """The window in Redis, shared by every process that uses the same Redis and prefix."""

    def __init__(
        self,
        redis: aioredis.Redis,
        per_minute: int,
        window_s: float = 60.0,
        prefix: str = "telessaude:ratelimit",
    ) -> None:
        self.redis = redis
        self.per_minute = per_minute
        self.window_s = window_s
        self.prefix = prefix
        self._fallback = MemoryRateLimiter(per_minute, window_s)

    async def hit(self, *keys: str) -> bool:
        now = time.time()
        window_ms = int(self.window_s * 1000)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for key in keys:
                    name = f"{self.prefix}:{key}"
                    # drop attempts older than the window, count the rest, then add this one
                    # (with a unique member: two attempts in the same microsecond both count)
                    pipe.zremrangebyscore(name, 0, now - self.window_s)
                    pipe.zcard(name)
                    pipe.zadd(name, {f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
                    pipe.pexpire(name, window_ms)
                results = await pipe.execute()
        except (RedisError, OSError):
            logger.warning("login rate limit: Redis unreachable, limiting in this process only")
            return self._fallback.hit_now(*keys)
        counts = results[1::4]
        return all(int(count) < self.per_minute for count in counts)

    async def close(self) -> None:
        await self.redis.aclose()


LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)


def login_limiter(per_minute: int, redis_url: str) -> RateLimiter:
    """Redis-backed when the deployment has Redis, in memory otherwise."""
    if redis_url:
        return RedisRateLimiter(aioredis.Redis.from_url(redis_url), per_minute)
    return MemoryRateLimiter(per_minute)
