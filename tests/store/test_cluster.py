"""Every store on a real three-master Redis Cluster (tests/support/cluster.py).

A transaction, Lua script or multi-key command whose keys are in several slots fails there
(CROSSSLOT from Redis, or redis-py refusing a cross-slot transaction before it is sent), so
running the stores' operations is the check; ``test_key_tags`` checks the names statically.
The publish → feeds → edition path with a worker is tests/workers/test_cluster.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syndication.models import Article
from syndication.store.admin_sessions import AdminSessionStore, SessionRecord
from syndication.store.articles import ArticleStore, Outcome
from syndication.store.confirmations import ConfirmationStore
from syndication.store.connection import connect, is_cluster
from syndication.store.durability import resolve
from syndication.store.feeds import FeedCache, RebuildQueued
from syndication.store.key_migration import KeyMigration, KeysNotMigrated
from syndication.store.metrics import Heartbeats, Metrics
from syndication.store.once import OnceStore
from syndication.store.partners import PartnerStore
from syndication.store.poll_state import PollState, PollStateStore
from syndication.store.ratelimit import RateLimiter, SendRateLimiter
from syndication.store.subscribers import SubscriberStore
from tests.support import article_data, run_in_own_loop
from tests.support.legacy import legacy_write

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
def store_client(cluster: Any) -> Iterator[Any]:
    client = connect(cluster.url)
    assert is_cluster(client)
    yield client
    client.close()


def test_articles_write_update_withdraw_and_upgrade_on_a_cluster(store_client: Any, prefix: str):
    store = ArticleStore(store_client, prefix)
    one = Article.model_validate(article_data(1))
    assert store.put(one, NOW).outcome is Outcome.CREATED
    changed = one.model_copy(update={"title": "Changed", "updated_at": NOW})
    assert store.put(changed, NOW).outcome is Outcome.UPDATED
    legacy_write(store_client, prefix, Article.model_validate(article_data(2)), NOW)
    assert store.index_legacy_urls(batch=1) == 1
    assert store.withdraw("sample-story-1", NOW) is Outcome.WITHDRAWN
    assert {e.article_id for e in store.pending()} == {"sample-story-1"}
    for event in store.pending():
        store.clear_pending(event)
    assert [s.article.id for s in store.get_many(["sample-story-1", "sample-story-2"])] == [
        "sample-story-1",
        "sample-story-2",
    ]
    assert set(store.take_dirty_feeds()) >= {"all", "topic/coca"}
    with store.rebuild_lock():
        assert store.feed_catalog()


def test_feeds_and_flags_on_a_cluster(store_client: Any, prefix: str):
    cache = FeedCache(store_client, prefix, clock=lambda: NOW)
    assert cache.put("topic/coca", "rss", b"<rss/>", "application/rss+xml", NOW)
    cached = cache.get("topic/coca", "rss", "gzip")
    assert cached is not None and cached.encoding == "gzip"
    assert cache.stats(["all", "topic/coca"], ["rss"])[("topic/coca", "rss")].size == 6
    flag = RebuildQueued(store_client, prefix)
    assert flag.claim("a", 60) and not flag.claim("b", 60)
    flag.clear()
    polls = PollStateStore(store_client, prefix)
    polls.save(PollState("https://example.org/feed", etag='"1"', checked_at=NOW))
    assert polls.get("https://example.org/feed") is not None


def test_partners_subscribers_and_confirmations_on_a_cluster(store_client: Any, prefix: str):
    partners = PartnerStore(store_client, prefix)
    partner, _ = partners.add("Outlet", commercial=False, now=NOW)
    partners.rotate(partner.id, NOW)
    partners.record_pulled(partner.id, {"a": "h1"}, NOW)
    assert partners.mark_notified(partner.id, "a", "updated:h2")
    partners.revoke(partner.id, NOW)
    subs = SubscriberStore(store_client, prefix)
    _, sub = subs.signup("reader@example.org", "daily", (), "en", NOW)
    assert sub is not None
    subs.confirm(sub.id, NOW)
    subs.unsubscribe(sub.id, NOW)
    subs.suppress("reader@example.org", "bounce", NOW)
    confirmations = ConfirmationStore(store_client, prefix)
    requested = confirmations.request("s1", NOW.timestamp(), 60)
    begun = confirmations.begin(requested.request_id, NOW.timestamp(), 30, "t1")
    assert begun.status == "ok"
    ttl = 3600
    assert confirmations.mark(requested.request_id, "t1", "sent", NOW.timestamp(), "", ttl) == "ok"


def test_counters_sessions_and_limits_on_a_cluster(store_client: Any, prefix: str):
    metrics = Metrics(store_client, prefix)
    metrics.add("articles_ingested_total", "created")
    metrics.flush()
    assert metrics.read()
    beats = Heartbeats(store_client, prefix)
    beats.beat("celery@a", {"pid": 1})
    assert beats.read()
    assert OnceStore(store_client, prefix).claim("signed:api", "t", 60)
    sessions = AdminSessionStore(store_client, prefix)
    sessions.save("s" * 43, SessionRecord(NOW, "c"), timedelta(hours=1))
    assert sessions.load("s" * 43) is not None
    assert RateLimiter(store_client, prefix).allow("203.0.113.9", 5, 60)[0]
    assert SendRateLimiter(store_client, prefix, per_second=10).try_take(1) == 0.0
    assert resolve(store_client, "auto").mode.value in ("always", "off")
    with pytest.raises(ValueError, match="Cluster"):
        resolve(store_client, "wait")


def test_key_migration_looks_but_never_renames_on_a_cluster(store_client: Any, prefix: str):
    KeyMigration(store_client, prefix).run()  # nothing old: it only sets the marker
    assert KeyMigration(store_client, prefix).done()
    store_client.set(f"{prefix}article:old", "{}")
    with pytest.raises(KeysNotMigrated, match="migrate-keys"):
        KeyMigration(store_client, prefix).run()


def test_the_feed_listener_on_one_node_hears_a_change_written_on_another(
    store_client: Any, cluster: Any, prefix: str
):

    from syndication.store.feeds import FeedChangeListener

    cache = FeedCache(store_client, prefix, clock=lambda: NOW)

    async def hear() -> bytes | None:
        async with FeedChangeListener(cluster.url, cache.changes, "test") as listener:
            assert await listener.next(timeout=10) is not None  # the subscribe confirmation
            for fmt in ("rss", "atom", "json"):  # written on whichever node has {feeds}
                cache.put("all", fmt, b"<x/>", "text/xml", NOW)
            for _ in range(100):  # None after each quiet wait: a bounded number of them
                message = await listener.next(timeout=1)
                if message is not None and message[0] == "message":
                    return bytes(message[1])
        return None

    assert run_in_own_loop(hear()) == b"all.rss"
