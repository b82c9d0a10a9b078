"""A sliding-window rate limiter in Redis, shared by every web process.

Two fixed-window counters (this window and the last) give the sliding estimate
``previous × (share of the last window still inside the sliding one) + current`` — the
approximation Cloudflare and nginx-style limiters use: O(1) memory per key, no bursts of
2× at a window edge as with one fixed window. The check and the increment are one Lua call,
so concurrent requests cannot both take the last slot. Both counters of a key share a hash
tag, so the script also runs on Redis Cluster. A refused call is not counted: a client that
keeps hammering does not push its own retry time further out.
"""

from __future__ import annotations

import hashlib
import math
import time

import redis

_SCRIPT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
if prev * tonumber(ARGV[2]) + cur >= limit then
  return {0, cur, prev}
end
cur = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, cur, prev}
"""


class RateLimiter:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.prefix = prefix
        self._script = client.register_script(_SCRIPT)

    def allow(
        self, key: str, limit: int, window_s: int, now: float | None = None
    ) -> tuple[bool, int]:
        """Count one event for ``key``: ``(allowed, retry_after_seconds)`` (0 when allowed).

        ``key`` may be anything (an IP, an address): it is hashed, so it never reaches a
        Redis key name raw. ``now`` is for tests; the web processes share the wall clock.
        """
        if limit <= 0:
            return False, window_s
        t = time.time() if now is None else now
        index, offset = divmod(t, window_s)
        tag = hashlib.sha256(key.encode()).hexdigest()[:32]
        base = f"{self.prefix}rl:{{{tag}}}:{window_s}:"
        weight = 1.0 - offset / window_s
        allowed, cur, prev = self._script(
            keys=[f"{base}{int(index)}", f"{base}{int(index) - 1}"],
            args=[limit, repr(weight), window_s * 2000],
        )
        if allowed:
            return True, 0
        return False, _retry_after(int(cur), int(prev), limit, window_s, offset)


def _retry_after(cur: int, prev: int, limit: int, window: int, offset: float) -> int:
    """Whole seconds until the sliding estimate is below ``limit`` (if nothing else arrives).

    At the exact boundary the estimate equals the limit and is still refused, hence
    ``floor + 1`` rather than ``ceil``.
    """
    if cur < limit and prev > 0:
        # Still in this window: wait until enough of the previous one has slid out.
        wait = window * (1 - (limit - cur) / prev) - offset
        if wait < window - offset:
            return max(1, math.floor(wait) + 1)
    # In the next window this window's count becomes the "previous" one.
    rest = window - offset
    extra = window * (1 - limit / cur) if cur > limit else 0.0
    return max(1, math.floor(rest + extra) + 1)
