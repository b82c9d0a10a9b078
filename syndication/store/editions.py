"""Editions and their send ledger in Redis: the record that a crash never loses or repeats a send.

One edition is one digest of one frequency for one period (``daily`` 2026-11-26, ``weekly``
2026-W48). Its recipients are frozen when it is created, and each has one ledger entry::

    pending ──claim──► sending ──begin──► (SMTP transaction) ──mark──► sent | failed | uncertain
       ▲                  │                                     │
       └──── release / lease expired before begin ◄─────────────┘ 4xx: retry after a backoff

Every transition is one Lua script over keys that share the edition's hash tag
(``{prefix}edition:{<id>}:…``), so it is atomic and runs unchanged on Redis Cluster:

- ``claim`` moves up to N due ``pending`` entries to ``sending`` under a lease (a deadline in
  Redis time) and a claim token. Two workers can never claim the same entry.
- ``step`` marks the previous entry's outcome and *begins* the next one in one round trip.
  ``begin`` is the point of no return: it only succeeds for the token's owner while the lease
  still covers a whole SMTP transaction (``tx_budget``), and it records the entry as in flight.
  The sender bounds the transaction by that budget (socket timeouts), so no transaction of a
  live worker outlasts its lease.
- ``recover`` takes entries whose lease has passed: never begun → back to ``pending`` (they
  were never offered to the server, resending is safe); begun → ``uncertain`` (the worker died
  between DATA and the reply: the message may or may not have been delivered, RFC 1047), or
  ``pending`` when the edition's policy is ``resend``. Uncertain entries are therefore at most
  the transactions that were in flight, one per connection of a dead worker.
- A late ``mark`` from the owner of an ``uncertain`` entry still records ``sent``/``failed``
  (the truth beats a guess); a mark from anyone else is refused.

Counters (``n_pending`` …) live in the edition's hash and change in the same scripts, so their
sum always equals ``n_total``; the edition becomes ``done`` in the script that marks the last
entry. Times come from Redis (``TIME``), so workers with skewed clocks agree on leases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from json.encoder import encode_basestring_ascii as _json_str
from typing import Any

import redis

from syndication.store.durability import Durability, resolve


class EditionStatus(StrEnum):
    CREATING = "creating"  # recipients are being frozen; finished by whoever retries
    DRAFT = "draft"
    SENDING = "sending"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


class EntryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    CANCELLED = "cancelled"  # never sent: the edition was cancelled before its turn


class Mark(StrEnum):
    """What a worker reports for an entry it began (or, for RELEASE, did not begin)."""

    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"
    UNCERTAIN = "uncertain"
    RELEASE = "release"
    # The owner begun the entry (its claim was made durable with a window of others) but
    # never offered it to the SMTP server: back to pending, exactly as if never begun.
    ABORT = "abort"


STATES = tuple(s.value for s in EntryState)
#: How long an article id stays listed as given to an edition of a frequency.
INCLUDED_S = 90 * 86400
#: Recipients one freezing script takes (each is two ``unpack``ed values, three times over).
ADD_SLICE = 1000
FINAL_STATES = ("sent", "failed", "uncertain", "cancelled")


@dataclass(frozen=True)
class Policy:
    """Delivery parameters frozen into the edition, so every worker applies the same ones.

    ``lease_s`` bounds how long a claimed entry stays with one worker; ``tx_budget_s`` is the
    longest one SMTP transaction may take (the sender's socket timeouts honour it), and must
    be well under the lease. ``uncertain`` is ``report`` (default: never resend a message
    that may have been delivered) or ``resend``.
    """

    lease_s: float = 300.0
    tx_budget_s: float = 120.0
    retry_base_s: float = 30.0
    retry_max_s: float = 3600.0
    max_attempts: int = 8
    uncertain: str = "report"

    def __post_init__(self) -> None:
        if self.uncertain not in ("report", "resend"):
            raise ValueError("uncertain policy must be 'report' or 'resend'")
        if not 0 < self.tx_budget_s < self.lease_s:
            raise ValueError("tx_budget_s must be positive and below lease_s")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True)
class Edition:
    id: str
    frequency: str
    period: str
    status: EditionStatus
    article_ids: tuple[str, ...]
    created_at: datetime
    finished_at: datetime | None
    policy: Policy
    counts: dict[str, int] = field(default_factory=dict)
    # When retention dropped its sent and cancelled entries and frozen list (the counts,
    # failed and uncertain entries stay): store/edition_compaction.py.
    compacted_at: datetime | None = None

    @property
    def total(self) -> int:
        return self.counts.get("total", 0)

    @property
    def finished(self) -> int:
        """Entries that reached a final state (sent, failed, uncertain or cancelled)."""
        return sum(self.counts.get(s, 0) for s in FINAL_STATES)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "frequency": self.frequency,
            "period": self.period,
            "status": self.status.value,
            "article_ids": list(self.article_ids),
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "counts": dict(self.counts),
            "compacted_at": self.compacted_at.isoformat() if self.compacted_at else None,
            "policy": {
                "lease_s": self.policy.lease_s,
                "tx_budget_s": self.policy.tx_budget_s,
                "retry_base_s": self.policy.retry_base_s,
                "retry_max_s": self.policy.retry_max_s,
                "max_attempts": self.policy.max_attempts,
                "uncertain": self.policy.uncertain,
            },
        }


def encode_entry(email: str, segment: str, token_version: int) -> str:
    """A frozen entry's JSON, as ``json.dumps`` writes it, without its generic machinery
    (the freeze writes one per reader)."""
    return f'{{"e":{_json_str(email)},"s":{_json_str(segment)},"v":{int(token_version)}}}'


def entry_line(subscriber_id: str, entry: str) -> str:
    """One recipient as ``add_lines`` takes it: ``id TAB entry``."""
    return f"{subscriber_id}\t{entry}"


@dataclass(frozen=True)
class FrozenRecipient:
    """What a worker needs to send to one recipient, fixed when the edition was created.

    The entry keeps the reader's ``token_version``, and the sender signs the manage token
    from it (``tokens.manage_token_of``): signing costs the freeze, which signs a whole
    list at once, more than reading the rest of the entry, and the version is 40 bytes
    shorter in Redis than the token. Entries frozen before kept the token itself
    (``token``, ``"t"`` in the JSON); they still decode and send with it.
    """

    subscriber_id: str
    email: str
    segment: str
    token: str = ""  # an older entry's frozen token; "" when the sender signs one
    token_version: int = 1

    def encode(self) -> str:
        if self.token:
            return json.dumps({"e": self.email, "s": self.segment, "t": self.token})
        return encode_entry(self.email, self.segment, self.token_version)

    def line(self) -> str:
        """``id TAB entry``: how ``add_lines`` takes it."""
        return entry_line(self.subscriber_id, self.encode())

    @classmethod
    def decode(cls, subscriber_id: str, raw: bytes | str) -> FrozenRecipient:
        data = json.loads(raw)
        return cls(subscriber_id, data["e"], data["s"], data.get("t", ""), data.get("v", 1))


@dataclass(frozen=True)
class Claim:
    """A batch claimed by one token; ``due_in`` is when the next pending entry is due."""

    status: str
    token: str
    recipients: list[FrozenRecipient]
    due_in: float | None  # seconds until the earliest pending entry is due; None: none left
    lease_s: float


@dataclass(frozen=True)
class Step:
    """What one ``advance`` did: the mark's result, the begin's result and how many of the
    asked-for entries were begun (a prefix), the edition's status after it, and whether the
    begins are durable (False: nothing may be offered to the server; ``abort`` them)."""

    mark: str
    begin: str
    begun: int
    status: str
    durable: bool = True


@dataclass(frozen=True)
class Recovered:
    uncertain: int
    requeued: int
    next_deadline_in: float | None  # seconds until the next lease in ``sending`` runs out


# --- Lua ---------------------------------------------------------------------------------
# KEYS, in this order for every ledger script (one hash tag: the edition id).
_LEDGER_KEYS = (
    "meta",
    "pending",
    "sending",
    "state",
    "owner",
    "inflight",
    "attempts",
    "detail",
    "uncertain",
    "failed",
    "rcpt",
    "repeated",
    "senders",
)

_LUA_COMMON = """
local META, PENDING, SENDING, STATE, OWNER, INFLIGHT, ATTEMPTS, DETAIL, UNCERTAIN, FAILED, RCPT,
  REPEATED, SENDERS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8],
  KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local function num(field)
  return tonumber(redis.call('HGET', META, field))
