"""``EditionStore.add_lines`` parses 'id TAB entry' lines with plain finds: for any lines it
accepts, it stores exactly what the earlier pattern-matching script (``gmatch``) stored —
the same rcpt, state and pending entries and counts — and it refuses what that script would
have read differently (a line without an id)."""

from __future__ import annotations

import itertools

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndication.store.editions import EditionStore, Policy
from tests.support.ledger import NOW

# The freezing script before plain finds, kept as the reference.
_GMATCH_ADD = """
if redis.call('HGET', KEYS[1], 'status') ~= 'creating' then return -1 end
local entries, states, scores = {}, {}, {}
for id, entry in string.gmatch(ARGV[1], '([^\\t\\n]+)\\t([^\\n]+)') do
  entries[#entries + 1] = id
  entries[#entries + 1] = entry
  states[#states + 1] = id
  states[#states + 1] = 'pending'
  scores[#scores + 1] = 0
  scores[#scores + 1] = id
end
if #entries == 0 then return 0 end
local added = redis.call('HSET', KEYS[2], unpack(entries))
redis.call('HSET', KEYS[3], unpack(states))
redis.call('ZADD', KEYS[4], unpack(scores))
if added > 0 then
  redis.call('HINCRBY', KEYS[1], 'n_pending', added)
  redis.call('HINCRBY', KEYS[1], 'n_total', added)
end
return added
"""

_examples = itertools.count()
pieces = st.text('ab1\t\n{}":é ', max_size=8)
lines = st.lists(pieces, max_size=8)


def _stored(client: redis.Redis, store: EditionStore, eid: str) -> tuple[object, ...]:
    def key(part: str) -> str:
        return store.key(eid, part)

    meta = client.hmget(key("meta"), "n_total", "n_pending")
    pending = client.zrange(key("pending"), 0, -1, withscores=True)
    return client.hgetall(key("rcpt")), client.hgetall(key("state")), pending, meta


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chunks=st.lists(lines, min_size=1, max_size=3))
def test_add_lines_stores_what_the_pattern_script_stored(
    redis_client: redis.Redis, prefix: str, chunks: list[list[str]]
) -> None:
    store = EditionStore(redis_client, prefix)
    reference = redis_client.register_script(_GMATCH_ADD)
    # Fresh editions per example: the server is shared, so nothing is flushed.
    new, old = f"new{next(_examples)}", f"old{next(_examples)}"
    store.init(new, "daily", new, [], Policy(), NOW)
    store.init(old, "daily", old, [], Policy(), NOW)
    for chunk in chunks:
        try:
            added = store.add_lines(new, chunk, {})
        except ValueError:
            continue  # refused as a whole: nothing written, nothing to compare
        keys = [store.key(old, p) for p in ("meta", "rcpt", "state", "pending", "segments")]
        assert reference(keys=keys, args=["\n".join(chunk), 0]) == added
    assert _stored(redis_client, store, new) == _stored(redis_client, store, old)


def test_add_lines_refuses_a_line_without_an_id(store_: EditionStore) -> None:
    store_.init("e", "daily", "e", [], Policy(), NOW)
    with pytest.raises(ValueError, match="without an id"):
        store_.add_lines("e", ["s1\t{}", "\tX\tY", "orphan"], {})
    assert store_.add_lines("e", ["s1\t{}", "s2\t{}"], {}) == 2


@pytest.fixture
def store_(redis_client: redis.Redis, prefix: str) -> EditionStore:
    return EditionStore(redis_client, prefix)
