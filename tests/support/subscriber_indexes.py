"""What must hold between subscriber records and their indexes, whatever ran before."""

from __future__ import annotations

from collections import Counter

import redis

from syndication.store.subscribers import FREQUENCIES, STATUSES, SubscriberStore, email_key


def check_indexes(client: redis.Redis, prefix: str) -> None:
    """One record per address, each in the address index under its own address, in the
    active set of its frequency exactly when confirmed, and counts that match the records."""
    store = SubscriberStore(client, prefix)
    base = f"{prefix}{{subscribers}}:"
    index = {k.decode(): v.decode() for k, v in client.hgetall(f"{base}by-email").items()}
    records = {
        k.decode().rsplit(":", 1)[1] for k in client.scan_iter(match=f"{base}sub:*", count=1000)
    }
    assert sorted(index.values()) == sorted(records), "a record without its index entry"
    subs = {sid: store.get(sid) for sid in records}
    for key, sid in index.items():
        sub = subs[sid]
        assert sub is not None and email_key(sub.email) == key
    for frequency in FREQUENCIES:
        members = {m.decode() for m in client.zrange(f"{base}active:{frequency}", 0, -1)}
        expected = {i for i, s in subs.items() if s and s.active and s.frequency == frequency}
        assert members == expected, frequency
    counts = store.counts()
    by_status = Counter(s.status for s in subs.values() if s)
    assert counts["by_status"] == {s: by_status.get(s, 0) for s in STATUSES}
    assert counts["total"] == len(records)
    by_lang = Counter(s.language for s in subs.values() if s and s.active)
    assert {k: v for k, v in counts["active_by_language"].items() if v} == dict(by_lang)
