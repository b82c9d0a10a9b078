"""Whole lists at once: importing rows in chunks, and upgrading old records (``migrate``).

Import: one Lua script call (EVALSHA) applies a chunk of rows atomically, so a chunk costs
one round trip instead of a WATCH transaction per row, and nothing can interleave with it:
a signup racing the import for the same address either runs before the chunk (the row then
finds the address: ``exists``) or after it (the signup's WATCH sees the new index entry and
retries into "already there"). Optimistic WATCH per chunk was the other choice; it has to
watch the whole address index, so on a live list every signup anywhere would abort the
chunk, and a busy list could starve the import.

The script decides a row exactly as ``SubscriberStore.import_record`` does, from the
address index and the suppression list alone. The one case that needs an existing record,
an ``unsubscribed`` row for an address we have (the record must leave), makes the script
stop before that row: the caller runs it through ``import_record`` and resumes after it, so
rows keep their order. Every key the script touches is passed in KEYS, and all share the
``{subscribers}`` hash tag: it runs on Redis Cluster as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import redis

from syndication.store.subscriber_record import UNSUBSCRIBED, Subscriber, encode
from syndication.store.subscribers import (
    FREQUENCIES,
    ImportOutcome,
    SubscriberStore,
    check_choices,
    email_key,
    new_id,
    suppression_value,
)

# KEYS: by-email, suppressed, counts, active:<each of FREQUENCIES>, then one record key a
# row. ARGV[1]: the rows as a JSON array, each [address key, id, status, active set (1-based,
# 0 = none), language, suppression JSON, [field, value, …] of the record] (one string is
# far cheaper to send than 30 arguments a row).
# Returns {codes of the rows applied, 1-based row to run alone (0 = none)}.
_IMPORT = """
local rows = cjson.decode(ARGV[1])
local out = {}
for row, r in ipairs(rows) do
  local ekey, id, st, act, lang = r[1], r[2], r[3], r[4], r[5]
  local suppressed = redis.call('HEXISTS', KEYS[2], ekey) == 1
  local old = redis.call('HGET', KEYS[1], ekey)
  local rec = KEYS[6 + row]
  if st == 'unsubscribed' then
    if old then return {table.concat(out), row} end
    if suppressed then
      out[row] = 's'
    else
      redis.call('HSET', KEYS[2], ekey, r[6])
      out[row] = 'a'
    end
  elseif suppressed then
    out[row] = 's'
  elseif old then
    out[row] = 'e'
  elseif redis.call('EXISTS', rec) == 1 then
    return {table.concat(out), row}
  else
    redis.call('HSET', rec, unpack(r[7]))
    redis.call('HSET', KEYS[1], ekey, id)
    redis.call('HINCRBY', KEYS[3], 'status:' .. st, 1)
    if act > 0 then
      redis.call('ZADD', KEYS[3 + act], 0, id)
      redis.call('HINCRBY', KEYS[3], 'lang:' .. lang, 1)
    end
    out[row] = 'c'
  end
end
return {table.concat(out), 0}
"""
_CODES = {
    "c": ImportOutcome.CREATED,
    "e": ImportOutcome.EXISTS,
    "s": ImportOutcome.SUPPRESSED,
    "a": ImportOutcome.SUPPRESSION_ADDED,
}
CHUNK = 500


class SubscriberBulk:
    """Bulk paths over a ``SubscriberStore``'s keys."""

    def __init__(self, store: SubscriberStore) -> None:
        self.store = store
        self.keys = store.keys
        self._script = store.r.register_script(_IMPORT)

    def import_records(
        self, rows: Sequence[tuple[Subscriber, str]], chunk: int = CHUNK
    ) -> list[ImportOutcome]:
        """``import_record`` for each (record, suppression reason), in order, ``chunk`` rows
        a call; ValueError (before anything is written) if a record's choices are invalid."""
        for record, _ in rows:
            check_choices(record.frequency, record.topics, record.language)
        outcomes: list[ImportOutcome] = []
        for start in range(0, len(rows), chunk):
            outcomes += self._chunk(rows[start : start + chunk])
        return outcomes

    def _chunk(self, rows: Sequence[tuple[Subscriber, str]]) -> list[ImportOutcome]:
        outcomes: list[ImportOutcome] = []
        while rows:
            prepared = [_Prepared(record) for record, _ in rows]
            keys = [self.keys.by_email, self.keys.suppressed, self.keys.counts]
            keys += [self.keys.active(f) for f in FREQUENCIES]
            keys += [self.keys.record(p.id) for p in prepared]
            args = [_arguments(p, reason) for p, (_, reason) in zip(prepared, rows, strict=True)]
            codes, stop = self._script(keys=keys, args=[json.dumps(args, ensure_ascii=False)])
            outcomes += [_CODES[c] for c in codes.decode()]
            if not stop:
                break
            record, reason = rows[stop - 1]
            outcomes.append(self.store.import_record(record, reason))
            rows = rows[stop:]
        return outcomes

    def migrate(self, batch: int = 500, progress: Callable[[int, int], None] | None = None) -> int:
        """Rewrite every format-1 record in format 2 and move it from the old sets to the
        counters; returns how many were upgraded. Safe to run while the service runs (each
        batch is one transaction under WATCH of its records) and to run again."""
        total = int(self.store.r.hlen(self.keys.by_email))
        upgraded = seen = 0
        ids: list[str] = []
        for _, sid in self.store.r.hscan_iter(self.keys.by_email, count=batch):
            ids.append(sid.decode())
            if len(ids) >= batch:
                upgraded, seen, ids = upgraded + self._upgrade(ids), seen + len(ids), []
                if progress is not None:
                    progress(seen, max(seen, total))
        upgraded += self._upgrade(ids) if ids else 0
        if progress is not None:
            progress(seen + len(ids), max(seen + len(ids), total))
        self.store.r.delete(self.keys.all)  # format 1's list of every id: nothing reads it
        return upgraded

    def _upgrade(self, ids: list[str]) -> int:
        records = [self.keys.record(sid) for sid in ids]
        with self.store.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(*records)
                    # Read on another connection: WATCH, taken first, still sees any change.
                    old = [s for s in self.store._load_records(ids) if s.stored_format == 1]
                    pipe.multi()
                    for sub in old:
                        self.store._unindex(pipe, sub)
                        self.store._write(pipe, None, replace(sub, stored_format=2))
                    pipe.execute()
                    return len(old)
                except redis.WatchError:
                    continue


class _Prepared:
    """A row as the script takes it, with the id it gets if it is created."""

    __slots__ = ("active", "at", "email", "id", "key", "language", "record", "status")

    def __init__(self, record: Subscriber) -> None:
        self.id = new_id()
        self.key = email_key(record.email)
        self.status = record.status
        self.active = record.active
        self.language = record.language
        self.email = record.email
        self.at = record.unsubscribed_at or record.updated_at or record.created_at
        self.record = replace(record, id=self.id, token_version=max(1, record.token_version))


def _arguments(p: _Prepared, reason: str) -> list[Any]:
    if p.status == UNSUBSCRIBED:
        sup = suppression_value(p.email, reason, p.at)
        return [p.key, p.id, p.status, 0, p.language, sup, []]
    fields = [x for pair in encode(p.record).items() for x in pair]
    active = FREQUENCIES.index(p.record.frequency) + 1 if p.active else 0
    return [p.key, p.id, p.status, active, p.language, "", fields]
