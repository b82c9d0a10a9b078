"""Feeds per topic, author, section and language: what gets rebuilt, paging, catalog."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest
import redis
from lxml import etree

from syndication.config import load_settings
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.models import Article
from tests.support import article_data
from tests.support.clock import ManualClock

NOW = datetime(2026, 11, 26, tzinfo=UTC)
HISTORY = "http://purl.org/syndication/history/1.0"


def publish(ctx: Context, n: int, **kw: object) -> Article:
    article = Article.model_validate(article_data(n, **kw))
    ctx.articles.accept(article)
    return article


def doc(ctx: Context, name: str, fmt: str) -> bytes:
    cached = ctx.feed_cache.get(name, fmt)
    assert cached is not None, f"{name}.{fmt} not built"
    return cached.body


def titles(ctx: Context, name: str) -> list[str]:
    parsed = feedparser.parse(doc(ctx, name, "rss"))
    assert parsed.bozo == 0, parsed.bozo_exception
    return [e.title for e in parsed.entries]


def changed(ctx: Context) -> list[str]:
    return ctx.feeds.rebuild_dirty()


def test_an_article_lands_in_its_topic_author_section_and_language_feeds(context):
    publish(context, 1, topics=["Coca", "Extortion"], authors=["Ana Díaz"], section="Brief")
    publish(context, 2, topics=["Mining"], language="es", authors=["Bea"], section="Analysis")
    urls = changed(context)
    base = "http://testserver/feeds/"
    for name in (
        "all",
        "topic/coca",
        "topic/extortion",
        "topic/mining",
        "author/ana-diaz",
        "author/bea",
        "section/brief",
        "section/analysis",
        "lang/en",
        "lang/es",
    ):
        for fmt in ("rss", "atom", "json"):
            assert f"{base}{name}.{fmt}" in urls
    assert titles(context, "all") == ["Sample story 2", "Sample story 1"]
    assert titles(context, "topic/coca") == ["Sample story 1"]
    assert titles(context, "lang/es") == ["Sample story 2"]
    assert titles(context, "author/ana-diaz") == ["Sample story 1"]
    for name in ("topic/coca", "lang/es"):
        atom = feedparser.parse(doc(context, name, "atom"))
        assert atom.bozo == 0 and len(atom.entries) == 1
        feed = json.loads(doc(context, name, "json"))
        assert feed["version"] == "https://jsonfeed.org/version/1.1" and len(feed["items"]) == 1
    assert feedparser.parse(doc(context, "topic/coca", "rss")).feed.title == "InSight Crime: Coca"


def test_only_the_feeds_an_article_touches_are_rebuilt(context):
    publish(context, 1, topics=["Coca"], authors=["Ana"], section="Brief")
    publish(context, 2, topics=["Mining"], authors=["Bea"], section="Analysis")
    changed(context)
    context.events.calls.clear()
    # Move story 1 from Coca to Extortion: Coca loses it, Extortion gains it, Mining untouched.
    publish(
        context,
        1,
        topics=["Extortion"],
        authors=["Ana"],
        section="Brief",
        updated_at="2026-11-10T00:00:00+00:00",
    )
    urls = changed(context)
    names = {u.removeprefix("http://testserver/feeds/").rsplit(".", 1)[0] for u in urls}
    assert names == {
        "all",
        "topic/coca",
        "topic/extortion",
        "author/ana",
        "section/brief",
        "lang/en",
    }
    assert titles(context, "topic/coca") == []
    assert titles(context, "topic/extortion") == ["Sample story 1"]
    assert [c for c in context.events.calls if c[0] == "feed_changed"] == [
        ("feed_changed", u) for u in urls
    ]
    assert changed(context) == []  # nothing marked: nothing built, nothing announced


def test_withdrawn_article_leaves_every_feed(context):
    publish(context, 1, topics=["Coca"])
    publish(context, 2, topics=["Coca"])
    changed(context)
    context.articles.withdraw("sample-story-1")
    changed(context)
    for name in ("all", "topic/coca", "author/sergio-saffon", "section/brief", "lang/en"):
        assert titles(context, name) == ["Sample story 2"], name


def test_item_identity_survives_an_update(context):
    publish(context, 1)
    changed(context)
    before = feedparser.parse(doc(context, "all", "atom")).entries[0]
    publish(context, 1, title="Corrected", updated_at="2026-11-20T00:00:00+00:00")
    changed(context)
    after = feedparser.parse(doc(context, "all", "atom")).entries[0]
    assert after.id == before.id and after.title == "Corrected"
    assert after.updated != before.updated


@pytest.fixture
def paged(env: dict[str, str], redis_client: redis.Redis, clock: ManualClock) -> Context:
    settings = load_settings({**env, "SYNDICATION_FEED_ITEMS": "3"})
    ctx = Context(settings, RecordingEvents(), redis_client, clock=clock)
    for n in range(1, 9):  # 8 articles, 3 per page: 2 full archive pages + the current feed
        publish(ctx, n)
    ctx.feeds.rebuild_dirty()
    return ctx


def test_rfc5005_archives_backfill_everything(paged: Context):
    current = feedparser.parse(doc(paged, "all", "atom"))
    assert [e.title for e in current.entries] == [
        "Sample story 8",
        "Sample story 7",
        "Sample story 6",
    ]
    links = {link.rel: link.href for link in current.feed.links}
    assert links["prev-archive"] == "http://testserver/feeds/all/archive/2.atom"
    seen = [e.id for e in current.entries]
    page, url = 2, links["prev-archive"]
    while url:
        archive = paged.feeds.archive("all", page, "atom")
        assert archive is not None
        parsed = feedparser.parse(archive.body)
        assert parsed.bozo == 0
        assert etree.fromstring(archive.body).find(f"{{{HISTORY}}}archive") is not None
        rels = {link.rel: link.href for link in parsed.feed.links}
        assert rels["current"] == "http://testserver/feeds/all.atom"
        seen += [e.id for e in parsed.entries]
        url = rels.get("prev-archive")
        page -= 1
    assert page == 0
    assert len(seen) == len(set(seen)) + 1  # story 6 is in the current feed and in page 2
    assert len(set(seen)) == 8
    first = feedparser.parse(paged.feeds.archive("all", 1, "rss").body)  # type: ignore[union-attr]
    assert [e.title for e in first.entries] == [
        "Sample story 3",
        "Sample story 2",
        "Sample story 1",
    ]
    assert paged.feeds.archive("all", 3, "rss") is None
    assert paged.feeds.archive("all", 0, "rss") is None
    assert paged.feeds.archive("topic/none", 1, "rss") is None


def test_catalog_lists_feeds_with_counts(context):
    publish(context, 1, topics=["Coca"])
    publish(context, 2, topics=["Coca", "Mining"])
    catalog = {f.name: f for f in context.feeds.catalog()}
    assert catalog["all"].count == 2
    assert catalog["topic/coca"].count == 2 and catalog["topic/coca"].title == "Coca"
    assert catalog["topic/mining"].count == 1
    assert catalog["topic/coca"].urls["json"] == "http://testserver/feeds/topic/coca.json"


def test_rebuilds_reuse_what_they_read_and_rendered_and_still_see_every_change(context):
    """Records are decoded once per process and items rendered once per article version:
    the documents are those a fresh service builds, also after an update and a withdrawal."""
    for n in range(1, 6):
        publish(context, n, id=f"s{n}", topics=["Coca"])
    changed(context)
    publish(context, 3, id="s3", topics=["Coca"], title="Sample story 3, corrected")
    changed(context)
    context.articles.withdraw("s4")
    changed(context)
    fresh = Context(context.settings, RecordingEvents(), context.client, clock=context.clock)
    names = ["all", "topic/coca", "lang/en", "section/brief"]
    before = {(n, f): doc(context, n, f) for n in names for f in ("rss", "atom", "json")}
    assert fresh.feeds.rebuild(names) == []  # nothing to change: the same bytes
    assert {(n, f): doc(fresh, n, f) for n in names for f in ("rss", "atom", "json")} == before
    assert "Sample story 3, corrected" in titles(context, "topic/coca")
    assert "Sample story 4" not in titles(context, "all")
