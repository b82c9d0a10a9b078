"""Embargoes and holds in the article store, against a real Redis (issue #16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from syndication.models import Article
from syndication.store.article_states import ArticleStates
from syndication.store.articles import ArticleStore, Outcome, State
from tests.support import article_data

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)


def art(n: int = 1, **kw: object) -> Article:
    return Article.model_validate(article_data(n, **kw))


def test_embargoed_until_must_carry_a_time_zone_and_may_lie_weeks_ahead() -> None:
    with pytest.raises(ValidationError, match="embargoed_until"):
        Article.model_validate(article_data(1, embargoed_until="2026-12-01T12:00:00"))
    ahead = (NOW + timedelta(days=30)).isoformat()
    data = article_data(1, embargoed_until=ahead)
    assert Article.model_validate(data, context={"now": NOW}).embargoed_until is not None


def test_an_embargoed_article_is_in_no_public_index_and_no_feed_name_until_released(
    redis_client, prefix
) -> None:
    store = ArticleStore(redis_client, prefix)
    states = ArticleStates(store)
    secret = art(1, topics=["Hidden"], embargoed_until=LATER.isoformat())
    assert store.upsert(secret, NOW) is Outcome.CREATED
    assert store.get(secret.id).state is State.EMBARGOED  # type: ignore[union-attr]
    assert store.latest_ids(10) == [] and store.ids_between(NOW - timedelta(days=99), LATER) == []
    assert "topic/hidden" not in [name for name, _, _ in store.feed_catalog()]
    assert store.feed_title("topic/hidden") is None
    assert [p.kind for p in store.pending(secret.id)] == ["embargoed"]
    assert [s.article.id for s in states.embargoed()] == [secret.id]

    assert states.release_due(LATER - timedelta(seconds=1)) == []
    assert states.release_due(LATER) == [secret.id]
    assert states.release_due(LATER) == []
    assert store.latest_ids(10) == [secret.id]
    assert store.feed_title("topic/hidden") == "Hidden"
    assert [p.kind for p in store.pending(secret.id)] == ["published"]
    # It sorts at its release time, so the digest after the release finds it.
    assert store.ids_between(LATER - timedelta(minutes=1), LATER) == [secret.id]


def test_the_cms_can_move_an_embargo_lift_it_early_but_not_embargo_a_public_article(
    redis_client, prefix
) -> None:
    store = ArticleStore(redis_client, prefix)
    states = ArticleStates(store)
    first = art(1, embargoed_until=LATER.isoformat())
    store.upsert(first, NOW)
    moved = art(1, embargoed_until=(LATER + timedelta(hours=1)).isoformat())
    assert store.upsert(moved, NOW) is Outcome.UPDATED
    assert states.release_due(LATER) == []  # the old time no longer releases it
    lifted = art(1)  # no embargo any more: public now, announced as a publish
    assert store.upsert(lifted, NOW) is Outcome.UPDATED
    assert store.get(first.id).state is State.PUBLISHED  # type: ignore[union-attr]
    assert [p.kind for p in store.pending(first.id)] == ["published"]
    assert states.due(LATER + timedelta(days=1)) == []
    again = art(1, embargoed_until=LATER.isoformat(), title="Now embargoed?")
    store.upsert(again, NOW)
    assert store.get(first.id).state is State.PUBLISHED  # type: ignore[union-attr]


def test_hold_and_release_and_what_they_refuse(redis_client, prefix) -> None:
    store = ArticleStore(redis_client, prefix)
    states = ArticleStates(store)
    public = art(1)
    store.upsert(public, NOW)
    assert states.hold(public.id, "legal", NOW) is Outcome.HELD
    assert states.hold(public.id, "legal", NOW) is Outcome.ALREADY_HELD
    assert store.latest_ids(10) == []
    update = art(1, title="Changed while held", updated_at="2026-11-02T13:00:00+00:00")
    assert store.upsert(update, NOW) is Outcome.UPDATED
    held = store.get(public.id)
    assert held is not None and held.state is State.HELD and held.hold is not None
    assert held.hold.reason == "legal" and store.latest_ids(10) == []
    assert states.release_hold(public.id, LATER) is Outcome.RELEASED
    assert states.release_hold(public.id, LATER) is Outcome.NOT_HELD
    released = store.get(public.id)
    assert released is not None and released.state is State.PUBLISHED
    assert released.hold is not None and released.hold.released_at == LATER
    assert store.latest_ids(10) == [public.id]
    assert states.hold("nope", "x", NOW) is Outcome.NOT_FOUND
    store.withdraw(public.id, LATER)
    assert states.hold(public.id, "x", LATER) is Outcome.ALREADY_WITHDRAWN


def test_withdrawing_an_embargoed_article_names_none_of_its_feeds(redis_client, prefix):
    store = ArticleStore(redis_client, prefix)
    states = ArticleStates(store)
    secret = art(1, topics=["Hidden"], embargoed_until=LATER.isoformat())
    store.upsert(secret, NOW)
    assert store.withdraw(secret.id, NOW) is Outcome.WITHDRAWN
    assert store.feed_title("topic/hidden") is None
    assert states.due(LATER) == [] and states.release_due(LATER) == []