end

local function move(from, to)
  redis.call('HINCRBY', META, 'n_' .. from, -1)
  redis.call('HINCRBY', META, 'n_' .. to, 1)
end

local function maybe_done()
  if redis.call('HGET', META, 'status') == 'sending'
     and num('n_pending') == 0 and num('n_sending') == 0 then
    redis.call('HSET', META, 'status', 'done', 'finished_at', tostring(now))
  end
end

-- back to pending, due after ``delay`` seconds; the claim token no longer owns it. In a
-- cancelled edition nothing goes back to pending: the entry ends ``cancelled`` instead.
local function requeue(id, from, delay)
  redis.call('ZREM', SENDING, id)
  redis.call('SREM', INFLIGHT, id)
  redis.call('HDEL', OWNER, id)
  if redis.call('HGET', META, 'status') == 'cancelled' then
    redis.call('HSET', STATE, id, 'cancelled')
    move(from, 'cancelled')
  else
    redis.call('HSET', STATE, id, 'pending')
    redis.call('ZADD', PENDING, now + delay, id)
    move(from, 'pending')
  end
end

local function finish(id, from, to, detail)
  redis.call('ZREM', SENDING, id)
  redis.call('SREM', INFLIGHT, id)
  redis.call('HSET', STATE, id, to)
  if detail ~= '' then redis.call('HSET', DETAIL, id, detail) end
  if from == 'uncertain' then redis.call('SREM', UNCERTAIN, id) end
  if from == 'pending' then redis.call('ZREM', PENDING, id) end
  if to == 'failed' then redis.call('SADD', FAILED, id) end
  if to == 'uncertain' then redis.call('SADD', UNCERTAIN, id) end
  move(from, to)
end

local function backoff(id)
  local attempts = tonumber(redis.call('HGET', ATTEMPTS, id) or '1')
  local delay = num('retry_base_s') * (2 ^ math.max(attempts - 1, 0))
  return math.min(delay, num('retry_max_s')), attempts
end
"""

_CLAIM = (
    _LUA_COMMON
    + """
-- ARGV: n, token, run id the caller sees ('' unknown), settle seconds. The first claim after
-- Redis restarted (another run id) starts a pause of ``settle`` seconds for every sender:
-- time for the senders that were running to write again what Redis may have forgotten
-- they sent, before anyone claims those entries as pending.
local status = redis.call('HGET', META, 'status') or ''
local ids = {}
if ARGV[3] and ARGV[3] ~= '' then
  local last = redis.call('HGET', META, 'run_id')
  if last ~= ARGV[3] then
    redis.call('HSET', META, 'run_id', ARGV[3])
    if last then redis.call('HSET', META, 'settle_until', now + tonumber(ARGV[4])) end
  end
