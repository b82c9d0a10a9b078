"""The confirmation ledger: one small record per double opt-in request, so a confirmation
email is neither lost (SMTP down, greylisting, a worker or Redis restart) nor sent twice.

One record per subscriber holds that subscriber's current request (a newer request
replaces a finished one)::

    pending ──begin──► sending ──mark──► sent | failed | uncertain
       ▲                  │
       └──── 4xx / connection lost before DATA: retry at ``due_at``
    pending ──cancel──► cancelled   (the subscriber confirmed, left, or the mail cannot be built)
    sending ──lease passed──► uncertain   (the worker died during the transaction: never resent)

Keys (``{prefix}`` is the configured key prefix):

- ``{prefix}confirm:{<subscriber id>}``: the record (a hash). Every transition is one Lua
  script over this one key, so it is atomic and runs unchanged on Redis Cluster. The
  request id is ``<subscriber id>.<random>``: a task for an older request finds the id
  changed and does nothing.
- ``{prefix}{confirmations}:due`` (sorted set, subscriber id → when the record is next due)
  and ``{prefix}{confirmations}:open`` (→ when it was requested): the index the sweep and
  ``/healthz`` read. It lives in another slot than the records, so it is written in separate
  steps, in an order that keeps it a superset of the open records: added *before* a record
  is created, removed *after* it is finished; the sweep drops members whose record is
  finished and repairs stale scores.
- ``{prefix}{confirmations}:recent``: the last attempts' outcomes (``<time>|<outcome>``),
  newest first, for "are recent attempts all failing?".

Times are the service's clock (seconds since the epoch), passed in by the caller.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis


class ConfirmState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    CANCELLED = "cancelled"


OPEN = (ConfirmState.PENDING, ConfirmState.SENDING)
RECENT_KEPT = 50

# KEYS: record. ARGV: new request id, now, double-submit window (s), kick token.
# An open request, or one finished less than ``window`` seconds after it was made, is the
# answer to a repeated signup: no second record, no second message.
_REQUEST = """
local state = redis.call('HGET', KEYS[1], 'state')
if state then
  local id = redis.call('HGET', KEYS[1], 'id')
  if state == 'pending' or state == 'sending' then
    return {id, 0}
  end
  local created = tonumber(redis.call('HGET', KEYS[1], 'created_at') or '0')
  if tonumber(ARGV[2]) - created < tonumber(ARGV[3]) then
    return {id, 0}
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', 'pending', 'attempts', 0,
  'created_at', ARGV[2], 'due_at', ARGV[2], 'kick', ARGV[4], 'kick_at', ARGV[2])
return {ARGV[1], 1}
"""

# KEYS: record. ARGV: request id, now, lease (s), attempt token.
# The point of no return: after this the message may be delivered, so an expired lease
# makes it ``uncertain``, never ``pending`` again.
_BEGIN = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return {'superseded', '0'} end
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'pending' then return {state, '0'} end
local due = tonumber(redis.call('HGET', KEYS[1], 'due_at'))
if due > tonumber(ARGV[2]) then return {'not_due', tostring(due)} end
local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'state', 'sending', 'attempt', ARGV[4],
  'lease_until', tonumber(ARGV[2]) + tonumber(ARGV[3]), 'last_attempt_at', ARGV[2])
return {'ok', tostring(n)}
"""

# KEYS: record. ARGV: request id, attempt token, outcome, now, detail, due (retry), kick,
# kick_at, ttl of a finished record (s). The owner's late mark on an ``uncertain`` record
# still lands: the truth beats a guess.
_MARK = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 'superseded' end
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2] then return 'refused' end
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'sending' and state ~= 'uncertain' then return 'refused' end
if ARGV[3] == 'retry' then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'due_at', ARGV[6], 'last_error', ARGV[5],
    'kick', ARGV[7], 'kick_at', ARGV[8], 'attempt', '')
else
  redis.call('HSET', KEYS[1], 'state', ARGV[3], 'finished_at', ARGV[4], 'last_error', ARGV[5])
  redis.call('EXPIRE', KEYS[1], ARGV[9])
end
return 'ok'
"""

# KEYS: record. ARGV: request id, state (cancelled | failed), now, detail, ttl (s).
# A pending request that will not be attempted (nothing was offered to a server).
_FINISH_PENDING = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 'superseded' end
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 'refused' end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'finished_at', ARGV[3], 'last_error', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 'ok'
"""

# KEYS: record. ARGV: request id, now, detail, ttl (s). A begun attempt whose lease passed.
_EXPIRE_LEASE = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 'superseded' end
if redis.call('HGET', KEYS[1], 'state') ~= 'sending' then return 'refused' end
if tonumber(redis.call('HGET', KEYS[1], 'lease_until')) > tonumber(ARGV[2]) then
  return 'running'
