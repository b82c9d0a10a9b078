"""A bad article already in Redis never freezes the feeds (issue 11 §2), and names that
reach feed titles and descriptions stay text (issue 11 §3).

The bad articles go straight into the store with ``model_copy(update=...)``, bypassing
validation, as articles stored before the model refused such dates did.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import feedparser
import pytest
import redis
from lxml import etree

from syndication.config import load_settings
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.metrics import parse_exposition, render
from syndication.models import Article
from syndication.services.partners import make_partners
from tests.support import article_data
from tests.support.clock import ManualClock
from tests.support.partners import NOW as PARTNER_NOW

FEEDS = ("all", "topic/coca", "author/sergio-saffon", "section/brief", "lang/en")
YEAR_1 = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))


def publish(ctx: Context, n: int, **kw: object) -> Article:
    article = Article.model_validate(article_data(n, **kw))
    ctx.articles.accept(article)
    return article


def store_unvalidated(ctx: Context, n: int, **fields: object) -> Article:
    """Through the store, past the model's checks: what older versions let in."""
    article = Article.model_validate(article_data(n)).model_copy(update=fields)
    ctx.article_store.upsert(article, ctx.clock())
    return article


def doc(ctx: Context, name: str, fmt: str) -> bytes:
    cached = ctx.feed_cache.get(name, fmt)
    assert cached is not None, f"{name}.{fmt} not built"
    return cached.body


def titles(ctx: Context, name: str, fmt: str) -> list[str]:
    body = doc(ctx, name, fmt)
    if fmt == "json":
        return [item["title"] for item in json.loads(body)["items"]]
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return [entry.title for entry in parsed.entries]


def skipped_counts(ctx: Context) -> dict[str, float]:
    """``feed_items_skipped_total`` as ``/metrics`` renders it."""
    samples = parse_exposition(render(ctx.metrics.read()))
    prefix = "syndication_feed_items_skipped_total"
    return {k: v for k, v in samples.items() if k.startswith(prefix)}


@pytest.mark.parametrize(
    ("fields", "stage"),
    [
        # Year 1 at +14:00 has no UTC equivalent: every rebuild raised OverflowError.
        ({"published_at": YEAR_1, "updated_at": YEAR_1}, None),
        # A record the model refuses today (here: an empty title) cannot even be read.
        ({"title": ""}, "read"),
    ],
    ids=["year-1", "unreadable"],
)
def test_a_bad_stored_article_is_skipped_logged_and_counted(
    context: Context, caplog: pytest.LogCaptureFixture, fields: dict[str, object], stage: str | None
):
    publish(context, 1)
    bad = store_unvalidated(context, 2, **fields)
    publish(context, 3)
    with caplog.at_level(logging.WARNING, logger="syndication.services.feeds"):
        urls = context.feeds.rebuild_dirty()
    for name in FEEDS:
        for fmt in ("rss", "atom", "json"):
            assert f"http://testserver/feeds/{name}.{fmt}" in urls
            assert titles(context, name, fmt) == ["Sample story 3", "Sample story 1"], name
    logged = [r.getMessage() for r in caplog.records if repr(bad.id) in r.getMessage()]
    assert sorted(m.split(":")[0] for m in logged) == sorted(f"feed {n}" for n in FEEDS)
    counts = skipped_counts(context)
    assert sum(counts.values()) == len(FEEDS)  # once per feed, not per format
    if stage is not None:
        assert counts == {f'syndication_feed_items_skipped_total{{stage="{stage}"}}': 5}
    assert context.article_store.take_dirty_feeds() == []  # the rebuild succeeded


def test_the_rest_keeps_flowing_while_the_bad_article_stays(context: Context):
    store_unvalidated(context, 2, published_at=YEAR_1, updated_at=YEAR_1)
    context.feeds.rebuild_dirty()
    publish(context, 4, title="Arrives later")
    context.feeds.rebuild_dirty()
    assert titles(context, "topic/coca", "rss") == ["Arrives later"]
    assert sum(skipped_counts(context).values()) == 2 * len(FEEDS)


def test_archive_pages_skip_bad_articles_too(
    env: dict[str, str], redis_client: redis.Redis, clock: ManualClock
):
    settings = load_settings({**env, "SYNDICATION_FEED_ITEMS": "2"})
    ctx = Context(settings, RecordingEvents(), redis_client, clock=clock)
    publish(ctx, 1)
    store_unvalidated(ctx, 2, title="")
    publish(ctx, 3)
    publish(ctx, 4)
    ctx.feeds.rebuild_dirty()
    archive = ctx.feeds.archive("all", 1, "rss")
    assert archive is not None
    assert [e.title for e in feedparser.parse(archive.body).entries] == ["Sample story 1"]


