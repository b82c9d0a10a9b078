"""``/api/articles`` through the real app on a real Redis: auth, idempotence, bad input."""

from __future__ import annotations

import json

import pytest
import redis
from fastapi.testclient import TestClient

from syndication.context import Context
from syndication.embedded_redis import free_port
from syndication.events import RecordingEvents
from syndication.signing import signed_headers
from syndication.store.connection import connect
from syndication.web.app import create_app
from tests.support import article_data

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(context: Context) -> TestClient:
    return TestClient(create_app(context))


def events(context: Context) -> list[tuple[str, str]]:
    assert isinstance(context.events, RecordingEvents)
    return context.events.calls


def snapshot(r: redis.Redis, prefix: str) -> dict[bytes, object]:
    """Every key under the prefix with its value: proof that nothing changed."""
    out: dict[bytes, object] = {}
    for key in r.scan_iter(match=f"{prefix}*"):
        if key.startswith(f"{prefix}{{metrics}}:".encode()):
            continue  # counters of requests and outcomes move; the data must not
        kind = r.type(key)
        if kind == b"string":
            out[key] = r.get(key)
        elif kind == b"hash":
            out[key] = r.hgetall(key)
        elif kind == b"set":
            out[key] = r.smembers(key)
        else:
            out[key] = r.zrange(key, 0, -1, withscores=True)
    return out


def test_create_repeat_update_and_withdraw_fire_one_event_each(client, context):
    first = client.post("/api/articles", json=article_data(), headers=AUTH)
    assert first.status_code == 201, first.text
    assert first.json() == {"id": "sample-story-1", "outcome": "created"}
    again = client.post("/api/articles", json=article_data(), headers=AUTH)
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    updated = article_data(title="Sample story, corrected", updated_at="2026-11-02T15:00:00+00:00")
    assert client.post("/api/articles", json=updated, headers=AUTH).json()["outcome"] == "updated"
    gone = client.delete("/api/articles/sample-story-1", headers=AUTH)
    assert gone.status_code == 200 and gone.json()["outcome"] == "withdrawn"
    assert client.delete("/api/articles/sample-story-1", headers=AUTH).json()["outcome"] == (
        "already_withdrawn"
    )
    assert events(context) == [
        ("published", "sample-story-1"),
        ("updated", "sample-story-1"),
        ("withdrawn", "sample-story-1"),
    ]
    shown = client.get("/api/articles/sample-story-1", headers=AUTH).json()
    assert shown["state"] == "withdrawn" and shown["title"] == "Sample story, corrected"


def test_auth_bearer_and_signed_request(client, context):
    body = json.dumps(article_data()).encode()
    assert client.post("/api/articles", content=body).status_code == 401
    wrong = {"Authorization": "Bearer wrong-token-0123456789"}
    assert client.post("/api/articles", content=body, headers=wrong).status_code == 401
    now = int(context.clock().timestamp())
    bad_key = signed_headers("another-key-0123456789", "POST", "/api/articles", "", body, now)
    assert client.post("/api/articles", content=body, headers=bad_key).status_code == 401
    # A signature over different bytes than those sent must fail too.
    tampered = signed_headers(TOKEN, "POST", "/api/articles", "", body + b" ", now)
    assert client.post("/api/articles", content=body, headers=tampered).status_code == 401
    assert events(context) == []
    good = {
        **signed_headers(TOKEN, "POST", "/api/articles", "", body, now),
        "Content-Type": "application/json",
    }
    assert client.post("/api/articles", content=body, headers=good).status_code == 201
    assert client.get("/api/articles").status_code == 401