end
local settle_until = tonumber(redis.call('HGET', META, 'settle_until') or '0')
if status == 'sending' and now >= settle_until then
  local lease = num('lease_s')
  ids = redis.call('ZRANGEBYSCORE', PENDING, '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
  for _, id in ipairs(ids) do
    redis.call('ZREM', PENDING, id)
    redis.call('ZADD', SENDING, now + lease, id)
    redis.call('HSET', STATE, id, 'sending')
    redis.call('HSET', OWNER, id, ARGV[2])
  end
  if #ids > 0 then
    redis.call('HINCRBY', META, 'n_pending', -#ids)
    redis.call('HINCRBY', META, 'n_sending', #ids)
  end
end
local records = {}
if #ids > 0 then records = redis.call('HMGET', RCPT, unpack(ids)) end
local due = ''
local first = redis.call('ZRANGE', PENDING, 0, 0, 'WITHSCORES')
if #first > 0 then due = tostring(math.max(tonumber(first[2]) - now, settle_until - now, 0)) end
return {status, ids, records, due, tostring(num('lease_s') or 0)}
"""
)

_STEP = (
    _LUA_COMMON
    + """
-- ARGV: token, mark_id, mark, detail, replay ('1' or ''), begin ids...
-- Returns {mark result, begin result, entries begun, edition status}.
local token = ARGV[1]
local result = {'', '', '0', ''}

local mark_id = ARGV[2]
if mark_id ~= '' then
  local outcome, detail = ARGV[3], ARGV[4]
  local replay = ARGV[5] == '1'
  local state = redis.call('HGET', STATE, mark_id)
  local owner = redis.call('HGET', OWNER, mark_id)
  local begun = redis.call('SISMEMBER', INFLIGHT, mark_id) == 1
  if replay and owner ~= token and (outcome == 'sent' or outcome == 'failed') then
    -- The sender knows the server's answer, but Redis lost the record of its claim (a
    -- restart from an older AOF): write the answer down before anyone sends it again.
    local note = 'recorded again after Redis lost it'
    if detail ~= '' then note = detail .. '; ' .. note end
    if state == outcome and owner and owner ~= token then
      -- another sender sent it again after Redis forgot ours: the reader has two
      redis.call('SADD', REPEATED, mark_id)
      result[1] = 'repeated'
    elseif state == outcome then
      result[1] = 'ok'
    elseif state == 'pending' then
      finish(mark_id, 'pending', outcome, note)
      result[1] = 'ok'
    elseif state == 'sending' and not begun then
      redis.call('HDEL', OWNER, mark_id)
      finish(mark_id, 'sending', outcome, note)
      result[1] = 'ok'
    elseif state == 'uncertain' then
      finish(mark_id, 'uncertain', outcome, note)
      result[1] = 'ok'
    elseif state == 'sending' and begun then
      -- another sender has it in flight: it may reach the reader twice; say so
      redis.call('SADD', REPEATED, mark_id)
      redis.call('HSET', DETAIL, mark_id, 'may have been sent twice: Redis lost the record '
        .. 'of an earlier delivery')
      result[1] = 'repeated'
    else
      result[1] = 'state:' .. tostring(state)
    end
  elseif owner ~= token then
    result[1] = 'not-owner'
  elseif state == 'sending' then
    if outcome == 'release' or outcome == 'abort' then
      if begun and outcome == 'release' then
        result[1] = 'begun'
      else
        if begun then
          redis.call('SREM', INFLIGHT, mark_id)
          redis.call('HINCRBY', ATTEMPTS, mark_id, -1)
        end
        requeue(mark_id, 'sending', 0)
        result[1] = 'ok'
      end
    elseif outcome == 'sent' or outcome == 'failed' then
      finish(mark_id, 'sending', outcome, detail)
      result[1] = 'ok'
    elseif outcome == 'retry' then
      local delay, attempts = backoff(mark_id)
      if attempts >= num('max_attempts') then
        finish(mark_id, 'sending', 'failed', detail)
      else
        if detail ~= '' then redis.call('HSET', DETAIL, mark_id, detail) end
        requeue(mark_id, 'sending', delay)
      end
      result[1] = 'ok'
    elseif outcome == 'uncertain' then
      if redis.call('HGET', META, 'uncertain') == 'resend' then
        if detail ~= '' then redis.call('HSET', DETAIL, mark_id, detail) end
        requeue(mark_id, 'sending', 0)
      else
        finish(mark_id, 'sending', 'uncertain', detail)
      end
      result[1] = 'ok'
    else
      result[1] = 'bad-mark'
    end
  elseif state == 'uncertain' and (outcome == 'sent' or outcome == 'failed') then
    -- the lease ran out while the owner waited (e.g. for Redis), but it knows the answer
    finish(mark_id, 'uncertain', outcome, detail)
    result[1] = 'ok'
  elseif state == outcome then
    result[1] = 'ok'  -- a repeated mark (the reply to the first one was lost)
  else
    result[1] = 'state:' .. tostring(state)
  end
  maybe_done()
end

local status = redis.call('HGET', META, 'status') or ''
result[4] = status
if #ARGV >= 6 then
  local begun_n = 0
  local code = 'ok'
  for i = 6, #ARGV do
    local begin_id = ARGV[i]
    if redis.call('HGET', OWNER, begin_id) ~= token
       or redis.call('HGET', STATE, begin_id) ~= 'sending' then
      code = 'not-owner'
    elseif redis.call('SISMEMBER', INFLIGHT, begin_id) == 1 then
      code = 'ok'  -- a repeated begin (the reply to the first one was lost)
    elseif status ~= 'sending' then
      code = 'status:' .. status
    else
      local deadline = tonumber(redis.call('ZSCORE', SENDING, begin_id))
      if deadline - now < num('tx_budget_s') + 1 then
        code = 'lease'
      else
        redis.call('SADD', INFLIGHT, begin_id)
        redis.call('HINCRBY', ATTEMPTS, begin_id, 1)
        code = 'ok'
      end
    end
    if code ~= 'ok' then break end
    begun_n = begun_n + 1
  end
  result[2] = code
  result[3] = tostring(begun_n)
end
return result
"""
)

_RECOVER = (
    _LUA_COMMON
    + """
-- ARGV: limit. Taken back: entries whose lease ran out, and entries whose sender's
-- heartbeat lapsed (a dead worker: its token is still listed, with a past expiry). A sender
-- that is alive after all loses nothing by it: its next begin is refused (not the owner),
-- and a mark it sends for an entry it had begun still records the truth.
local limit = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', SENDING, '-inf', now, 'LIMIT', 0, limit)
local taken = {}
for _, id in ipairs(ids) do taken[id] = true end
local dead = {}
for _, tok in ipairs(redis.call('ZRANGEBYSCORE', SENDERS, '-inf', '(' .. now)) do
  dead[tok] = true
end
if next(dead) ~= nil then
  for _, id in ipairs(redis.call('ZRANGE', SENDING, 0, limit - 1)) do
    local owner = redis.call('HGET', OWNER, id)
    if owner and dead[owner] and not taken[id] then
      taken[id] = true
      ids[#ids + 1] = id
    end
  end
end
local uncertain, requeued = 0, 0
local resend = redis.call('HGET', META, 'uncertain') == 'resend'
for _, id in ipairs(ids) do
  if redis.call('SISMEMBER', INFLIGHT, id) == 1 then
    if resend and redis.call('HGET', META, 'status') ~= 'cancelled' then
      redis.call('HSET', DETAIL, id, 'lease expired in flight; resent by policy')
      requeue(id, 'sending', 0)
      requeued = requeued + 1
    else
      -- keep the owner: if that worker is alive after all, its mark still counts
      finish(id, 'sending', 'uncertain', 'lease expired in flight (worker lost)')
      uncertain = uncertain + 1
    end
  else
    requeue(id, 'sending', 0)
    requeued = requeued + 1
  end
end
maybe_done()
local nxt = ''
local first = redis.call('ZRANGE', SENDING, 0, 0, 'WITHSCORES')
if #first > 0 then nxt = tostring(math.max(tonumber(first[2]) - now, 0)) end
return {uncertain, requeued, nxt}
"""
)

_CANCEL = (
    _LUA_COMMON
    + """
-- ARGV: allowed from (space separated). Cancelled: every pending entry ends ``cancelled``
-- at once; claimed ones end so when their sender hands them back (``requeue``).
local status = redis.call('HGET', META, 'status')
if not status then return {'', '', 0} end
local allowed = false
for from in string.gmatch(ARGV[1], '%S+') do
  if from == status then allowed = true end
end
if not allowed then return {status, '', 0} end
redis.call('HSET', META, 'status', 'cancelled', 'finished_at', tostring(now))
local n = 0
while true do
  local ids = redis.call('ZRANGE', PENDING, 0, 4999)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do redis.call('HSET', STATE, id, 'cancelled') end
  redis.call('ZREM', PENDING, unpack(ids))
  n = n + #ids
end
if n > 0 then  -- HINCRBY refuses '-0'
  redis.call('HINCRBY', META, 'n_pending', -n)
  redis.call('HINCRBY', META, 'n_cancelled', n)
end
return {status, 'cancelled', n}
"""
)

_RESEND = (
    _LUA_COMMON
    + """
-- ARGV: detail, ids... Uncertain entries an operator chose go back to pending (due now);
-- a finished edition reopens for them. Refused for cancelled editions and drafts.
local status = redis.call('HGET', META, 'status')
if status ~= 'done' and status ~= 'sending' and status ~= 'paused' then
  return {tostring(status), 0}
end
local n = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', STATE, id) == 'uncertain' then
    redis.call('SREM', UNCERTAIN, id)
    redis.call('HDEL', OWNER, id)
    redis.call('HSET', STATE, id, 'pending')
    redis.call('ZADD', PENDING, now, id)
    redis.call('HSET', DETAIL, id, ARGV[1])
    move('uncertain', 'pending')
    n = n + 1
  end
end
if n > 0 and status == 'done' then
  redis.call('HSET', META, 'status', 'sending')
  redis.call('HDEL', META, 'finished_at')
  status = 'sending'
end
return {status, n}
"""
)

_ADD_RECIPIENTS = """
-- KEYS: meta, rcpt, state, pending, segments
-- ARGV: the recipients as one string of 'id TAB json' lines, n_segments, (segid, json)*
-- A chunk in a few variadic commands instead of three per recipient: HSET tells how many
-- ids are new, so a repeated chunk (a retried creator) adds and counts nobody twice. One
-- string instead of two arguments a recipient: the client packs one bulk, not thousands.
-- Lines are split with plain finds, not a pattern (which tests every character against a
-- class), and the scores are the string '0' (a number is formatted again for every member):
-- together about a fifth fewer server instructions a recipient, the same keys and values.
if redis.call('HGET', KEYS[1], 'status') ~= 'creating' then return -1 end
for i = 3, 2 + 2 * tonumber(ARGV[2]), 2 do
  redis.call('HSETNX', KEYS[5], ARGV[i], ARGV[i + 1])
end
local text, find, sub = ARGV[1], string.find, string.sub
local entries, states, scores, n = {}, {}, {}, 0
local at, size = 1, #text
while at <= size do
  local stop = find(text, '\\n', at, true) or size + 1
  local tab = find(text, '\\t', at, true)
  -- the id before the line's first tab, the entry after it; neither may be empty
  if tab and tab > at and tab + 1 < stop then
    local id = sub(text, at, tab - 1)
    n = n + 2
    entries[n - 1] = id
    entries[n] = sub(text, tab + 1, stop - 1)
    states[n - 1] = id
    states[n] = 'pending'
    scores[n - 1] = '0'
    scores[n] = id
  end
  at = stop + 1
end
if n == 0 then return 0 end
local added = redis.call('HSET', KEYS[2], unpack(entries))
redis.call('HSET', KEYS[3], unpack(states))
redis.call('ZADD', KEYS[4], unpack(scores))
if added > 0 then
  redis.call('HINCRBY', KEYS[1], 'n_pending', added)
  redis.call('HINCRBY', KEYS[1], 'n_total', added)
end
return added
"""

_SET_STATUS = """
-- KEYS: meta; ARGV: new status, allowed from (space separated), now
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'', 'missing'} end
for from in string.gmatch(ARGV[2], '%S+') do
  if from == status then
    local new = ARGV[1]
    if new == 'sending' and tonumber(redis.call('HGET', KEYS[1], 'n_pending')) == 0
       and tonumber(redis.call('HGET', KEYS[1], 'n_sending')) == 0 then
      new = 'done'
    end
    redis.call('HSET', KEYS[1], 'status', new)
    if new == 'done' or new == 'cancelled' then
      redis.call('HSET', KEYS[1], 'finished_at', ARGV[3])
    end
    return {status, new}
  end
end
return {status, ''}
"""


def _when(stamp: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(stamp), UTC) if stamp else None


def _s(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


class EditionStore:
    """Editions, frozen recipient lists and the per-recipient send ledger."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.prefix = prefix
        self._claim = client.register_script(_CLAIM)
        self._step = client.register_script(_STEP)
        self._recover = client.register_script(_RECOVER)
        self._add = client.register_script(_ADD_RECIPIENTS)
        self._set_status = client.register_script(_SET_STATUS)
        self._cancel = client.register_script(_CANCEL)
        self._resend = client.register_script(_RESEND)
        self._ledger_cache: dict[str, tuple[str, ...]] = {}

    # --- keys ------------------------------------------------------------------------------

    def key(self, edition_id: str, part: str) -> str:
        """``{prefix}edition:{<id>}:<part>``: every key of one edition shares its hash tag."""
        return f"{self.prefix}edition:{{{edition_id}}}:{part}"

    def _ledger_keys(self, edition_id: str) -> list[str]:
        # Built once per edition (a send step names all of them, once per message).
        keys = self._ledger_cache.get(edition_id)
        if keys is None:
            keys = tuple(self.key(edition_id, part) for part in _LEDGER_KEYS)
            if len(self._ledger_cache) >= 256:
                self._ledger_cache.clear()
            self._ledger_cache[edition_id] = keys
        return list(keys)

    @property
    def index_key(self) -> str:
        """Every edition, scored by creation time. The indexes share the ``{editions}``
        tag (one slot, small); each edition's own keys are tagged by its id."""
        return f"{self.prefix}{{editions}}:all"

    def period_key(self, frequency: str, period: str) -> str:
        return f"{self.prefix}{{editions}}:period:{frequency}:{period}"

    def included_key(self, frequency: str) -> str:
        """Article ids already given to an edition of ``frequency``, scored by that time."""
        return f"{self.prefix}{{editions}}:included:{frequency}"

    def kick_key(self, edition_id: str) -> str:
        return self.key(edition_id, "kick")

    # --- creation --------------------------------------------------------------------------

    def reserve(self, edition_id: str, frequency: str, period: str) -> str:
        """SET NX the (frequency, period) slot: returns the id that owns it (ours or earlier)."""
        key = self.period_key(frequency, period)
        if self.r.set(key, edition_id, nx=True):
            return edition_id
        return _s(self.r.get(key)) or edition_id

    def release_period(self, frequency: str, period: str) -> None:
        """Free the (frequency, period) slot again (nothing new to send: a later call in the
        same period may still make the edition)."""
        self.r.delete(self.period_key(frequency, period))

    def durability(self, wanted: str, replicas: int, timeout_ms: int) -> Durability:
        """How begins on this Redis are made durable (store/durability.py ``resolve``)."""
        return resolve(self.r, wanted, replicas=replicas, timeout_ms=timeout_ms)

    def init(
        self,
        edition_id: str,
        frequency: str,
        period: str,
        article_ids: Sequence[str],
        policy: Policy,
        now: datetime,
    ) -> bool:
        """Write the edition's record once (HSETNX on status); False if it already existed.

        The first writer decides the article list; a retried or concurrent creator reads it.
        """
        meta = self.key(edition_id, "meta")
        if not self.r.hsetnx(meta, "status", EditionStatus.CREATING.value):
            return False
        mapping: dict[str, str | float | int] = {
            "id": edition_id,
            "frequency": frequency,
            "period": period,
            "article_ids": json.dumps(list(article_ids)),
            "created_at": now.timestamp(),
            "lease_s": policy.lease_s,
            "tx_budget_s": policy.tx_budget_s,
            "retry_base_s": policy.retry_base_s,
            "retry_max_s": policy.retry_max_s,
            "max_attempts": policy.max_attempts,
            "uncertain": policy.uncertain,
            "n_total": 0,
        }
        for state in STATES:
            mapping[f"n_{state}"] = 0
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hset(meta, mapping=mapping)
            pipe.zadd(self.index_key, {edition_id: now.timestamp()}, nx=True)
            if article_ids:
                pipe.zadd(self.included_key(frequency), dict.fromkeys(article_ids, now.timestamp()))
            # Only the last periods are read (``EditionCreator.candidates``): keep 90 days.
            pipe.zremrangebyscore(
                self.included_key(frequency), "-inf", now.timestamp() - INCLUDED_S
            )
            pipe.execute()
        return True

    def add_recipients(
        self,
        edition_id: str,
        recipients: Sequence[FrozenRecipient],
        segments: dict[str, str],
    ) -> int:
        """Freeze a chunk of recipients (idempotent: a subscriber is added once); -1 if the
        edition is no longer being created. See ``add_lines``."""
        return self.add_lines(edition_id, [r.line() for r in recipients], segments)

    def add_lines(self, edition_id: str, lines: Sequence[str], segments: dict[str, str]) -> int:
        """``add_recipients`` for recipients already written as ``id TAB entry`` lines
        (``FrozenRecipient.line``; the freeze writes them straight from what it read). One
        round trip whatever the chunk's size: the script runs per ``ADD_SLICE`` lines
        (Lua's ``unpack`` takes at most 8,000 values), all of them in one pipeline."""
        seg_args: list[str] = [str(len(segments))]
        for seg_id, seg_json in segments.items():
            seg_args += [seg_id, seg_json]
        keys = [self.key(edition_id, p) for p in ("meta", "rcpt", "state", "pending", "segments")]
        slices = [lines[i : i + ADD_SLICE] for i in range(0, len(lines), ADD_SLICE)]
        calls = []
        for n, part in enumerate(slices or [()]):
            text = "\n".join(part)
            if text.count("\t") != len(part) or text.count("\n") != max(len(part) - 1, 0):
                raise ValueError("a recipient id holds a tab or a line break")  # JSON cannot
            if text.startswith("\t") or "\n\t" in text:
                raise ValueError("a recipient without an id")  # the script would skip it
            calls.append([text, *(seg_args if n == 0 else ["0"])])
        try:
            added = self._add_all(keys, calls)
        except redis.exceptions.NoScriptError:
            # A cluster pipeline does not load scripts first (a plain one does): load it on
            # every primary and run again; the script adds and counts each id once.
            self.r.script_load(self._add.script)
            added = self._add_all(keys, calls)
        return -1 if -1 in added else sum(added)

    def _add_all(self, keys: list[str], calls: list[list[str]]) -> list[int]:
        with self.r.pipeline(transaction=False) as pipe:
            for args in calls:
                self._add(keys=keys, args=args, client=pipe)
            return [int(n) for n in pipe.execute()]

    def finish_creation(self, edition_id: str, start: bool, now: datetime) -> EditionStatus:
        """``creating`` → ``sending`` (or ``draft``); an empty edition goes straight to done."""
        target = EditionStatus.SENDING if start else EditionStatus.DRAFT
        self.set_status(edition_id, target, (EditionStatus.CREATING,), now)
        edition = self.get(edition_id)
        return edition.status if edition else target

    # --- reading ---------------------------------------------------------------------------

    def get(self, edition_id: str) -> Edition | None:
        raw = self.r.hgetall(self.key(edition_id, "meta"))
        if not raw or b"id" not in raw:
            return None
        meta = {k.decode(): v.decode() for k, v in raw.items()}
        counts = {state: int(meta.get(f"n_{state}", 0)) for state in STATES}
        counts["total"] = int(meta.get("n_total", 0))
        return Edition(
            id=meta["id"],
            frequency=meta["frequency"],
            period=meta["period"],
            status=EditionStatus(meta["status"]),
            article_ids=tuple(json.loads(meta["article_ids"])),
            created_at=datetime.fromtimestamp(float(meta["created_at"]), UTC),
            finished_at=_when(meta.get("finished_at")),
            policy=Policy(
                lease_s=float(meta["lease_s"]),
                tx_budget_s=float(meta["tx_budget_s"]),
                retry_base_s=float(meta["retry_base_s"]),
                retry_max_s=float(meta["retry_max_s"]),
                max_attempts=int(meta["max_attempts"]),
                uncertain=meta["uncertain"],
            ),
            counts=counts,
            compacted_at=_when(meta.get("compacted_at")),
        )

    def ids(self, limit: int = 50, newest_first: bool = True, offset: int = 0) -> list[str]:
        read = self.r.zrevrange if newest_first else self.r.zrange
        return [_s(m) for m in read(self.index_key, offset, offset + limit - 1)]

    def count(self) -> int:
        """Editions in the index (any status)."""
        return int(self.r.zcard(self.index_key))

    def status_counts(self, limit: int = 500) -> dict[str, int]:
        """How many of the newest ``limit`` editions are in each status (every status is a
        key, 0 when none): the ids, then one pipelined read of their statuses."""
        ids = self.ids(limit) if limit > 0 else []
        with self.r.pipeline(transaction=False) as pipe:
            for edition_id in ids:
                pipe.hget(self.key(edition_id, "meta"), "status")
            statuses = pipe.execute()
        counts = {status.value: 0 for status in EditionStatus}
        for raw in statuses:
            if raw is not None:
                name = _s(raw)
                counts[name] = counts.get(name, 0) + 1
        return counts

    def ids_with_status(self, *statuses: EditionStatus, limit: int = 200) -> list[str]:
        """Recent editions in one of ``statuses`` (newest first)."""
        out = []
        for edition_id in self.ids(limit):
            status = _s(self.r.hget(self.key(edition_id, "meta"), "status"))
            if status in statuses:
                out.append(edition_id)
        return out

    def latest_of(self, frequency: str) -> Edition | None:
        for edition_id in self.ids(200):
            edition = self.get(edition_id)
            if edition is not None and edition.frequency == frequency:
                return edition
        return None

    def included(self, frequency: str, since: float) -> set[str]:
        members = self.r.zrangebyscore(self.included_key(frequency), since, "+inf")
        return {_s(m) for m in members}

    def segments(self, edition_id: str) -> dict[str, dict[str, Any]]:
        raw = self.r.hgetall(self.key(edition_id, "segments"))
        return {_s(k): json.loads(v) for k, v in raw.items()}

    def segment(self, edition_id: str, segment_id: str) -> dict[str, Any] | None:
        raw = self.r.hget(self.key(edition_id, "segments"), segment_id)
        return None if raw is None else dict(json.loads(raw))

    def entry(self, edition_id: str, subscriber_id: str) -> dict[str, str]:
        """One ledger entry, for status pages and tests."""
        with self.r.pipeline(transaction=False) as pipe:
            for part in ("state", "attempts", "detail", "owner"):
                pipe.hget(self.key(edition_id, part), subscriber_id)
            state, attempts, detail, owner = pipe.execute()
        return {
            "state": _s(state),
            "attempts": _s(attempts) or "0",
            "detail": _s(detail),
            "owner": _s(owner),
        }

    def states(self, edition_id: str) -> dict[str, str]:
        """Every entry's state (subscriber id → state); O(recipients): for tests and reports."""
        out: dict[str, str] = {}
        for k, v in self.r.hscan_iter(self.key(edition_id, "state"), count=1000):
            out[_s(k)] = _s(v)
        return out

    def members(self, edition_id: str, state: EntryState) -> list[str]:
        """Subscriber ids that ended ``failed`` or ``uncertain`` (kept as sets for reports)."""
        if state not in (EntryState.FAILED, EntryState.UNCERTAIN):
            raise ValueError("only failed and uncertain entries are listed")
        return sorted(_s(m) for m in self.r.smembers(self.key(edition_id, state.value)))

    def recipients(self, edition_id: str, ids: Sequence[str]) -> list[FrozenRecipient]:
        if not ids:
            return []
        raws = self.r.hmget(self.key(edition_id, "rcpt"), list(ids))
        return [FrozenRecipient.decode(i, raw) for i, raw in zip(ids, raws, strict=True) if raw]

    def iter_recipients(self, edition_id: str) -> Iterator[FrozenRecipient]:
        for k, v in self.r.hscan_iter(self.key(edition_id, "rcpt"), count=1000):
            yield FrozenRecipient.decode(_s(k), v)

    def details(self, edition_id: str, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        raws = self.r.hmget(self.key(edition_id, "detail"), list(ids))
        return {i: _s(raw) for i, raw in zip(ids, raws, strict=True)}

    # --- the ledger ------------------------------------------------------------------------

    def claim(
        self, edition_id: str, n: int, token: str, run_id: str = "", settle_s: float = 0.0
    ) -> Claim:
        """Up to ``n`` due pending entries → ``sending``, owned by ``token`` for the lease.

        ``run_id`` is Redis's run id as the caller last saw it: the first claim that brings
        a new one starts a pause of ``settle_s`` (nothing is claimed, ``due_in`` says how
        long), so senders can write again what a restart from an older AOF forgot."""
        status, ids, records, due, lease = self._claim(
            keys=self._ledger_keys(edition_id), args=[n, token, run_id, settle_s]
        )
        recipients = [
            FrozenRecipient.decode(_s(i), raw)
            for i, raw in zip(ids, records, strict=True)
            if raw is not None
        ]
        return Claim(
            status=_s(status),
            token=token,
            recipients=recipients,
            due_in=float(due) if _s(due) else None,
            lease_s=float(lease),
        )

    def advance(
        self,
        edition_id: str,
        token: str,
        mark: tuple[str, Mark, str] | None = None,
        begin: Sequence[str] = (),
        *,
        replay: bool = False,
        durability: Durability | None = None,
    ) -> Step:
        """Mark one entry's outcome and/or begin the next ones, in one round trip.

        Both halves are idempotent for the same token, so a caller may repeat the call after
        a lost reply (e.g. Redis restarting). With ``begin`` and a durable ``durability``,
        the durability command (``WAITAOF``/``WAIT``) goes in the same pipeline, on the same
        connection, so its answer covers this very write. ``replay`` records an outcome the
        sender knows even when Redis lost the sender's claim (see ``_STEP``).
        """
        mark_id, outcome, detail = mark if mark else ("", Mark.SENT, "")
        args = [token, mark_id, outcome.value, detail[:500], "1" if replay else "", *begin]
        keys = self._ledger_keys(edition_id)
        command = durability.command() if (durability is not None and begin) else None
        if command is None:
            res = self._step(keys=keys, args=args)
            durable = True
        else:
            assert durability is not None
            with self.r.pipeline(transaction=False) as pipe:
                self._step(keys=keys, args=args, client=pipe)
                pipe.execute_command(*command)
                res, reply = pipe.execute()
            durable = durability.confirmed(reply)
        return Step(_s(res[0]), _s(res[1]), int(_s(res[2]) or 0), _s(res[3]), durable)

    def step(
        self,
        edition_id: str,
        token: str,
        mark: tuple[str, Mark, str] | None = None,
        begin: str | None = None,
    ) -> tuple[str, str]:
        """``advance`` for one entry without durability: (mark result, begin result)."""
        done = self.advance(edition_id, token, mark, (begin,) if begin else ())
        return done.mark, done.begin

    def release(self, edition_id: str, token: str, ids: Sequence[str], abort: bool = False) -> int:
        """Hand back claimed entries that were never offered to the server (pause, lease
        short, shutdown). ``abort`` also takes back entries this token began but never
        offered (a durable window cut short); without it those are refused."""
        kind = Mark.ABORT if abort else Mark.RELEASE
        released = 0
        for subscriber_id in ids:
            done = self.advance(edition_id, token, (subscriber_id, kind, ""))
            released += done.mark == "ok"
        return released

    def cancel(
        self, edition_id: str, allowed_from: Sequence[EditionStatus]
    ) -> tuple[str, str, int]:
        """Cancel: no more transactions, every pending entry ends ``cancelled`` in the same
        step (claimed ones when handed back). Returns (old status, 'cancelled' or '' when not
        allowed, entries cancelled)."""
        old, new, n = self._cancel(
            keys=self._ledger_keys(edition_id), args=[" ".join(s.value for s in allowed_from)]
        )
        return _s(old), _s(new), int(n)

    def resend(self, edition_id: str, ids: Sequence[str], detail: str) -> tuple[str, int]:
        """Uncertain entries chosen by an operator → pending again (a done edition reopens).
        Returns (status after, entries moved); entries not uncertain are left alone."""
        if not ids:
            edition = self.get(edition_id)
            return (edition.status.value if edition else ""), 0
        status, n = self._resend(keys=self._ledger_keys(edition_id), args=[detail[:500], *ids])
        return _s(status), int(n)

    def replay(
        self, edition_id: str, token: str, marks: Sequence[tuple[str, Mark, str]]
    ) -> list[str]:
        """Write again, in one pipelined round trip, outcomes a sender knows but Redis may
        have lost (it restarted from an older AOF); each result as ``advance``'s mark."""
        keys = self._ledger_keys(edition_id)
        with self.r.pipeline(transaction=False) as pipe:
            for subscriber_id, outcome, detail in marks:
                args = [token, subscriber_id, outcome.value, detail[:500], "1"]
                self._step(keys=keys, args=args, client=pipe)
            replies = pipe.execute()
        return [_s(reply[0]) for reply in replies]

    def server_run_id(self) -> str:
        """Redis's run id: it changes when the server restarts (and may have lost writes)."""
        return str(self.r.info("server").get("run_id", ""))

    def repeated(self, edition_id: str) -> list[str]:
        """Entries that may have reached the reader twice (Redis lost an earlier delivery's
        record and another sender had already begun it): reported, never hidden."""
        return sorted(_s(m) for m in self.r.smembers(self.key(edition_id, "repeated")))

    def recover(self, edition_id: str, limit: int = 10_000) -> Recovered:
        """Entries whose lease ran out or whose sender's heartbeat lapsed: never begun →
        pending; begun → uncertain (or pending under the ``resend`` policy)."""
        uncertain, requeued, nxt = self._recover(keys=self._ledger_keys(edition_id), args=[limit])
        return Recovered(int(uncertain), int(requeued), float(nxt) if _s(nxt) else None)

    def set_status(
        self,
        edition_id: str,
        status: EditionStatus,
        allowed_from: Sequence[EditionStatus],
        now: datetime,
    ) -> tuple[str, str]:
        """Atomic status change; returns (old, new) with new == '' if not allowed."""
        old, new = self._set_status(
            keys=[self.key(edition_id, "meta")],
            args=[status.value, " ".join(s.value for s in allowed_from), now.timestamp()],
        )
        return _s(old), _s(new)

    def take_kick(self, edition_id: str, seconds: int) -> bool:
        """True for the first caller within ``seconds``: limits how often sends are re-queued."""
        return bool(self.r.set(self.kick_key(edition_id), "1", nx=True, ex=max(1, seconds)))

    def heartbeat(self, edition_id: str, token: str, ttl_s: float) -> None:
        """A live sender registers itself; ``live_senders`` counts the unexpired ones, and
        ``recover`` takes back what a sender whose heartbeat lapsed still holds."""
        self.r.eval(
            "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6;"
            " redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]);"
            # A lapsed token stays listed for an hour: recovery reads it as a dead sender.
            " redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600); return 1",
            1,
            self.key(edition_id, "senders"),
            token,
            ttl_s,
        )

    def drop_heartbeat(self, edition_id: str, token: str) -> None:
        self.r.zrem(self.key(edition_id, "senders"), token)

    def live_senders(self, edition_id: str) -> int:
        return int(
            self.r.eval(
                "local t = redis.call('TIME');"
                " local now = tonumber(t[1]) + tonumber(t[2]) / 1e6;"
                " return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')",
                1,
                self.key(edition_id, "senders"),
            )
        )
