"""The article store: outcomes, indexes and atomicity against a real Redis."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from conftest import article_data

from syndication.models import Article
from syndication.store.articles import ArticleStore, Outcome, State

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
    failing = ArticleService(store, BrokerDown())  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        failing.accept(art())
    assert store.get("sample-story-1") is not None  # stored …
    assert [p.kind for p in store.pending()] == ["published"]  # … and the event is owed
    recording = RecordingEvents()
    working = ArticleService(store, recording)
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
    service = ArticleService(store, recording)
    assert service.flush_pending() == 2
    assert sorted(recording.calls) == [
        ("published", "sample-story-1"),
        ("withdrawn", "sample-story-2"),
    ]
    assert service.flush_pending() == 0
