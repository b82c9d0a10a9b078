"""Pacing per destination: a token bucket and a back-off for each recipient domain, shared
by every mail worker through Redis (beside the fleet-wide ``SendRateLimiter``).

Gmail, Yahoo and Microsoft each throttle a sender on their own (``421 4.7.28``, ``451
4.7.0`` …): slowing the whole fleet for one of them would hold back every other domain,
and backing off per recipient would keep hammering the domain with the next ones. So:

- Domains are grouped (``googlemail.com`` is Gmail, ``hotmail.com`` and ``live.com`` are
  Outlook) and each group may have a rate (messages a second; 0: no limit of its own).
- A throttling answer ``throttled(group)`` pauses the group for a back-off that doubles
  with each throttle not separated by a success (capped), and halves its rate (down to
  ``min_factor`` of the configured one). Answers arriving while it is paused (messages that
  were already in flight) add nothing.
- Each success while the group is slowed gives back ``recover_step`` of the rate
  (additive increase, multiplicative decrease) and clears the back-off's doubling. A group
  without a rate of its own was only paused: its first success lets it go.

The time is the caller's (``clock``, seconds): the workers' clocks agree far better than
the back-offs are long, and a test moves its own clock instead of sleeping. A group that
is neither limited nor slowed costs no Redis call per message: ``slowed()`` is one small
read that the senders refresh about once a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import redis

# Big mailbox providers' domains → the group whose limits they share.
PROVIDER_GROUPS: dict[str, str] = {
    "googlemail.com": "gmail.com",
    "hotmail.com": "outlook.com",
    "live.com": "outlook.com",
    "msn.com": "outlook.com",
    "ymail.com": "yahoo.com",
    "rocketmail.com": "yahoo.com",
}
STATE_TTL_S = 86_400  # a group not heard of for a day starts afresh

_TAKE = """
-- KEYS[1]: the group's hash; ARGV: now, rate (0: none of its own), n
local now, rate, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'factor', 'until')
local pause_end = tonumber(h[4] or '0')
if now < pause_end then return {0, tostring(pause_end - now)} end
if rate <= 0 then return {n, '0'} end
local eff = rate * tonumber(h[3] or '1')
local cap = math.max(eff, 1)
local tokens = tonumber(h[1] or tostring(cap))
local ts = tonumber(h[2] or ARGV[1])
tokens = math.min(cap, tokens + math.max(0, now - ts) * eff)
local take = math.min(n, math.floor(tokens))
if take < 1 then return {0, tostring((1 - tokens) / eff)} end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - take), 'ts', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {take, '0'}
"""

_THROTTLED = """
-- KEYS[1]: the group's hash, KEYS[2]: the set of slowed groups;
-- ARGV: now, base back-off, cap, min factor, group, ttl. Returns the pause in seconds.
local now = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'factor', 'strikes', 'until')
local pause_end = tonumber(h[3] or '0')
if now < pause_end then return tostring(pause_end - now) end
local strikes = tonumber(h[2] or '0') + 1
local factor = math.max(tonumber(ARGV[4]), tonumber(h[1] or '1') / 2)
local pause = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ (strikes - 1))
redis.call('HSET', KEYS[1], 'factor', tostring(factor), 'strikes', strikes,
           'until', tostring(now + pause), 'tokens', '0', 'ts', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return tostring(pause)
"""

_SUCCEEDED = """
-- KEYS[1]: the group's hash, KEYS[2]: the set of slowed groups; ARGV: step, group, rate
local h = redis.call('HMGET', KEYS[1], 'factor', 'strikes')
if not h[1] and not h[2] then
  redis.call('SREM', KEYS[2], ARGV[2])
  return '1'
end
local factor = math.min(1, tonumber(h[1] or '1') + tonumber(ARGV[1]))
if tonumber(ARGV[3]) <= 0 then factor = 1 end  -- no rate of its own: the pause was all
redis.call('HSET', KEYS[1], 'factor', tostring(factor), 'strikes', 0)
if factor >= 1 then
  redis.call('HDEL', KEYS[1], 'factor', 'strikes')
  redis.call('SREM', KEYS[2], ARGV[2])
end
return tostring(factor)
"""


@dataclass(frozen=True)
class DomainState:
    """One group as the fleet sees it: its configured rate, the share of it in force, and
    how long it stays paused."""

    group: str
    rate: float
    factor: float
    paused_for: float
    strikes: int

    @property
    def effective_rate(self) -> float:
        return self.rate * self.factor


@dataclass(frozen=True)
class Backoff:
    """How a throttled group slows down and recovers."""

    base_s: float = 2.0
    cap_s: float = 300.0
    min_factor: float = 0.05
    recover_step: float = 0.05  # of the configured rate, per success while slowed


class DomainPacer:
    """Per-domain token buckets and back-offs in Redis (see the module docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        rates: Mapping[str, float] | None = None,
        groups: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.r = client
        self.base = f"{prefix}mail:{{pace}}:"
        self.rates = {k.lower(): v for k, v in (rates or {}).items() if v > 0}
        self.groups = {
            k.lower(): v.lower() for k, v in {**PROVIDER_GROUPS, **(groups or {})}.items()
        }
        self.backoff = backoff or Backoff()
        self.clock = clock
        self._take = client.register_script(_TAKE)
        self._throttled = client.register_script(_THROTTLED)
        self._succeeded = client.register_script(_SUCCEEDED)

    @property
    def slowed_key(self) -> str:
        return f"{self.base}slowed"

    def _key(self, group: str) -> str:
        return f"{self.base}g:{group}"

    def group_of(self, email: str) -> str:
        """The group an address's domain belongs to (the domain itself when ungrouped)."""
        domain = email.rpartition("@")[2].lower().rstrip(".")
        return self.groups.get(domain, domain)

    def limited(self, group: str) -> bool:
        """True when the group has a rate of its own (takes go to Redis)."""
        return group in self.rates

    def chunk(self, group: str) -> int:
        """Tokens one take may ask for: a tenth of a second's worth, at least one."""
        return max(1, int(self.rates.get(group, 0) / 10))

    def try_take(self, group: str, n: int = 1) -> tuple[int, float]:
        """Up to ``n`` sends for ``group`` now: ``(taken, 0)``, or ``(0, seconds to wait)``."""
        taken, wait = self._take(
            keys=[self._key(group)],
            args=[repr(self.clock()), self.rates.get(group, 0), n, STATE_TTL_S],
        )
        return int(taken), float(wait)

    def throttled(self, group: str) -> float:
        """The group's server asked us to slow down: pause and halve it; the pause (s)."""
        b = self.backoff
        pause = self._throttled(
            keys=[self._key(group), self.slowed_key],
            args=[repr(self.clock()), b.base_s, b.cap_s, b.min_factor, group, STATE_TTL_S],
        )
        return float(pause)

    def succeeded(self, group: str) -> float:
        """A message to a slowed group went through: give back some rate; the factor now."""
        return float(
            self._succeeded(
                keys=[self._key(group), self.slowed_key],
                args=[self.backoff.recover_step, group, self.rates.get(group, 0)],
            )
        )

    def slowed(self) -> set[str]:
        """The groups currently paused or below their full rate (one SMEMBERS)."""
        return {m.decode() if isinstance(m, bytes) else m for m in self.r.smembers(self.slowed_key)}

    def state(self, group: str) -> DomainState:
        factor, strikes, until = self.r.hmget(self._key(group), "factor", "strikes", "until")
        paused = max(0.0, float(until or 0) - self.clock())
        return DomainState(
            group,
            self.rates.get(group, 0.0),
            float(factor or 1),
            paused,
            int(strikes or 0),
        )