@pytest.mark.parametrize(
    "far",
    [
        datetime(9999, 12, 31, 12, tzinfo=UTC),  # stored before today's limits
        datetime(2099, 6, 1, tzinfo=UTC),  # within them, far ahead
    ],
    ids=["9999", "2099"],
)
def test_a_far_future_date_does_not_pin_last_modified(context: Context, far: datetime):
    first = publish(context, 1)
    store_unvalidated(context, 2, published_at=far, updated_at=far)
    context.feeds.rebuild_dirty()
    for name in FEEDS:
        for fmt in ("rss", "atom", "json"):
            cached = context.feed_cache.get(name, fmt)
            assert cached is not None
            assert cached.last_modified == first.modified, (name, fmt)  # the newest plausible
        channel = etree.fromstring(doc(context, name, "rss")).find("channel")
        assert parsedate_to_datetime(channel.findtext("lastBuildDate")) == first.modified
    # Served (readers see what was published), but it does not date the feed.
    assert titles(context, "all", "rss") == ["Sample story 2", "Sample story 1"]


# --- names in feed titles and descriptions ----------------------------------------------

NAME = '<script>alert("x")</script> & Co'


def test_hostile_names_reach_every_feed_format_as_text(context: Context):
    publish(context, 1, authors=[NAME], topics=[NAME], section=NAME)
    context.feeds.rebuild_dirty()
    named = [f.name for f in context.feeds.catalog() if f.kind in ("author", "topic", "section")]
    assert len(named) == 3
    for name in named:
        rss = doc(context, name, "rss")
        channel = etree.fromstring(rss).find("channel")
        assert channel.findtext("title") == f"InSight Crime: {NAME}"
        description = channel.findtext("description")
        assert "<" not in description and NAME in html.unescape(description)
        assert b"<script" not in rss  # not even in the CDATA full text: its footer escapes
        assert b"<title>InSight Crime: &#x3C;script&#x3E;alert" in rss  # the Profile's way
        atom = etree.fromstring(doc(context, name, "atom"))
        for tag in ("title", "subtitle"):
            element = atom.find(f"{{http://www.w3.org/2005/Atom}}{tag}")
            assert element.get("type") in (None, "text") and NAME in element.text
        feed = json.loads(doc(context, name, "json"))
        assert feed["title"] == f"InSight Crime: {NAME}" and NAME in feed["description"]


def test_partner_feeds_show_summaries_and_titles_as_text(context: Context):
    """Partner feeds go through the same builders: the same escaping holds there."""
    service = make_partners(context.settings, context.client, context.article_store)
    partner, _ = service.keys.add("Any", now=PARTNER_NOW)
    publish(context, 1, title=NAME, summary=NAME, licence="CC-BY-4.0")
    rss = service.feeds.feed(partner, "all", "rss", PARTNER_NOW)
    assert rss is not None
    item = etree.fromstring(rss.body).find("channel/item")
    assert item.findtext("title") == NAME
    assert html.unescape(item.findtext("description")) == NAME
    assert "<" not in item.findtext("description")
    assert b"<script" not in rss.body
    atom = service.feeds.feed(partner, "all", "atom", PARTNER_NOW)
    assert atom is not None
    parsed = feedparser.parse(atom.body)
    assert parsed.bozo == 0 and parsed.entries[0].summary_detail.type == "text/plain"


def test_partner_feeds_in_every_format_skip_an_item_they_cannot_build(context: Context):
    """Partner feeds, ninjs included, leave the year-1 article out and carry the rest."""
    publish(context, 1)
    store_unvalidated(context, 2, published_at=YEAR_1, updated_at=YEAR_1)
    service = context.partners
    partner, _ = service.keys.add("Outlet", now=context.clock())
    for fmt in ("rss", "atom", "json", "ninjs"):
        found = service.feeds.feed(partner, "all", fmt, context.clock())
        assert found is not None, fmt
        if fmt == "ninjs":
            heads = [i["headlines"][0]["value"] for i in json.loads(found.body)["associations"]]
        elif fmt == "json":
            heads = [i["title"] for i in json.loads(found.body)["items"]]
        else:
            heads = [e.title for e in feedparser.parse(found.body).entries]
        assert heads == ["Sample story 1"], fmt