def test_missing_fields_are_named(client, redis_client, prefix):
    before = snapshot(redis_client, prefix)
    resp = client.post("/api/articles", json={"summary": "no title"}, headers=AUTH)
    assert resp.status_code == 422
    fields = {f["field"] for f in resp.json()["fields"]}
    assert {"url", "title", "body_html", "published_at"} <= fields
    assert "url" in resp.json()["error"]
    assert snapshot(redis_client, prefix) == before


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"licence": "CC-BY-WHATEVER"}, "licence"),
        ({"published_at": "2020-09-04T10:00:00"}, "published_at"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "/relative/path"}, "url"),
        ({"language": "english!"}, "language"),
    ],
)
def test_invalid_values_are_422_naming_the_field(client, override, field):
    resp = client.post("/api/articles", json=article_data(**override), headers=AUTH)
    assert resp.status_code == 422, resp.text
    assert field in [f["field"] for f in resp.json()["fields"]]


def test_oversized_invalid_utf8_and_bad_json_store_nothing(client, context, redis_client, prefix):
    client.post("/api/articles", json=article_data(), headers=AUTH)
    before = snapshot(redis_client, prefix)
    huge = article_data(
        title="Replaced",
        body_html="<p>" + "x" * (5 * 1024 * 1024) + "</p>",
        updated_at="2026-12-01T00:00:00+00:00",
    )
    resp = client.post("/api/articles", json=huge, headers=AUTH)
    assert resp.status_code == 413 and "larger than" in resp.json()["error"]
    bad = b'{"title": "\xff\xfe"}'
    resp = client.post("/api/articles", content=bad, headers=AUTH)
    assert resp.status_code == 400 and "UTF-8" in resp.json()["error"]
    resp = client.post("/api/articles", content=b"{not json", headers=AUTH)
    assert resp.status_code == 400 and "JSON" in resp.json()["error"]
    resp = client.post("/api/articles", content=b"[1, 2]", headers=AUTH)
    assert resp.status_code == 422
    assert snapshot(redis_client, prefix) == before
    assert events(context) == [("published", "sample-story-1")]


def test_stale_update_is_409_and_keeps_the_newer_version(client, context, redis_client, prefix):
    newer = article_data(title="Newer", updated_at="2026-11-05T00:00:00+00:00")
    client.post("/api/articles", json=newer, headers=AUTH)
    before = snapshot(redis_client, prefix)
    older = article_data(title="Older", updated_at="2026-11-03T00:00:00+00:00")
    resp = client.post("/api/articles", json=older, headers=AUTH)
    assert resp.status_code == 409 and resp.json()["outcome"] == "stale"
    assert snapshot(redis_client, prefix) == before
    assert client.get("/api/articles/sample-story-1", headers=AUTH).json()["title"] == "Newer"


def test_body_is_sanitised_and_made_absolute(client):
    data = article_data(
        body_html=(
            '<p onclick="steal()">Hi <a href="/news/other/">other</a>'
            '<a href="javascript:alert(1)">x</a></p><script>alert(1)</script>'
            '<img src="../img/a.jpg" onerror="x()">'
        )
    )
    client.post("/api/articles", json=data, headers=AUTH)
    body = client.get("/api/articles/sample-story-1", headers=AUTH).json()["body_html"]
    assert "script" not in body and "onclick" not in body and "onerror" not in body
    assert "javascript:" not in body
    assert 'href="https://insightcrime.org/news/other/"' in body
    assert "https://insightcrime.org/news/brief/img/a.jpg" in body


def test_listing_and_404(client):
    for n in (1, 2, 3):
        client.post("/api/articles", json=article_data(n), headers=AUTH)
    page = client.get("/api/articles?limit=2", headers=AUTH).json()
    assert page["total"] == 3
    assert [a["id"] for a in page["articles"]] == ["sample-story-3", "sample-story-2"]
    assert client.get("/api/articles?limit=0", headers=AUTH).status_code == 422
    missing = client.get("/api/articles/nope", headers=AUTH)
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    assert client.delete("/api/articles/nope", headers=AUTH).status_code == 404


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "offset=-1", "limit=201&offset=y"])
def test_listing_checks_credentials_before_query_parameters(client, query):
    """Without credentials a bad limit/offset is 401 like any other request (not a 422 that
    shows an anonymous client the endpoint's parameters); with them it is 422."""
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        resp = client.get(f"/api/articles?{query}", headers=headers)
        assert resp.status_code == 401, (query, headers, resp.text)
        assert resp.json()["code"] == "unauthorized"
    assert client.get(f"/api/articles?{query}", headers=AUTH).status_code == 422


