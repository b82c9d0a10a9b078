"""Article identity in the store, on a real Redis: who sent an article and what they call it
decide which article a write touches; a source never touches another's; ids never collide;
records written before owners existed keep their ids and feed ids (the lazy upgrade)."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from syndication.identity import (
    PUBLISHER,
    NotOwner,
    canonical_url,
    feed_owner,
    for_api,
    for_feed_item,
    for_url,
)
from syndication.models import Article
from syndication.render.feed_common import item_id
from syndication.store.articles import ArticleStore, Outcome, State
from tests.support import article_data
from tests.support.legacy import legacy_write

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
SITE = "https://insightcrime.org"
PARTNER_FEED = "https://partner.example/feed.xml"
_examples = itertools.count()


def art(url: str, n: int = 1, **kw: object) -> Article:
    return Article.model_validate(article_data(n, url=url, **kw))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://blog.example/?p=1", "https://blog.example/?p=2"),
        ("https://blog.example/2024/01/index.html", "https://blog.example/2024/02/index.html"),
        ("https://blog.example/news/story", "https://blog.example/news/story/"),
        ("https://blog.example/news/Story", "https://blog.example/news/story"),
        ("https://blog.example/a/story", "https://other.example/b/story"),
    ],
)
def test_urls_that_end_alike_are_two_articles(
    redis_client: redis.Redis, prefix: str, first: str, second: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    one = store.put(art(first, 1), NOW)
    two = store.put(art(second, 2), NOW)
    assert (one.outcome, two.outcome) == (Outcome.CREATED, Outcome.CREATED)
    assert one.article.id != two.article.id
    assert one.article.id == art(first).id  # the first keeps the readable slug
    assert two.article.id.startswith(art(second).id + "-")  # the second adds a short hash
    for written in (one, two):
        stored = store.get(written.article.id)
        assert stored is not None and stored.article.url == written.article.url
        assert stored.owner == PUBLISHER


@pytest.mark.parametrize(
    "variant",
    [
        "HTTPS://Blog.Example/news/story?p=1",
        "https://blog.example:443/news/story?p=1#comments",
        "https://blog.example/news/story?p=1&utm_source=newsletter&utm_medium=email",
    ],
)
def test_the_same_canonical_url_is_the_same_article(
    redis_client: redis.Redis, prefix: str, variant: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    first = store.put(art("https://blog.example/news/story?p=1"), NOW)
    again = store.put(art(variant, title="Corrected", updated_at="2026-11-02T13:00:00+00:00"), NOW)
    assert again.outcome is Outcome.UPDATED and again.article.id == first.article.id
    assert store.count_all() == 1


def test_cms_id_identifies_across_url_changes_and_two_ids_are_two_articles(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    a = store.put(art("https://blog.example/?p=1"), NOW, for_api("https://blog.example/?p=1", "1"))
    moved = art("https://blog.example/2026/story", updated_at="2026-11-02T13:00:00+00:00")
    b = store.put(moved, NOW, for_api(moved.url, "1"))
    assert a.article.id == b.article.id == "1" and b.outcome is Outcome.UPDATED
    # Another post of the same CMS whose URL ends the same way is another article.
    other = art("https://blog.example/2027/story", 2)
    c = store.put(other, NOW, for_api(other.url, "2"))
    assert c.outcome is Outcome.CREATED and c.article.id == "2"
    # The old URL is free again: the index follows the article.
    k = store.keys
    assert redis_client.hget(k.article_urls, canonical_url("https://blog.example/?p=1")) is None
    assert redis_client.hget(k.article_urls, canonical_url(moved.url)) == b"1"


def test_a_polled_source_never_touches_the_publishers_article(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    ours = store.put(art(f"{SITE}/news/peru-coca/"), NOW)
    hostile = art(f"{SITE}/news/peru-coca/", title="Replaced", updated_at="2026-12-01T00:00:00Z")
    with pytest.raises(NotOwner) as refused:
        store.put(hostile, NOW, for_feed_item(PARTNER_FEED, hostile.url, "guid-1"))
    assert refused.value.owner == PUBLISHER and refused.value.article_id == ours.article.id
    # A link that only ends like ours is a new article of the partner's, under another id.
    lookalike = art("https://partner.example/copies/peru-coca/", title="Their copy")
    theirs = store.put(lookalike, NOW, for_feed_item(PARTNER_FEED, lookalike.url, "guid-2"))
    assert theirs.outcome is Outcome.CREATED and theirs.article.id != ours.article.id
    assert store.get(theirs.article.id).owner == feed_owner(PARTNER_FEED)  # type: ignore[union-attr]
    stored = store.get(ours.article.id)
    assert stored is not None and stored.article.title == "Sample story 1"
    # … and the publisher cannot take the partner's article over either.
    with pytest.raises(NotOwner) as back:
        store.put(art(lookalike.url, title="Mine now"), NOW)
    assert back.value.owner == feed_owner(PARTNER_FEED)
    # Nothing of the refused writes reached an index or the outbox.
    assert {p.article_id for p in store.pending()} == {ours.article.id, theirs.article.id}


def test_a_source_cannot_move_its_article_onto_another_sources_url(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    store.put(art(f"{SITE}/news/ours/"), NOW)
    mine = art("https://partner.example/a", 2)
    store.put(mine, NOW, for_feed_item(PARTNER_FEED, mine.url, "g"))
    moved = art(f"{SITE}/news/ours/", 2, updated_at="2026-12-01T00:00:00Z")
    with pytest.raises(NotOwner):
        store.put(moved, NOW, for_feed_item(PARTNER_FEED, moved.url, "g"))


def test_concurrent_new_articles_whose_urls_end_alike_get_distinct_ids(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    barrier = threading.Barrier(8)
    ids: list[str] = []

    def write(n: int) -> None:
        article = art(f"https://blog.example/{n}/index.html", n)
        barrier.wait()
        ids.append(store.put(article, NOW).article.id)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 8 and store.count_all() == 8


_SEGMENTS = st.sampled_from(["index.html", "story", "Story", "story/", "?p=1", "?p=2", ""])
_PATHS = st.lists(st.sampled_from(["2024", "01", "02", "news", "a"]), max_size=3)
_URLS = st.builds(
    lambda host, path, last, frag: f"https://{host}/{'/'.join(path)}/{last}{frag}".replace(
        "//?", "/?"
    ),
    st.sampled_from(["blog.example", "BLOG.example", "other.example"]),
    _PATHS,
    _SEGMENTS,
    st.sampled_from(["", "#top"]),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(urls=st.lists(_URLS, min_size=2, max_size=8))
def test_distinct_canonical_urls_never_share_an_id(
    redis_client: redis.Redis, prefix: str, urls: list[str]
) -> None:
    store = ArticleStore(redis_client, f"{prefix}{next(_examples)}:")
    ids: dict[str, str] = {}
    for n, url in enumerate(urls, 1):
        written = store.put(art(url, n), NOW)
        ids.setdefault(canonical_url(url), written.article.id)
        assert ids[canonical_url(url)] == written.article.id  # same URL: same article
    assert len(set(ids.values())) == len(ids)  # distinct URLs: distinct ids
    assert store.count_all() == len(ids)


# -- the upgrade: records written before owners, keys and feed dates ------------------------


def test_an_old_record_keeps_its_id_and_feed_id_and_is_adopted_by_url(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    old = art(f"{SITE}/news/peru-coca/", published_at="2026-11-02T23:30:00-05:00")
    legacy_write(redis_client, prefix, old, NOW)
    served = item_id(store.get("peru-coca").article, SITE)  # type: ignore[union-attr]
    assert served == "tag:insightcrime.org,2026-11-02:article/peru-coca"

    # The same content again (a re-import after the upgrade): found by its URL, nothing to
    # announce, and now recorded as the publisher's with its feed date fixed.
    again = store.put(art(f"{SITE}/news/peru-coca/", published_at="2026-11-02T23:30:00-05:00"), NOW)
    assert again.outcome is Outcome.UNCHANGED and again.article.id == "peru-coca"
    assert store.pending() == []
    stored = store.get("peru-coca")
    assert stored is not None and stored.owner == PUBLISHER
    assert stored.article.feed_date == date(2026, 11, 2)

    # Correcting the publish date changes neither the id nor the feed id.
    fixed = art(
        f"{SITE}/news/peru-coca/",
        published_at="2026-11-04T10:00:00+00:00",
        updated_at="2026-11-04T10:00:00+00:00",
    )
    corrected = store.put(fixed, NOW)
    assert corrected.outcome is Outcome.UPDATED and corrected.article.id == "peru-coca"
    assert item_id(store.get("peru-coca").article, SITE) == served  # type: ignore[union-attr]


def test_an_old_record_first_written_with_a_new_date_keeps_the_served_feed_id(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    old = art(f"{SITE}/news/story/", published_at="2026-11-02T12:00:00Z")
    legacy_write(redis_client, prefix, old, NOW)
    served = item_id(old, SITE)
    fixed = art(old.url, published_at="2026-11-05T12:00:00Z", updated_at="2026-11-05T12:00:00Z")
    assert store.put(fixed, NOW).outcome is Outcome.UPDATED
    assert item_id(store.get("story").article, SITE) == served  # type: ignore[union-attr]


def test_an_old_record_stored_under_a_cms_id_is_adopted_by_that_id(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    old = art(f"{SITE}/?p=77", id="wp-77")  # the API used to take ``id`` as the article id
    legacy_write(redis_client, prefix, old, NOW)
    moved = art(f"{SITE}/2026/story/", updated_at="2026-11-05T12:00:00Z")
    written = store.put(moved, NOW, for_api(moved.url, "wp-77"))
    assert written.outcome is Outcome.UPDATED and written.article.id == "wp-77"
    assert store.count_all() == 1


def test_an_old_record_is_the_publishers_for_a_polled_source(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    legacy_write(redis_client, prefix, art(f"{SITE}/news/peru-coca/"), NOW)
    hostile = art(f"{SITE}/news/peru-coca/", title="Replaced", updated_at="2026-12-01T00:00:00Z")
    with pytest.raises(NotOwner) as refused:
        store.put(hostile, NOW, for_feed_item(PARTNER_FEED, hostile.url, "x"))
    assert (refused.value.article_id, refused.value.owner) == ("peru-coca", PUBLISHER)
    stored = store.get("peru-coca")
    assert stored is not None and stored.article.title == "Sample story 1"
    # A look-alike link of the partner's gets its own id; ours is untouched.
    lookalike = art("https://partner.example/peru-coca/", title="Theirs")
    theirs = store.put(lookalike, NOW, for_feed_item(PARTNER_FEED, lookalike.url, "y"))
    assert theirs.article.id != "peru-coca"


def test_withdraw_keeps_owner_and_a_republish_finds_the_article(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    first = store.put(art(f"{SITE}/news/story/"), NOW)
    assert store.withdraw(first.article.id, NOW) is Outcome.WITHDRAWN
    stored = store.get(first.article.id)
    assert stored is not None and stored.state is State.WITHDRAWN and stored.owner == PUBLISHER
    back = store.put(art(f"{SITE}/news/story/"), NOW)
    assert back.outcome is Outcome.REPUBLISHED and back.article.id == first.article.id
    assert for_url(f"{SITE}/news/story/").field in {
        f.decode() for f in redis_client.hkeys(store.keys.identities)
    }


def test_the_one_off_backfill_finds_old_records_the_lazy_path_cannot(
    redis_client: redis.Redis, prefix: str
) -> None:
    """An old article whose id was its CMS id is not at the slug of its URL: only the
    backfill (run at worker start) puts its URL in the index, so a polled item on that URL
    is refused rather than stored as a second article."""
    store = ArticleStore(redis_client, prefix)
    legacy_write(redis_client, prefix, art(f"{SITE}/?p=77", id="wp-77"), NOW)
    legacy_write(redis_client, prefix, art(f"{SITE}/news/other/", 2), NOW)
    assert store.index_legacy_urls() == 2
    assert store.index_legacy_urls() == 0  # idempotent: done once
    assert redis_client.hget(store.keys.article_urls, f"{SITE}/?p=77") == b"wp-77"
    hostile = art(f"{SITE}/?p=77#x", title="Replaced", updated_at="2026-12-01T00:00:00Z")
    with pytest.raises(NotOwner) as refused:
        store.put(hostile, NOW, for_feed_item(PARTNER_FEED, hostile.url, "g"))
    assert refused.value.article_id == "wp-77"
    # The publisher's own import of that URL is the same article, not a new one.
    again = store.put(art(f"{SITE}/?p=77", id="anything"), NOW)
    assert again.article.id == "wp-77" and store.count_all() == 2


def test_a_stale_url_entry_does_not_capture_a_new_article(
    redis_client: redis.Redis, prefix: str
) -> None:
    store = ArticleStore(redis_client, prefix)
    first = store.put(art("https://blog.example/a"), NOW)
    # An entry left behind (say, by the backfill racing a move): the article is elsewhere.
    redis_client.hset(store.keys.article_urls, "https://blog.example/b", first.article.id)
    other = store.put(art("https://blog.example/b", 2), NOW)
    assert other.outcome is Outcome.CREATED and other.article.id != first.article.id
    assert redis_client.hget(store.keys.article_urls, "https://blog.example/b") == (
        other.article.id.encode()
    )


_WRITES = st.lists(
    st.tuples(
        st.sampled_from([None, "https://a.example/feed", "https://b.example/feed"]),
        st.sampled_from(
            [
                "https://blog.example/?p=1",
                "https://blog.example/?p=2",
                "https://x.example/index.html",
            ]
        ),
        st.sampled_from(["", "g1", "g2"]),
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(writes=_WRITES)
@example(  # one feed's two guids on one URL, the first moves away: the URL stayed its owner's
    writes=[
        ("https://a.example/feed", "https://blog.example/?p=2", "g1"),
        ("https://a.example/feed", "https://blog.example/?p=2", "g2"),
        ("https://a.example/feed", "https://blog.example/?p=1", "g1"),
        (None, "https://blog.example/?p=2", ""),
    ]
)
def test_no_write_ever_changes_another_sources_article(
    redis_client: redis.Redis, prefix: str, writes: list[tuple[str | None, str, str]]
) -> None:
    store = ArticleStore(redis_client, f"{prefix}{next(_examples)}:")
    owners: dict[str, str] = {}  # article id → owner at creation
    for n, (feed, url, guid) in enumerate(writes, 1):
        article = art(url, n, updated_at=f"2026-11-28T{n:02d}:00:00Z")
        identity = for_url(url) if feed is None else for_feed_item(feed, url, guid)
        before = {i: store.get(i) for i in owners}
        try:
            written = store.put(article, NOW, identity)
        except NotOwner as exc:
            assert exc.owner != identity.owner and owners[exc.article_id] == exc.owner
            assert {i: store.get(i) for i in owners} == before  # nothing changed
            continue
        owners.setdefault(written.article.id, identity.owner)
        assert owners[written.article.id] == identity.owner
        for other, stored in before.items():
            if other != written.article.id:
                assert store.get(other) == stored
    # One canonical URL is held by one source only.
    by_url: dict[str, set[str]] = {}
    for article_id, owner in owners.items():
        stored = store.get(article_id)
        assert stored is not None and stored.owner == owner
        by_url.setdefault(canonical_url(stored.article.url), set()).add(owner)
    assert all(len(o) == 1 for o in by_url.values())


def test_a_stale_write_moves_no_url(redis_client: redis.Redis, prefix: str) -> None:
    store = ArticleStore(redis_client, prefix)
    a = art("https://blog.example/a", updated_at="2026-11-10T00:00:00Z")
    store.put(a, NOW, for_api(a.url, "7"))
    late = art("https://blog.example/b", updated_at="2026-11-05T00:00:00Z")
    assert store.put(late, NOW, for_api(late.url, "7")).outcome is Outcome.STALE
    urls = store.keys.article_urls
    assert redis_client.hget(urls, "https://blog.example/a") == b"7"
    assert redis_client.hget(urls, "https://blog.example/b") is None
    stored = store.get("7")
    assert stored is not None and stored.article.url == "https://blog.example/a"
