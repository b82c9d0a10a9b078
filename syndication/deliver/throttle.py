"""One sending rate for the whole fleet: a token bucket in Redis shared by every worker.

Two buckets in one hash, refilled continuously from Redis ``TIME``: one per second (burst =
one second's worth) and one per hour (a provider's hourly quota). A take succeeds only when
both have enough tokens; otherwise it says how long to wait. A rate of 0 means no limit.
"""

from __future__ import annotations

import time

import redis

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


class RateLimiter:
    """``take(n)`` blocks until ``n`` sends are allowed fleet-wide (no-op when unlimited)."""

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
