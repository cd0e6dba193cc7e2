"""The shared Redis connection (sessions, throttles, one-time codes)."""

from __future__ import annotations

from redis.asyncio import Redis

from marketplace.settings import settings

_redis: Redis | None = None


def redis() -> Redis:
    global _redis
    if _redis is None:
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL is not set")
        _redis = Redis.from_url(settings.redis_url, decode_responses=True)
    return _redis


async def close() -> None:
    global _redis
    if _redis is not None:
        await _redis.aclose()
        _redis = None
