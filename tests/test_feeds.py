"""Site-wide RSS and Atom: building (pure), caching and serving with validators."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import pytest
from conftest import article_data
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from lxml import etree

from syndication.build.feeds import FeedSpec, build_atom, build_rss, item_id
from syndication.context import Context
from syndication.models import Article
from syndication.web.app import create_app

SPEC = FeedSpec(
    name="all",
    title="InSight Crime",
    description="Organized crime in the Americas",
    site_url="https://insightcrime.org",
    rss_url="http://testserver/feeds/all.rss",
    atom_url="http://testserver/feeds/all.atom",
    language="en",
    publisher="InSight Crime",
    licence="CC-BY-NC-4.0",
)
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}


def arts(*ns: int) -> list[Article]:
    return [Article.model_validate(article_data(n)) for n in ns]


def test_rss_elements():
    articles = arts(3, 2)
    root = etree.fromstring(build_rss(SPEC, articles))
    channel = root.find("channel")
    assert channel.findtext("link") == "https://insightcrime.org/"
    self_link = channel.find("atom:link", NS)
    assert self_link.get("rel") == "self" and self_link.get("href") == SPEC.rss_url
    assert channel.findtext("lastBuildDate") == "Wed, 04 Nov 2026 12:00:00 +0000"
    items = channel.findall("item")
    assert [i.findtext("title") for i in items] == ["Sample story 3", "Sample story 2"]
    first = items[0]
    assert first.findtext("link") == articles[0].url
    assert first.findtext("guid") == item_id(articles[0], SPEC.site_url)
    assert first.find("guid").get("isPermaLink") == "false"
    assert first.findtext("dc:creator", namespaces=NS) == "Sergio Saffón"
    encoded = first.findtext("content:encoded", namespaces=NS)
    assert encoded.startswith("<p>Body of story 3.</p>")
    assert 'rel="license"' in encoded and articles[0].url in encoded


def test_atom_elements():
    articles = arts(1)
    root = etree.fromstring(build_atom(SPEC, articles))
    rels = {link.get("rel"): link.get("href") for link in root.findall("atom:link", NS)}
    assert rels == {"self": SPEC.atom_url, "alternate": "https://insightcrime.org/"}
    assert root.findtext("atom:updated", namespaces=NS) == "2026-11-02T12:00:00+00:00"
    entry = root.find("atom:entry", NS)
    assert entry.findtext("atom:id", namespaces=NS) == item_id(articles[0], SPEC.site_url)
    assert entry.find("atom:content", NS).get("type") == "html"
    assert entry.findtext("atom:author/atom:name", namespaces=NS) == "Sergio Saffón"


def test_same_articles_same_bytes_and_empty_feed_is_valid():
    assert build_rss(SPEC, arts(1, 2)) == build_rss(SPEC, arts(1, 2))
    assert build_atom(SPEC, arts(1, 2)) == build_atom(SPEC, arts(1, 2))
    for build in (build_rss, build_atom):
        parsed = feedparser.parse(build(SPEC, []))
        assert parsed.bozo == 0 and parsed.entries == []


hostile_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=80
).filter(lambda s: s.strip() and any(c.isprintable() and not c.isspace() for c in s))


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=hostile_text, author=hostile_text, body=st.text(max_size=200))
def test_hostile_articles_always_give_well_formed_feeds(title, author, body):
    try:
        article = Article.model_validate(
            article_data(1, title=title, authors=[author], body_html=f"<p>{body}</p>")
        )
    except ValueError:
        return  # the model refused it (e.g. nothing printable left): fine, nothing is built
    for build in (build_rss, build_atom):
        parsed = feedparser.parse(build(SPEC, [article]))
        assert parsed.bozo == 0, parsed.bozo_exception
        assert parsed.entries[0].title == article.title


@pytest.fixture
def served(context: Context) -> TestClient:
    for n in (1, 2):
        context.article_store.upsert(
            Article.model_validate(article_data(n)), datetime(2026, 11, 26, tzinfo=UTC)
        )
    assert context.feeds.rebuild_site() == ["rss", "atom"]
    assert context.feeds.rebuild_site() == []  # unchanged bytes: nothing to store or ping
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
