"""Attempt limits that hold under parallel requests.

An attempt is counted (reserved) with one atomic Redis script BEFORE the password or code
is evaluated, so N simultaneous requests cannot all read "below the limit" and all be
evaluated: at most `max_attempts` per window ever reach the check.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.cache import redis

# Counts one attempt against every key; a key's window starts at its first attempt (a key
# somehow left without a TTL gets one, so nothing stays locked forever). Returns the
# longest wait in seconds among the keys over their limit, or 0 when all are within it.
_RESERVE = """
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local count = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if count == 1 or ttl < 0 then
    redis.call('EXPIRE', key, window)
    ttl = window
  end
  if count > limit and ttl > wait then
    wait = ttl
  end
end
return wait
"""

# Gives back one reserved attempt (a success that should not count), never below zero and
# never creating a key without a TTL.
_RELEASE = """
if redis.call('GET', KEYS[1]) and tonumber(redis.call('GET', KEYS[1])) > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Limit:
    key: str
    max_attempts: int
    window_seconds: int


async def reserve(*limits: Limit) -> int:
    """Count one attempt against every limit at once; the seconds to wait if any limit is
    exhausted (the attempt must then be refused unevaluated), else 0."""
    args: list[int] = []
    for limit in limits:
        args += [limit.max_attempts, limit.window_seconds]
    script = redis().register_script(_RESERVE)
    return int(await script(keys=[limit.key for limit in limits], args=args))


async def release(limit: Limit) -> None:
    await redis().register_script(_RELEASE)(keys=[limit.key])


async def clear(limit: Limit) -> None:
    await redis().delete(limit.key)
