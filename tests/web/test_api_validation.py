"""``POST /api/articles`` refuses implausible dates, hostile URLs and oversized names with a
422 naming the field and storing nothing; names in any script get their own feed."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import feedparser
import pytest
import redis
from fastapi.testclient import TestClient
from lxml import etree

from syndication.context import Context
from syndication.models import MAX_AUTHORS, MAX_NAME
from syndication.web.app import create_app
from tests.support import article_data
from tests.support.clock import ManualClock

AUTH = {"Authorization": "Bearer test-token-0123456789"}


@pytest.fixture
def client(context: Context) -> TestClient:
    return TestClient(create_app(context))


def stored_keys(r: redis.Redis, prefix: str) -> set[bytes]:
    """Every data key under the prefix (request counters move; data must not)."""
    return {k for k in r.scan_iter(match=f"{prefix}*") if b"{metrics}:" not in k}


@pytest.mark.parametrize(
    ("field", "override"),
    [
        ("published_at", {"published_at": "0001-01-01T00:00:00+14:00"}),
        ("published_at", {"published_at": "9999-12-31T23:59:59Z"}),
        ("published_at", {"published_at": "2026-11-01T12:00:00"}),
        ("updated_at", {"updated_at": "9999-01-01T00:00:00Z"}),
        ("url", {"url": 'https://insightcrime.org/news/"><script>x</script>'}),
        ("image.url", {"image": {"url": "https://insightcrime.org/a<b>.jpg"}}),
        ("related.0.url", {"related": [{"title": "See", "url": "https://x.org/{a}"}]}),
        ("authors.0", {"authors": ["N" * (MAX_NAME + 1)]}),
        ("authors", {"authors": [f"Author {i}" for i in range(MAX_AUTHORS + 1)]}),
        ("topics.0", {"topics": ["T" * (MAX_NAME + 1)]}),
        ("section", {"section": "S" * (MAX_NAME + 1)}),
    ],
)
def test_bad_values_are_422_naming_the_field_and_store_nothing(
    client: TestClient, redis_client: redis.Redis, prefix: str, field: str, override: dict
) -> None:
    before = stored_keys(redis_client, prefix)
    resp = client.post("/api/articles", json=article_data(1, **override), headers=AUTH)
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "invalid_article"
    assert field in [f["field"] for f in resp.json()["fields"]]
    assert stored_keys(redis_client, prefix) == before


def test_dates_ahead_are_measured_against_the_apps_clock(
    client: TestClient, clock: ManualClock
) -> None:
    tomorrow = (clock() + timedelta(days=1, minutes=5)).isoformat()
    resp = client.post("/api/articles", json=article_data(1, published_at=tomorrow), headers=AUTH)
    assert resp.status_code == 422
    assert [f["field"] for f in resp.json()["fields"]] == ["published_at"]
    scheduled = (clock() + timedelta(hours=20)).isoformat()
    resp = client.post("/api/articles", json=article_data(1, published_at=scheduled), headers=AUTH)
    assert resp.status_code == 201, resp.text
    clock.advance(days=2)  # the same post the next day is fine
    resp = client.post("/api/articles", json=article_data(2, published_at=tomorrow), headers=AUTH)
    assert resp.status_code == 201, resp.text


def test_control_characters_become_spaces(client: TestClient, context: Context) -> None:
    data = article_data(1, title="Coca\x0bprices\x00rise", authors=["Ana\x1fMaría"])
    resp = client.post("/api/articles", json=data, headers=AUTH)
    assert resp.status_code == 201, resp.text
    stored = context.article_store.get(resp.json()["id"])
    assert stored is not None
    assert stored.article.title == "Coca prices rise"
    assert stored.article.authors == ["Ana María"]


def test_an_author_in_arabic_script_gets_a_feed(client: TestClient, context: Context) -> None:
    data = article_data(1, authors=["محمد الأحمد"], topics=["Zoë Ünïcødé"])
    assert client.post("/api/articles", json=data, headers=AUTH).status_code == 201
    context.feeds.rebuild_dirty()
    path = "/feeds/author/" + quote("محمد-الأحمد") + ".rss"
    catalog = client.get("/feeds")
    assert catalog.status_code == 200
    assert path in catalog.text and "/feeds/topic/zoe-unicode.rss" in catalog.text
    resp = client.get(path)
    assert resp.status_code == 200, resp.text
    assert feedparser.parse(resp.content).bozo == 0
    channel = etree.fromstring(resp.content).find("channel")
    assert channel is not None
    self_link = channel.find("{http://www.w3.org/2005/Atom}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == f"http://testserver{path}"
    assert "محمد الأحمد" in (channel.findtext("title") or "")


@pytest.mark.parametrize(
    "path",
    ["/feeds/topic/Coca.rss", "/feeds/author/a--b.rss", "/feeds/topic/%3Cx%3E/archive/1.rss"],
)
def test_names_that_are_not_slugs_find_no_feed(client: TestClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 404 and "feed" in resp.json()["error"]


def test_a_record_stored_before_these_limits_can_still_be_withdrawn(
    client: TestClient, context: Context, redis_client: redis.Redis
) -> None:
    article_id = client.post("/api/articles", json=article_data(1), headers=AUTH).json()["id"]
    key = context.article_store.keys.article(article_id)
    record = json.loads(redis_client.get(key) or b"")
    # What an earlier version let in: the date that overflowed rebuilds, a quote in the URL.
    record["article"].update(
        published_at="0001-01-01T00:00:00+14:00",
        updated_at="0001-01-01T00:00:00+14:00",
        url='https://insightcrime.org/news/brief/sample-story-1/"x',
    )
    redis_client.set(key, json.dumps(record))
    resp = client.delete(f"/api/articles/{article_id}", headers=AUTH)
    assert resp.status_code == 200 and resp.json()["outcome"] == "withdrawn", resp.text
    kept = json.loads(redis_client.get(key) or b"")
    assert kept["state"] == "withdrawn"
    assert kept["article"]["published_at"] == "0001-01-01T00:00:00+14:00"  # nothing lost
