"""Serving feeds over HTTP: codings, validators, Link headers, the catalog page, errors."""

from __future__ import annotations

import gzip

import brotli
import feedparser
import pytest
from fastapi.testclient import TestClient
from lxml import html as lxml_html

from syndication.config import load_settings
from syndication.context import Context
from syndication.models import Article
from syndication.web.app import create_app
from tests.support import article_data


@pytest.fixture
def client(env, redis_client, clock, tmp_path) -> TestClient:
    from syndication.events import RecordingEvents

    toml = tmp_path / "s.toml"
    from tests.support import EXAMPLE_CONFIG

    toml.write_text(
        EXAMPLE_CONFIG.read_text().replace(
            "websub_hubs = []", 'websub_hubs = ["https://hub.example.net/"]'
        )
    )
    settings = load_settings({**env, "SYNDICATION_CONFIG": str(toml)})
    ctx = Context(settings, RecordingEvents(), redis_client, clock=clock)
    for n, topics in ((1, ["Coca"]), (2, ["Coca", "Mining"])):
        ctx.articles.accept(Article.model_validate(article_data(n, topics=topics)))
    ctx.feeds.rebuild_dirty()
    return TestClient(create_app(ctx))


def test_codings_and_their_etags(client: TestClient):
    plain = client.get("/feeds/topic/coca.rss", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    gz = client.get("/feeds/topic/coca.rss", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and gz.headers["etag"] != etag
    assert gz.content == plain.content  # httpx decoded it: the same document
    br = client.get("/feeds/topic/coca.rss", headers={"Accept-Encoding": "gzip, br"})
    assert br.headers["content-encoding"] == "br"
    assert br.content == plain.content
    assert "Accept-Encoding" in plain.headers["vary"]
    # A client that stored the gzip variant's ETag gets a 304 as well.
    again = client.get(
        "/feeds/topic/coca.rss",
        headers={"Accept-Encoding": "gzip", "If-None-Match": gz.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""
    refused = client.get("/feeds/topic/coca.rss", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_raw_compressed_bytes_decode_to_the_feed(client: TestClient):
    plain = client.get("/feeds/all.atom", headers={"Accept-Encoding": "identity"}).content
    with client.stream("GET", "/feeds/all.atom", headers={"Accept-Encoding": "gzip"}) as resp:
        raw = b"".join(resp.iter_raw())
    assert gzip.decompress(raw) == plain
    with client.stream("GET", "/feeds/all.atom", headers={"Accept-Encoding": "br"}) as resp:
        raw = b"".join(resp.iter_raw())
    assert brotli.decompress(raw) == plain


def test_content_types_link_headers_and_head(client: TestClient):
    types = {
        "rss": "application/rss+xml; charset=utf-8",
        "atom": "application/atom+xml; charset=utf-8",
        "json": "application/feed+json; charset=utf-8",
    }
    for fmt, ctype in types.items():
        resp = client.get(f"/feeds/topic/mining.{fmt}")
        assert resp.status_code == 200 and resp.headers["content-type"] == ctype
        link = resp.headers["link"]
        assert '<https://hub.example.net/>; rel="hub"' in link
        assert f'<http://testserver/feeds/topic/mining.{fmt}>; rel="self"' in link
        head = client.head(f"/feeds/topic/mining.{fmt}")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["etag"] == resp.headers["etag"]
    parsed = feedparser.parse(client.get("/feeds/topic/mining.atom").content)
    assert {"hub", "self"} <= {link.rel for link in parsed.feed.links}


def test_unknown_feeds_are_404_and_known_unbuilt_ones_503(client: TestClient):
    for path in (
        "/feeds/topic/nope.rss",
        "/feeds/all.xml",
        "/feeds/topic/Coca.rss",
        "/feeds/../etc/passwd",
        "/feeds/all/archive/1.rss",
        "/feeds/weird/x.rss",
    ):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.json()["error"]
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    ctx.client.delete(ctx.feed_cache.keys.feed("topic/coca", "rss"))
    resp = client.get("/feeds/topic/coca.rss")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "5"


def test_nonsense_conditional_headers_are_ignored(client: TestClient):
    for headers in (
        {"If-None-Match": "garbage"},
        {"If-Modified-Since": "yesterday"},
        {"If-None-Match": ""},
        {"If-Modified-Since": "Mon, 99 Foo 2026"},
    ):
        assert client.get("/feeds/all.rss", headers=headers).status_code == 200


def test_catalog_page_has_autodiscovery_for_every_feed(client: TestClient):
    page = client.get("/feeds")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    tree = lxml_html.fromstring(page.text)
    alternates = tree.xpath('//head/link[@rel="alternate"]')
    hrefs = {link.get("href") for link in alternates}
    for name in (
        "all",
        "topic/coca",
        "topic/mining",
        "lang/en",
        "section/brief",
        "author/sergio-saffon",
    ):
        for fmt in ("rss", "atom", "json"):
            assert f"http://testserver/feeds/{name}.{fmt}" in hrefs
    types = {link.get("type") for link in alternates}
    assert types == {"application/rss+xml", "application/atom+xml", "application/feed+json"}
    rows = tree.xpath("//table//tr")
    assert any("Coca" in r.text_content() and "2 articles" in r.text_content() for r in rows)


def test_compressed_variants_are_made_once_and_only_from_current_bytes(client: TestClient):
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    key = ctx.feed_cache.keys.feed("all", "rss")
    assert ctx.client.hget(key, "gzip") is None  # a rebuild stores the plain bytes only
    gz = client.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip"
    stored = ctx.client.hget(key, "gzip")
    assert stored is not None and gzip.decompress(stored) == gz.content
    assert ctx.client.hget(key, "br") is None  # only what was asked for
    old = gz.content
    new_body = old.replace(b"Sample story 1", b"Sample story one")
    from datetime import UTC, datetime

    assert ctx.feed_cache.put(
        "all",
        "rss",
        new_body,
        "application/rss+xml; charset=utf-8",
        datetime(2026, 11, 3, tzinfo=UTC),
    )
    assert ctx.client.hget(key, "gzip") is None  # the old variant went with the old bytes
    again = client.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip"})
    assert again.content == new_body and again.headers["etag"] != gz.headers["etag"]
    # A variant made from bytes that are no longer stored is not kept.
    _, kept = ctx.feed_cache.add_variant("all", "rss", old, "br")
    assert not kept and ctx.client.hget(key, "br") is None
