"""A Sentinel-watched master (tests/support/cluster.py): the store, the feed-change listener
and Celery's broker all find it through the sentinel. Failover itself is Redis's and is
not tested here: one master, one sentinel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kombu import Connection

from syndication.models import Article
from syndication.redis_urls import kombu_broker
from syndication.store.articles import ArticleStore, Outcome
from syndication.store.connection import connect
from syndication.store.feeds import FeedCache, FeedChangeListener
from tests.support import article_data, run_in_own_loop
from tests.support.cluster import LocalSentinel

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSentinel]:
    watched = LocalSentinel(Path(tmp_path_factory.mktemp("sentinel"))).start()
    yield watched
    watched.stop()


def test_the_store_writes_to_the_master_the_sentinel_names(sentinel: LocalSentinel, prefix: str):
    client = connect(sentinel.url)
    store = ArticleStore(client, prefix)
    assert store.put(Article.model_validate(article_data(1)), NOW).outcome is Outcome.CREATED
    master = connect(f"redis://127.0.0.1:{sentinel.master.port}/0")
    assert master.exists(store.keys.article("sample-story-1"))


def test_the_feed_listener_hears_changes_through_the_sentinel(sentinel: LocalSentinel, prefix: str):
    cache = FeedCache(connect(sentinel.url), prefix, clock=lambda: NOW)

    async def hear() -> list[object]:
        heard = []
        async with FeedChangeListener(sentinel.url, cache.changes, "test") as listener:
            assert await listener.next(timeout=10) is not None  # the subscribe confirmation
            cache.put("all", "rss", b"<rss/>", "application/rss+xml", NOW)
            for _ in range(100):  # None after each quiet wait: a bounded number of them
                message = await listener.next(timeout=1)
                if message is not None and message[0] == "message":
                    heard.append(message[1])
                    break
        return heard

    assert run_in_own_loop(hear()) == [b"all.rss"]


def test_celery_broker_url_reaches_the_master(sentinel: LocalSentinel, prefix: str):
    url, options = kombu_broker(sentinel.url)
    with Connection(url, transport_options=options) as conn:
        queue = conn.SimpleQueue(f"{prefix}q")
        queue.put({"n": 1})
        assert queue.get(timeout=10).payload == {"n": 1}
        queue.close()