end
redis.call('HSET', KEYS[1], 'state', 'uncertain', 'finished_at', ARGV[2], 'last_error', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 'ok'
"""

# KEYS: record. ARGV: request id, expected kick, now, lost after (s), new kick, kick_at.
# Who may queue the next task for a pending request: the holder of the current kick (a
# task that ran early and waits on), or anyone once the queued task is overdue by ``lost
# after`` (it was lost: a worker or the broker's Redis died). One chain per request.
_TAKE_KICK = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return '' end
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return '' end
local kick = redis.call('HGET', KEYS[1], 'kick')
local at = tonumber(redis.call('HGET', KEYS[1], 'kick_at') or '0')
if (ARGV[2] ~= '' and kick == ARGV[2]) or tonumber(ARGV[3]) > at + tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'kick', ARGV[5], 'kick_at', ARGV[6])
  return ARGV[5]
end
return ''
"""


@dataclass(frozen=True)
class ConfirmRecord:
    id: str
    subscriber_id: str
    state: ConfirmState
    attempts: int
    created_at: float
    due_at: float
    lease_until: float
    kick: str
    kick_at: float
    last_error: str
    last_attempt_at: float
    finished_at: float

    @property
    def open(self) -> bool:
        return self.state in OPEN

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state.value,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "due_at": self.due_at,
            "last_error": self.last_error,
            "last_attempt_at": self.last_attempt_at or None,
            "finished_at": self.finished_at or None,
        }


@dataclass(frozen=True)
class Requested:
    """A request's id and the kick its first task carries; ``created`` False when an
    earlier request answers this signup (a double submit): nothing new is queued."""

    request_id: str
    kick: str
    created: bool


@dataclass(frozen=True)
class Begun:
    status: str  # ok | superseded | not_due | pending/sending/sent/… (the state found)
    attempts: int = 0
    due_at: float = 0.0


def subscriber_of(request_id: str) -> str:
    return request_id.partition(".")[0]


def new_token() -> str:
    return secrets.token_hex(8)


