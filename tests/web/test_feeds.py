"""Site-wide feeds: caching and serving with validators (building: test_feed_build.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import pytest
from fastapi.testclient import TestClient

from syndication.context import Context
from syndication.models import Article
from syndication.web.app import create_app
from tests.support import article_data


@pytest.fixture
def served(context: Context) -> TestClient:
    for n in (1, 2):
        context.article_store.upsert(
            Article.model_validate(article_data(n)), datetime(2026, 11, 26, tzinfo=UTC)
        )
    assert len(context.feeds.rebuild_dirty()) == 5 * 3  # all, topic, author, section, lang
    assert context.feeds.rebuild_dirty() == []  # nothing marked: nothing to build or ping
    assert context.feeds.rebuild_all() == []  # unchanged bytes: nothing stored or pinged
    return TestClient(create_app(context))


def test_serving_with_etag_last_modified_and_304(served: TestClient):
    resp = served.get("/feeds/all.rss")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/rss+xml; charset=utf-8"
    etag, last_modified = resp.headers["etag"], resp.headers["last-modified"]
    assert etag.startswith('"') and last_modified == "Tue, 03 Nov 2026 12:00:00 GMT"
    assert feedparser.parse(resp.content).bozo == 0
    assert served.get("/feeds/all.rss", headers={"If-None-Match": etag}).status_code == 304
    assert (
        served.get("/feeds/all.rss", headers={"If-None-Match": f'"x", {etag}'}).status_code == 304
    )
    assert served.get("/feeds/all.rss", headers={"If-None-Match": '"other"'}).status_code == 200
    assert (
        served.get("/feeds/all.rss", headers={"If-Modified-Since": last_modified}).status_code
        == 304
    )
    assert (
        served.get(
            "/feeds/all.rss", headers={"If-Modified-Since": "Mon, 02 Nov 2026 12:00:00 GMT"}
        ).status_code
        == 200
    )
    assert (
        served.get("/feeds/all.rss", headers={"If-Modified-Since": "nonsense"}).status_code == 200
    )
    head = served.head("/feeds/all.atom")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert int(head.headers["content-length"]) > 0


def test_unknown_feed_is_404_with_a_message(served: TestClient):
    for path in ("/feeds/all.xml", "/feeds/nope.rss"):
        resp = served.get(path)
        assert resp.status_code == 404 and "no feed" in resp.json()["error"]


def test_feed_not_built_yet_is_503_with_retry_after(context: Context):
    resp = TestClient(create_app(context)).get("/feeds/all.rss")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "5"


def test_names_of_withdrawn_only_articles_leave_the_feed_index_and_the_signup_form(
    context: Context,
) -> None:
    """A withdrawn article's author, topic and section stop being offered (its feeds still
    answer, empty, so readers who follow them see it go); shared ones stay."""
    kept = Article.model_validate(article_data(1, topics=["Coca"], authors=["Ana Kept"]))
    gone = Article.model_validate(
        article_data(2, topics=["Coca", "Gone Topic"], authors=["Ana Kept", "Bea Gone"])
    )
    for article in (kept, gone):
        context.articles.accept(article)
    context.feeds.rebuild_dirty()
    client = TestClient(create_app(context))

    def offered() -> tuple[str, str]:
        return client.get("/feeds").text, client.get("/subscribe").text

    feeds, signup = offered()
    assert "Bea Gone" in feeds and "Gone Topic" in feeds and "Gone Topic" in signup
    context.articles.withdraw(gone.id)
    context.feeds.rebuild_dirty()
    feeds, signup = offered()
    for name in ("Bea Gone", "Gone Topic"):
        assert name not in feeds and name not in signup
    assert "Ana Kept" in feeds and "Coca" in feeds and "Coca" in signup
    empty = client.get("/feeds/topic/gone-topic.rss")
    assert empty.status_code == 200 and not feedparser.parse(empty.content).entries
