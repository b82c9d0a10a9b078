"""Rate limits kept in Redis, so that every process counts against the same numbers.

- ``RateLimiter``: requests per key (an address, an IP) in a sliding window, for the web
  (sign-ups, admin sign-in).
- ``SendRateLimiter``: one sending rate for the whole fleet of mail workers (a token
  bucket per second and per hour).

The web limiter
---------------

A sliding-window rate limiter in Redis, shared by every web process.

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


# -- the fleet's sending rate -------------------------------------------------------------
_TAKE = """
-- KEYS[1]: bucket hash; ARGV: per_second, per_hour, n
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = tonumber(ARGV[3])
local buckets = {{'s', tonumber(ARGV[1]), 1}, {'h', tonumber(ARGV[2]), 3600}}
local wait = 0
local level = {}
for i, b in ipairs(buckets) do
  local name, rate, span = b[1], b[2], b[3]
  if rate > 0 then
    local cap = rate  -- a second's (or an hour's) worth
    local tokens = tonumber(redis.call('HGET', KEYS[1], name .. ':tokens') or cap)
    local ts = tonumber(redis.call('HGET', KEYS[1], name .. ':ts') or now)
    tokens = math.min(cap, tokens + (now - ts) * rate / span)
    level[i] = tokens
    if tokens < n then
      wait = math.max(wait, (n - tokens) * span / rate)
    end
  end
end
if wait > 0 then return tostring(wait) end
for i, b in ipairs(buckets) do
  if b[2] > 0 then
    redis.call('HSET', KEYS[1], b[1] .. ':tokens', tostring(level[i] - n),
               b[1] .. ':ts', tostring(now))
  end
end
redis.call('EXPIRE', KEYS[1], 7200)
return '0'
"""


class SendRateLimiter:
    """One sending rate for the whole fleet: a token bucket in Redis shared by every worker.

    Two buckets in one hash, refilled continuously from Redis ``TIME``: one per second (burst
    = one second's worth) and one per hour (a provider's hourly quota). A take succeeds only
    when both have enough tokens; otherwise it says how long to wait. A rate of 0 means no
    limit. ``take(n)`` blocks until ``n`` sends are allowed fleet-wide (no-op when unlimited)."""

    def __init__(
        self, client: redis.Redis, prefix: str, per_second: float = 0, per_hour: float = 0
    ) -> None:
        self.key = f"{prefix}mail:{{rate}}"
        self.per_second = per_second
        self.per_hour = per_hour
        self._script = client.register_script(_TAKE)

    @property
    def unlimited(self) -> bool:
        return self.per_second <= 0 and self.per_hour <= 0

    def try_take(self, n: int = 1) -> float:
        """Take ``n`` tokens now and return 0, or return the seconds to wait (nothing taken).

        ``n`` must not exceed either bucket's capacity (``chunk`` gives a safe size)."""
        if self.unlimited:
            return 0.0
        wait = float(self._script(keys=[self.key], args=[self.per_second, self.per_hour, n]))
        return wait

    def chunk(self, wanted: int) -> int:
        """The most tokens one take may ask for: at most a tenth of a second's worth."""
        if self.per_second > 0:
            wanted = min(wanted, max(1, int(self.per_second / 10)))
        if self.per_hour > 0:
            wanted = min(wanted, max(1, int(self.per_hour)))
        return max(1, wanted)

    def take(self, n: int = 1, max_wait: float = 3600.0) -> bool:
        """Wait until ``n`` tokens were taken; False if that would take over ``max_wait``."""
        waited = 0.0
        while True:
            wait = self.try_take(n)
            if wait <= 0:
                return True
            if waited + wait > max_wait:
                return False
            time.sleep(min(wait, 1.0))
            waited += min(wait, 1.0)
