"""Feed item ids are minted once: correcting a publish date, or the upgrade to stored feed
dates, never changes the id an item was served with — in RSS, Atom, JSON Feed or ninjs
(feed readers and partner importers show a changed id as a new article)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest

from syndication.context import Context
from syndication.models import Article
from syndication.services.partners import Partners, make_partners
from syndication.store.partners import Partner
from tests.support import article_data
from tests.support.legacy import legacy_write

NOW = datetime(2026, 11, 26, tzinfo=UTC)
URL = "https://insightcrime.org/news/brief/peru-coca/"


@pytest.fixture
def partners(context: Context) -> tuple[Partners, Partner]:
    service = make_partners(context.settings, context.client, context.article_store)
    partner, _key = service.keys.add("Non-commercial daily", now=NOW)
    return service, partner


def served_ids(context: Context, partners: tuple[Partners, Partner]) -> dict[str, str]:
    """The one item's id in each format, as readers and partners receive it."""
    context.feeds.rebuild_dirty()
    out = {}
    for fmt in ("rss", "atom"):
        cached = context.feed_cache.get("all", fmt)
        assert cached is not None
        (entry,) = feedparser.parse(cached.body).entries
        out[fmt] = entry.id  # RSS <guid>, Atom <id>
    cached = context.feed_cache.get("all", "json")
    assert cached is not None
    (item,) = json.loads(cached.body)["items"]
    out["json"] = item["id"]
    service, partner = partners
    doc = service.feeds.feed(partner, "all", "ninjs", NOW)
    assert doc is not None
    (news,) = json.loads(doc.body)["associations"]
    out["ninjs"] = news["uri"]
    return out


def test_correcting_the_publish_date_keeps_every_formats_item_id(context, partners):
    context.articles.accept(
        Article.model_validate(article_data(1, url=URL, published_at="2026-11-02T12:00:00Z"))
    )
    before = served_ids(context, partners)
    assert set(before.values()) == {"tag:insightcrime.org,2026-11-02:article/peru-coca"}
    corrected = article_data(
        1, url=URL, published_at="2026-10-30T08:00:00Z", updated_at="2026-11-03T12:00:00Z"
    )
    context.articles.accept(Article.model_validate(corrected))
    after = served_ids(context, partners)
    assert after == before


def test_an_article_stored_before_the_upgrade_keeps_its_ids(context, partners):
    old = Article.model_validate(article_data(1, url=URL, published_at="2026-11-02T23:00:00-05:00"))
    legacy_write(context.client, context.settings.key_prefix, old, NOW)
    before = served_ids(context, partners)
    assert set(before.values()) == {"tag:insightcrime.org,2026-11-02:article/peru-coca"}
    # The CMS corrects the date after the upgrade: the first write finds the old record by
    # its URL, fixes its feed date from what was served, and keeps its id.
    corrected = article_data(
        1, url=URL, published_at="2026-11-05T10:00:00Z", updated_at="2026-11-05T10:00:00Z"
    )
    written = context.articles.submit(Article.model_validate(corrected))
    assert written.article.id == "peru-coca" and written.outcome.value == "updated"
    assert served_ids(context, partners) == before
