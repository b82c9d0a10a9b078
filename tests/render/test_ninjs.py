"""The ninjs 2.1 builder on plain values: no Redis, no clock (``build.ninjs`` is pure)."""

from __future__ import annotations

import json

from syndication.config import load_publisher
from syndication.models import Article
from syndication.render.feeds import FeedLinks, FeedSpec, feed_updated, item_id
from syndication.render.ninjs import NINJS_VERSION, build_ninjs
from tests.support import EXAMPLE_CONFIG, article_data

SPEC = FeedSpec(
    name="partners/all",
    title="InSight Crime — for partners",
    description="Full text for partners",
    site_url="https://insightcrime.org",
    language="en",
    publisher="InSight Crime",
    licence="CC-BY-NC-4.0",
    links=FeedLinks(
        self_url="http://testserver/partners/feeds/all.ninjs",
        alternates={},
        html_url="https://insightcrime.org/",
    ),
    attributed=True,
)


def test_a_composite_of_items_with_the_feeds_ids_and_withdrawn_ones_canceled() -> None:
    publisher = load_publisher(EXAMPLE_CONFIG)
    articles = [Article.model_validate(article_data(n)) for n in (1, 2)]
    body = build_ninjs(SPEC, articles, publisher, frozenset({articles[1].id}))
    assert body == build_ninjs(SPEC, articles, publisher, frozenset({articles[1].id}))
    doc = json.loads(body)
    assert doc["standard"]["version"] == NINJS_VERSION
    assert doc["type"] == "composite" and doc["language"] == "en"
    assert doc["versioncreated"] == feed_updated(articles).isoformat()
    first, second = doc["associations"]
    assert (first["name"], second["name"]) == ("item1", "item2")
    assert first["uri"] == item_id(articles[0], SPEC.site_url)
    assert (first["pubstatus"], second["pubstatus"]) == ("usable", "canceled")


def test_an_item_that_cannot_be_built_is_reported_and_left_out() -> None:
    publisher = load_publisher(EXAMPLE_CONFIG)
    good = Article.model_validate(article_data(1))
    bad = good.model_copy(update={"id": "bad", "licence": "no-such-licence"})
    skipped: list[str] = []
    doc = json.loads(
        build_ninjs(SPEC, [good, bad], publisher, on_skip=lambda a, _: skipped.append(a.id))
    )
    assert [a["uri"] for a in doc["associations"]] == [item_id(good, SPEC.site_url)]
    assert skipped == ["bad"]