def _s(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _f(value: bytes | str | None) -> float:
    text = _s(value)
    return float(text) if text else 0.0


class ConfirmationStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.prefix = prefix
        self._request = client.register_script(_REQUEST)
        self._begin = client.register_script(_BEGIN)
        self._mark = client.register_script(_MARK)
        self._finish_pending = client.register_script(_FINISH_PENDING)
        self._expire_lease = client.register_script(_EXPIRE_LEASE)
        self._take_kick = client.register_script(_TAKE_KICK)

    # --- keys ------------------------------------------------------------------------------

    def key(self, subscriber_id: str) -> str:
        """``{prefix}confirm:{<subscriber id>}``: the record, its own hash tag."""
        return f"{self.prefix}confirm:{{{subscriber_id}}}"

    @property
    def due_key(self) -> str:
        return f"{self.prefix}{{confirmations}}:due"

    @property
    def open_key(self) -> str:
        return f"{self.prefix}{{confirmations}}:open"

    @property
    def recent_key(self) -> str:
        return f"{self.prefix}{{confirmations}}:recent"

    # --- reading ---------------------------------------------------------------------------

    def get(self, subscriber_id: str) -> ConfirmRecord | None:
        raw = self.r.hgetall(self.key(subscriber_id))
        if not raw or b"id" not in raw:
            return None
        d = {k.decode(): v for k, v in raw.items()}
        return ConfirmRecord(
            id=_s(d.get("id")),
            subscriber_id=subscriber_id,
            state=ConfirmState(_s(d.get("state"))),
            attempts=int(_f(d.get("attempts"))),
            created_at=_f(d.get("created_at")),
            due_at=_f(d.get("due_at")),
            lease_until=_f(d.get("lease_until")),
            kick=_s(d.get("kick")),
            kick_at=_f(d.get("kick_at")),
            last_error=_s(d.get("last_error")),
            last_attempt_at=_f(d.get("last_attempt_at")),
            finished_at=_f(d.get("finished_at")),
        )

    def request_record(self, request_id: str) -> ConfirmRecord | None:
        """The record if it still holds ``request_id`` (a newer request replaces it)."""
        rec = self.get(subscriber_of(request_id))
        return rec if rec is not None and rec.id == request_id else None

    def due(self, now: float, limit: int = 500) -> list[str]:
        """Subscriber ids in the index whose score says due by ``now`` (oldest first)."""
        ids = self.r.zrangebyscore(self.due_key, "-inf", now, start=0, num=limit)
        return [_s(i) for i in ids]

    def stats(self, now: float, window: float) -> dict[str, Any]:
        """Open requests, the oldest one's request time, and the attempts in the last
        ``window`` seconds (newest first): what the gauges and ``/healthz`` show."""
        with self.r.pipeline(transaction=False) as pipe:
            pipe.zcard(self.open_key)
            pipe.zrange(self.open_key, 0, 0, withscores=True)
            pipe.zcount(self.due_key, "-inf", now)
            pipe.lrange(self.recent_key, 0, RECENT_KEPT - 1)
            count, oldest, due, recent = pipe.execute()
        outcomes = []
        for item in recent:
            at, _, outcome = _s(item).partition("|")
            if float(at) >= now - window:
                outcomes.append(outcome)
        return {
            "open": int(count),
            "oldest_requested_at": float(oldest[0][1]) if oldest else None,
            "due": int(due),
            "recent": outcomes,
        }

    # --- writing ---------------------------------------------------------------------------

    def request(self, subscriber_id: str, now: float, window: float) -> Requested:
        """A new pending request for ``subscriber_id``, or the one that answers it already."""
        with self.r.pipeline(transaction=True) as pipe:  # index first: a superset of records
            pipe.zadd(self.due_key, {subscriber_id: now}, nx=True)
            pipe.zadd(self.open_key, {subscriber_id: now}, nx=True)
            pipe.execute()
        kick = new_token()
        rid, created = self._request(
            keys=[self.key(subscriber_id)],
            args=[f"{subscriber_id}.{new_token()}", repr(now), repr(window), kick],
        )
        if not int(created):
            rec = self.get(subscriber_id)
            self.reindex(subscriber_id, rec)
            return Requested(_s(rid), "", False)
        return Requested(_s(rid), kick, True)

    def begin(self, request_id: str, now: float, lease: float, attempt: str) -> Begun:
        status, value = self._begin(
            keys=[self.key(subscriber_of(request_id))],
            args=[request_id, repr(now), repr(lease), attempt],
        )
        status = _s(status)
        if status == "ok":
            return Begun("ok", attempts=int(_s(value)))
        if status == "not_due":
            return Begun(status, due_at=float(_s(value)))
        return Begun(status)

    def mark(
        self,
        request_id: str,
        attempt: str,
        outcome: str,
        now: float,
        detail: str,
        ttl: int,
        *,
        due_at: float = 0.0,
        kick: str = "",
        kick_at: float = 0.0,
    ) -> str:
        """Record an attempt's outcome (``sent``, ``failed``, ``uncertain`` or ``retry``)."""
        status = _s(
            self._mark(
                keys=[self.key(subscriber_of(request_id))],
                args=[
                    *(request_id, attempt, outcome, repr(now), detail),
                    *(repr(due_at), kick, repr(kick_at), str(ttl)),
                ],
            )
        )
        if status == "ok":
            self._after(subscriber_of(request_id), outcome, now, due_at)
        return status

    def finish_pending(
        self, request_id: str, state: ConfirmState, now: float, detail: str, ttl: int
    ) -> str:
        status = _s(
            self._finish_pending(
                keys=[self.key(subscriber_of(request_id))],
                args=[request_id, state.value, repr(now), detail, str(ttl)],
            )
        )
        if status == "ok":
            self.unindex(subscriber_of(request_id))
        return status

    def expire_lease(self, request_id: str, now: float, detail: str, ttl: int) -> str:
        status = _s(
            self._expire_lease(
                keys=[self.key(subscriber_of(request_id))],
                args=[request_id, repr(now), detail, str(ttl)],
            )
        )
        if status == "ok":
            self._after(subscriber_of(request_id), "uncertain", now, 0.0)
        return status

    def take_kick(
        self, request_id: str, expected: str, now: float, lost_after: float, kick_at: float
    ) -> str:
        """A fresh kick token if this caller may queue the request's next task, else ''."""
        return _s(
            self._take_kick(
                keys=[self.key(subscriber_of(request_id))],
                args=[
                    *(request_id, expected, repr(now)),
                    *(repr(lost_after), new_token(), repr(kick_at)),
                ],
            )
        )

    def _after(self, subscriber_id: str, outcome: str, now: float, due_at: float) -> None:
        """The index and the recent outcomes, after a record changed (a separate slot)."""
        with self.r.pipeline(transaction=True) as pipe:
            if outcome == "retry":
                pipe.zadd(self.due_key, {subscriber_id: due_at}, xx=True)
            else:
                pipe.zrem(self.due_key, subscriber_id)
                pipe.zrem(self.open_key, subscriber_id)
            pipe.lpush(self.recent_key, f"{now!r}|{outcome}")
            pipe.ltrim(self.recent_key, 0, RECENT_KEPT - 1)
            pipe.execute()

    def unindex(self, subscriber_id: str) -> None:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.zrem(self.due_key, subscriber_id)
            pipe.zrem(self.open_key, subscriber_id)
            pipe.execute()

    def reindex(self, subscriber_id: str, rec: ConfirmRecord | None) -> None:
        """Make the index agree with the record: open → scored by its times, else gone."""
        if rec is None or not rec.open:
            self.unindex(subscriber_id)
            return
        with self.r.pipeline(transaction=True) as pipe:
            pipe.zadd(self.due_key, {subscriber_id: rec.due_at})
            pipe.zadd(self.open_key, {subscriber_id: rec.created_at})
            pipe.execute()
