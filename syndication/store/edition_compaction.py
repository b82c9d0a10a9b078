"""Retention of finished editions: drop what only a send needed, keep what operators read.

A sent edition holds, per recipient, a frozen record (address, segment, manage token), a
state, attempts and sometimes a detail: 420–460 bytes each in Redis's RAM, forever. Once it
is finished and old enough, ``compact`` keeps:

- the edition's record (``meta``: counts by state, articles, times, policy), its segments
  and editorial;
- every ``failed`` and ``uncertain`` entry whole (frozen record, state, attempts, detail,
  owner), and the detail and record of entries listed as *repeated*: operators read their
  reasons, and uncertain ones can still be resent;

and drops every ``sent`` and ``cancelled`` entry and the (empty) send structures. Entries of
an edition that is no longer sending can never change state again (sent and cancelled are
final, and only uncertain ones reopen), so what ``entries_to_drop`` read for an archive is
exactly what the script then drops.

The guarantee against concurrent work: the script runs on the edition's hash tag, atomic
with every ledger script (claim, step, replay, resend, cancel, recover), and refuses unless
the edition is ``done`` or ``cancelled`` since before the cutoff, has nothing pending or
claimed and no live sender. A resend that reopened the edition makes it ``sending``, so it
is refused until that send is finished; a resend after compaction finds its uncertain
entries intact. Big hashes are rebuilt from the kept entries and the old ones UNLINKed, so
the script costs O(kept), and Redis frees the rest in the background.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syndication.store.editions import EditionStore, FrozenRecipient, _s

#: Per-recipient hashes rebuilt with only the kept entries.
_ENTRY_HASHES = ("rcpt", "state", "attempts", "detail", "owner")
#: Structures a finished send leaves empty (or only stale): removed whole.
_SEND_ONLY = ("pending", "sending", "inflight", "senders", "kick")
_KEYS = ("meta", "failed", "uncertain", "repeated", *_ENTRY_HASHES, *_SEND_ONLY)

_COMPACT = """
-- KEYS: see _KEYS; the rebuilt hashes go to '<key>:kept' first. ARGV: cutoff, now, and
-- the sent + cancelled count an archive was written for ('' for none): another count means
-- a resend finished in between, and the archive would miss its entries.
local META, FAILED, UNCERTAIN, REPEATED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local t = redis.call('TIME')
local clock = tonumber(t[1]) + tonumber(t[2]) / 1000000
local status = redis.call('HGET', META, 'status')
if not status then return {'missing', 0} end
if status ~= 'done' and status ~= 'cancelled' then return {'status:' .. status, 0} end
local finished = tonumber(redis.call('HGET', META, 'finished_at') or '')
if not finished or finished > tonumber(ARGV[1]) then return {'recent', 0} end
if tonumber(redis.call('HGET', META, 'n_pending') or '0') ~= 0
   or tonumber(redis.call('HGET', META, 'n_sending') or '0') ~= 0
   or redis.call('ZCARD', KEYS[10]) ~= 0 or redis.call('ZCARD', KEYS[11]) ~= 0 then
  return {'busy', 0}
end
if redis.call('ZCOUNT', KEYS[13], '(' .. clock, '+inf') ~= 0 then return {'busy', 0} end
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= tonumber(redis.call('HGET', META, 'n_sent') or '0')
    + tonumber(redis.call('HGET', META, 'n_cancelled') or '0') then
  return {'changed', 0}