def test_redis_unreachable_is_503(settings, clock):
    dead = connect(f"redis://127.0.0.1:{free_port()}/0", check=False)
    client = TestClient(create_app(Context(settings, RecordingEvents(), dead, clock=clock)))
    resp = client.post("/api/articles", json=article_data(), headers=AUTH)
    assert resp.status_code == 503
    assert resp.json()["error"].startswith("cannot reach Redis at redis://127.0.0.1:")
    assert client.get("/healthz").status_code == 503


# -- identity: the CMS's id or the canonical URL, never a path segment ----------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://blog.example/?p=1", "https://blog.example/?p=2"),
        ("https://blog.example/2024/01/index.html", "https://blog.example/2024/02/index.html"),
    ],
)
def test_urls_that_end_alike_are_two_articles_not_an_update(client, context, first, second):
    one = client.post("/api/articles", json=article_data(1, url=first), headers=AUTH)
    two = client.post("/api/articles", json=article_data(2, url=second), headers=AUTH)
    assert (one.status_code, two.status_code) == (201, 201), two.text
    assert one.json()["id"] != two.json()["id"]
    assert two.headers["location"] == f"/api/articles/{two.json()['id']}"
    for resp, url in ((one, first), (two, second)):
        shown = client.get(f"/api/articles/{resp.json()['id']}", headers=AUTH).json()
        assert shown["url"] == url


def test_the_cms_id_names_the_article_across_url_changes(client, context):
    body = article_data(1, url="https://blog.example/?p=41", source_id="41")
    created = client.post("/api/articles", json=body, headers=AUTH)
    assert created.status_code == 201 and created.json()["id"] == "41"
    moved = article_data(
        1,
        url="https://blog.example/2026/12/story/",
        source_id="41",
        updated_at="2026-11-02T15:00:00+00:00",
    )
    updated = client.post("/api/articles", json=moved, headers=AUTH)
    assert updated.status_code == 200 and updated.json() == {"id": "41", "outcome": "updated"}
    # ``id`` is what clients sent so far: the same thing (an integer is a CMS id too).
    again = {**moved, "source_id": None, "id": 41}  # null: not sent
    assert client.post("/api/articles", json=again, headers=AUTH).json() == {
        "id": "41",
        "outcome": "unchanged",
    }
    both = client.post("/api/articles", json={**moved, "id": "42"}, headers=AUTH)
    assert both.status_code == 422 and both.json()["fields"][0]["field"] == "source_id"
    for bad in (True, "", "x" * 201, "a\nb", ["41"]):
        resp = client.post("/api/articles", json={**moved, "source_id": bad}, headers=AUTH)
        assert resp.status_code == 422 and resp.json()["code"] == "invalid_article", bad


def test_a_polled_sources_article_is_refused_with_409_naming_the_owner(client, context):
    from syndication.identity import for_feed_item
    from syndication.models import Article

    theirs = Article.model_validate(article_data(1, url="https://partner.example/story"))
    owned = context.articles.submit(
        theirs, for_feed_item("https://partner.example/feed.xml", theirs.url, "p-1")
    ).article
    before = snapshot(context.client, context.settings.key_prefix)
    hostile = article_data(1, url="https://partner.example/story#x", title="Ours now")
    resp = client.post("/api/articles", json=hostile, headers=AUTH)
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["code"] == "not_owner" and body["id"] == owned.id
    assert body["owner"] == "feed:https://partner.example/feed.xml"
    assert "feed:https://partner.example/feed.xml" in body["error"]
    assert snapshot(context.client, context.settings.key_prefix) == before
