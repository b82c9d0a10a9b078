"""The article store: outcomes, indexes and atomicity against a real Redis."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from syndication.models import Article
from syndication.store.articles import ArticleStore, Outcome, State
from tests.support import article_data

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def art(n: int = 1, **kw: object) -> Article:
    return Article.model_validate(article_data(n, **kw))


def test_outcomes_of_repeated_updated_stale_and_withdrawn(redis_client, prefix):
    store = ArticleStore(redis_client, prefix)
    assert store.upsert(art(), NOW) is Outcome.CREATED
    assert store.upsert(art(), NOW) is Outcome.UNCHANGED
    changed = art(title="New title", updated_at="2026-11-02T13:00:00+00:00")
    assert store.upsert(changed, NOW) is Outcome.UPDATED
    stale = art(title="Old title", updated_at="2026-11-02T12:30:00+00:00")
    assert store.upsert(stale, NOW) is Outcome.STALE
    stored = store.get(changed.id)
    assert stored is not None and stored.article.title == "New title"
    assert store.withdraw(changed.id, NOW) is Outcome.WITHDRAWN
    assert store.withdraw(changed.id, NOW) is Outcome.ALREADY_WITHDRAWN
    assert store.withdraw("nope", NOW) is Outcome.NOT_FOUND
    assert store.get(changed.id).state is State.WITHDRAWN  # type: ignore[union-attr]
    assert store.latest(10) == []
    assert store.upsert(changed, NOW) is Outcome.REPUBLISHED
    assert [a.id for a in store.latest(10)] == [changed.id]


def test_indexes_follow_topic_author_and_section_changes(redis_client, prefix):
    store = ArticleStore(redis_client, prefix)
    store.upsert(art(topics=["Coca"], authors=["Ana"], section="Brief"), NOW)
    k = store.keys
    assert store.latest_ids(10, index=k.index("topic", "coca")) == ["sample-story-1"]
    store.upsert(
        art(
            topics=["Extortion"],
            authors=["Bea"],
            section="Analysis",
            updated_at="2026-11-03T00:00:00+00:00",
        ),
        NOW,
    )
    assert store.count(k.index("topic", "coca")) == 0
    assert store.count(k.index("author", "ana")) == 0
    assert store.count(k.index("section", "brief")) == 0
    assert store.latest_ids(10, index=k.index("topic", "extortion")) == ["sample-story-1"]
    assert store.latest_ids(10, index=k.index("author", "bea")) == ["sample-story-1"]
    store.withdraw("sample-story-1", NOW)
    for key in (k.by_date, k.index("topic", "extortion"), k.index("lang", "en")):
        assert store.count(key) == 0


def test_latest_is_newest_first(redis_client, prefix):
    store = ArticleStore(redis_client, prefix)
    for n in (3, 1, 2):
        store.upsert(art(n), NOW)
    assert store.latest_ids(10) == ["sample-story-3", "sample-story-2", "sample-story-1"]
    assert store.latest_ids(1, offset=1) == ["sample-story-2"]


def test_concurrent_writers_of_one_article_create_it_once(redis_client, prefix):
    store = ArticleStore(redis_client, prefix)
    outcomes: list[Outcome] = []
    barrier = threading.Barrier(8)

    def write() -> None:
        barrier.wait()
        outcomes.append(store.upsert(art(), NOW))

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(Outcome.CREATED) == 1
    assert outcomes.count(Outcome.UNCHANGED) == 7


class BrokerDown:
    """An Events whose broker is unreachable, as kombu raises it."""

    def published(self, article_id: str) -> None:
        raise ConnectionError("broker down")

    updated = withdrawn = published


def test_event_survives_a_broker_outage_between_write_and_enqueue(redis_client, prefix):
    from syndication.events import RecordingEvents
    from syndication.services.articles import ArticleService

    store = ArticleStore(redis_client, prefix)
    failing = ArticleService(store, BrokerDown(), clock=lambda: NOW)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        failing.accept(art())
    assert store.get("sample-story-1") is not None  # stored …
    assert [p.kind for p in store.pending()] == ["published"]  # … and the event is owed
    recording = RecordingEvents()
    working = ArticleService(store, recording, clock=lambda: NOW)
    # The CMS retries the same content: nothing is stored anew, but the owed event goes out.
    assert working.accept(art()) is Outcome.UNCHANGED
    assert recording.calls == [("published", "sample-story-1")]
    assert store.pending() == []
    assert working.accept(art()) is Outcome.UNCHANGED
    assert recording.calls == [("published", "sample-story-1")]


def test_sweep_hands_over_owed_events_once(redis_client, prefix):
    from syndication.events import RecordingEvents
    from syndication.services.articles import ArticleService

    store = ArticleStore(redis_client, prefix)
    for n in (1, 2):
        store.upsert(art(n), NOW)  # written, never dispatched (say the process died)
    store.withdraw("sample-story-2", NOW)
    recording = RecordingEvents()
    service = ArticleService(store, recording, clock=lambda: NOW)
    assert service.flush_pending() == 2
    assert sorted(recording.calls) == [
        ("published", "sample-story-1"),
        ("withdrawn", "sample-story-2"),
    ]
    assert service.flush_pending() == 0


# -- reads behind the admin pages -----------------------------------------------------------


def test_count_all_and_page_by_change_include_withdrawn_newest_change_first(redis_client, prefix):
    from datetime import timedelta

    store = ArticleStore(redis_client, prefix)
    for n in (1, 2, 3):
        store.upsert(art(n), NOW + timedelta(minutes=n))
    store.withdraw("sample-story-1", NOW + timedelta(minutes=10))  # now the latest change
    assert store.count() == 2
    assert store.count_all() == 3
    assert store.page_by_change(0, 2) == ["sample-story-1", "sample-story-3"]
    assert store.page_by_change(2, 2) == ["sample-story-2"]
    assert store.page_by_change(3, 2) == []
    assert store.page_by_change(0, 0) == []  # not "everything", as ZREVRANGE 0 -1 would be


def test_feed_cache_stats_read_sizes_and_dates_without_the_bodies(redis_client, prefix):
    from datetime import timedelta

    from syndication.store.feeds import DocumentStats, FeedCache

    built_at = NOW + timedelta(minutes=5)  # when the bytes were built: the cache's clock
    cache = FeedCache(redis_client, prefix, clock=lambda: built_at)
    body = b"<rss>" + b"x" * 1000 + b"</rss>"
    assert cache.put("all", "rss", body, "application/rss+xml", NOW)
    cache.get("all", "rss", "gzip")  # a compressed variant must not count in the size
    stats = cache.stats(["all", "topic/none"], ("rss", "atom"))
    assert set(stats) == {
        ("all", "rss"),
        ("all", "atom"),
        ("topic/none", "rss"),
        ("topic/none", "atom"),
    }
    built = stats[("all", "rss")]
    assert built.size == len(body) and built.last_modified == NOW
    assert built.built_at == built_at and built.built_at.tzinfo is not None
    assert stats[("all", "atom")] == DocumentStats(None, None, None)
    assert stats[("topic/none", "rss")] == DocumentStats(None, None, None)
    assert cache.stats([], ("rss",)) == {}


def test_metrics_feed_counts_and_a_shared_round_trip_with_the_feed_cache(redis_client, prefix):
    from syndication.store.batch import together
    from syndication.store.feeds import FeedCache
    from syndication.store.metrics import FeedCounts, Metrics

    metrics = Metrics(redis_client, prefix)
    assert metrics.feed_counts() == FeedCounts({}, {})
    metrics.add("feed_requests_by_feed_total", "all", n=5)
    metrics.add("feed_requests_by_feed_total", "topic/coca", n=2)
    metrics.add("feed_not_modified_by_feed_total", "all", n=3)
    metrics.add("feed_requests_total", "200", n=7)  # another family: not in the answer
    metrics.flush()
    expected = FeedCounts({"all": 5, "topic/coca": 2}, {"all": 3})
    assert metrics.feed_counts() == expected
    cache = FeedCache(redis_client, prefix, clock=lambda: NOW)
    cache.put("all", "json", b"{}", "application/feed+json", NOW)
    counts, stats = together(metrics.feed_counts_read(), cache.stats_read(["all"], ("json", "rss")))
    assert counts == expected  # each read gets its own replies back from the one pipeline
    assert stats[("all", "json")].size == 2 and stats[("all", "rss")].size is None


def test_admin_sessions_are_stored_hashed_with_a_ttl_and_end_on_delete(redis_client, prefix):
    from datetime import timedelta

    from syndication.store.admin_sessions import AdminSessionStore, SessionRecord

    store = AdminSessionStore(redis_client, prefix)
    sid = "s" * 43
    record = SessionRecord(NOW, "fingerprint", "203.0.113.9")
    store.save(sid, record, timedelta(hours=1, milliseconds=1))
    assert store.load(sid) == record
    assert store.load("t" * 43) is None
    (key,) = redis_client.keys(f"{prefix}{{admin}}:session:*")
    assert sid.encode() not in key and sid.encode() not in redis_client.get(key)
    assert 3600 < redis_client.ttl(key) <= 3601  # rounded up, never shorter than asked
    store.delete(sid)
    assert store.load(sid) is None
    store.delete(sid)  # ending an ended session is harmless
    for garbage in (b"not json", b"[]", b'{"created": "x", "cred": "c"}', b'{"cred": "c"}'):
        redis_client.set(key, garbage)
        assert store.load(sid) is None, garbage


def test_once_tokens_are_claimed_exactly_once_per_purpose(redis_client, prefix):
    from syndication.store.once import OnceStore

    once = OnceStore(redis_client, prefix)
    assert once.claim("admin:rotate-once", "p1\x00abc", 60)
    assert not once.claim("admin:rotate-once", "p1\x00abc", 60)
    assert once.claim("admin:rotate-once", "p2\x00abc", 60)  # another token
    assert once.claim("other-use", "p1\x00abc", 60)  # another purpose
    for key in redis_client.keys(f"{prefix}*"):
        assert b"abc" not in key and 0 < redis_client.ttl(key) <= 60
    with pytest.raises(ValueError):
        once.claim("Bad Purpose*", "x", 60)
    with pytest.raises(ValueError):
        once.claim("ok", "x", 0)

    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(once.claim("race", "same", 60))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_put_many_stores_only_changed_documents_and_announces_each(redis_client, prefix):
    from syndication.store.feeds import Document, FeedCache

    now = datetime(2026, 11, 26, tzinfo=UTC)
    cache = FeedCache(redis_client, prefix, clock=lambda: now)
    docs = [Document("all", fmt, f"<{fmt}/>".encode(), "text/xml", now) for fmt in ("rss", "atom")]
    assert cache.put_many(docs) == [True, True]
    cache.add_variant("all", "rss", b"<rss/>", "gzip")
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(cache.changes)
    pubsub.get_message(timeout=1)
    again = [docs[0], Document("all", "atom", b"<atom2/>", "text/xml", now)]
    assert cache.put_many(again) == [False, True]
    assert cache.get("all", "atom").body == b"<atom2/>"
    assert cache.get("all", "rss", "gzip") is not None  # unchanged: its variant stays
    message = pubsub.get_message(timeout=1)
    assert message is not None and message["data"] == b"all.atom"
    assert pubsub.get_message(timeout=0.2) is None
    pubsub.close()
    assert cache.put_many([]) == []


def test_decoded_records_are_shared_until_the_bytes_change(redis_client, prefix):
    from syndication.store.articles import DecodedRecords

    store = ArticleStore(redis_client, prefix)
    store.put(art(1, id="one"), datetime(2026, 11, 26, tzinfo=UTC))
    decoded = DecodedRecords()
    first = store.get_each(["one", "missing"], decoded)
    assert list(first) == ["one"]
    assert store.get_each(["one"], decoded)["one"] is first["one"]
    store.put(art(1, id="one", title="Changed"), datetime(2026, 11, 26, tzinfo=UTC))
    changed = store.get_each(["one"], decoded)["one"]
    assert changed is not first["one"] and changed.article.title == "Changed"
    assert store.get_each(["one"])["one"] is not changed  # without the memo: decoded anew


def test_feed_heads_reads_titles_newest_ids_and_counts_in_one_go(redis_client, prefix):
    store = ArticleStore(redis_client, prefix)
    for n in (1, 2, 3):
        store.put(art(n, id=f"h{n}", topics=["Coca"]), datetime(2026, 11, 26, tzinfo=UTC))
    all_head, coca, none = store.feed_heads(["all", "topic/coca", "topic/nothing"], 2)
    assert (all_head.title, all_head.ids, all_head.count) == (None, ["h3", "h2"], 3)
    assert (coca.title, coca.ids, coca.count) == ("Coca", ["h3", "h2"], 3)
    assert (none.title, none.ids, none.count) == (None, [], 0)