end
local keep = {}
for _, set in ipairs({FAILED, UNCERTAIN, REPEATED}) do
  for _, id in ipairs(redis.call('SMEMBERS', set)) do keep[#keep + 1] = id end
end
local before = redis.call('HLEN', KEYS[6])
for h = 5, 9 do
  local tmp = KEYS[h] .. ':kept'
  redis.call('DEL', tmp)
  for i = 1, #keep, 500 do
    local ids = {unpack(keep, i, math.min(i + 499, #keep))}
    local values = redis.call('HMGET', KEYS[h], unpack(ids))
    local pairs_ = {}
    for j, id in ipairs(ids) do
      if values[j] then pairs_[#pairs_ + 1] = id; pairs_[#pairs_ + 1] = values[j] end
    end
    if #pairs_ > 0 then redis.call('HSET', tmp, unpack(pairs_)) end
  end
  redis.call('UNLINK', KEYS[h])
  if redis.call('EXISTS', tmp) == 1 then redis.call('RENAME', tmp, KEYS[h]) end
end
for k = 10, 14 do redis.call('UNLINK', KEYS[k]) end
local after = redis.call('HLEN', KEYS[6])
redis.call('HSET', META, 'compacted_at', ARGV[2], 'n_dropped',
  tonumber(redis.call('HGET', META, 'n_dropped') or '0') + before - after)
return {'compacted', before - after}
"""


@dataclass(frozen=True)
class Compacted:
    """What one ``compact`` did: ``result`` is ``compacted`` or why not (``recent``,
    ``busy``, ``changed``, ``status:<status>``, ``missing``); ``dropped`` counts the entries
    removed."""

    edition_id: str
    result: str
    dropped: int

    @property
    def done(self) -> bool:
        return self.result == "compacted"


@dataclass(frozen=True)
class DroppedEntry:
    """A sent or cancelled entry as compaction drops it (an archive line); no token."""

    subscriber_id: str
    email: str
    segment: str
    state: str
    attempts: int
    detail: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class EditionCompactor:
    """``compact`` one edition; ``entries_to_drop`` first, for an archive."""

    def __init__(self, editions: EditionStore) -> None:
        self.editions = editions
        self.r = editions.r
        self._compact = self.r.register_script(_COMPACT)

    def keys(self, edition_id: str) -> list[str]:
        return [self.editions.key(edition_id, part) for part in _KEYS]

    def compact(
        self, edition_id: str, cutoff: datetime, now: datetime, archived: int | None = None
    ) -> Compacted:
        """Drop the sent and cancelled entries of an edition finished before ``cutoff``;
        ``archived``: the sent + cancelled count an archive holds (refused if it moved)."""
        args = [cutoff.timestamp(), now.timestamp(), "" if archived is None else archived]
        result, dropped = self._compact(keys=self.keys(edition_id), args=args)
        return Compacted(edition_id, _s(result), int(dropped))

    def entries_to_drop(self, edition_id: str, chunk: int = 2000) -> Iterator[DroppedEntry]:
        """The entries ``compact`` would drop (sent, cancelled), a chunk of reads at a time."""
        state_key = self.editions.key(edition_id, "state")
        cursor = 0
        while True:
            cursor, raw = self.r.hscan(state_key, cursor, count=chunk)
            ids = [_s(k) for k, v in raw.items() if _s(v) in ("sent", "cancelled")]
            states = {_s(k): _s(v) for k, v in raw.items()}
            if ids:
                yield from self._rows(edition_id, ids, states)
            if cursor == 0:
                return

    def _rows(
        self, edition_id: str, ids: list[str], states: dict[str, str]
    ) -> Iterator[DroppedEntry]:
        key = self.editions.key
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hmget(key(edition_id, "rcpt"), ids)
            pipe.hmget(key(edition_id, "attempts"), ids)
            pipe.hmget(key(edition_id, "detail"), ids)
            records, attempts, details = pipe.execute()
        for sid, raw, tries, detail in zip(ids, records, attempts, details, strict=True):
            rcpt = FrozenRecipient.decode(sid, raw) if raw else None
            yield DroppedEntry(
                subscriber_id=sid,
                email=rcpt.email if rcpt else "",
                segment=rcpt.segment if rcpt else "",
                state=states[sid],
                attempts=int(_s(tries) or 0),
                detail=_s(detail),
            )
