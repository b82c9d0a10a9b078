"""``/partners/…`` over HTTP: 401s, 429s, the key-in-path form, validators, pixel, republish.

The app is the real one (``create_app``) with the partners router included as the lead
wires it; Redis is real. One test runs a real uvicorn process and reads its access log.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import lxml.html
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syndication.clock import system_clock
from syndication.config import PartnersConfig
from syndication.context import Context
from syndication.embedded_redis import free_port
from syndication.processes import die_with_parent
from syndication.render.attribution import inspect_attribution
from syndication.services.partners import REPUBLISH_PARTNER, make_partners
from syndication.web.app import create_app
from syndication.web.partners import GIF, redact
from tests.support import ROOT, tamper, wait_for
from tests.support.clock import ManualClock
from tests.support.partners import NOW, PUBLISHER, add_articles, assert_attributed

LIMIT = 5


def make_app(ctx: Context, limit: int = LIMIT) -> FastAPI:
    """The real app with the partner rate limit set as an operator would (settings), on the
    test's clock (``ctx.clock``: pulls and views are counted on its day)."""
    limited = dataclasses.replace(
        ctx.settings, partners=PartnersConfig(rate_limit=limit, rate_window_s=60)
    )
    return create_app(Context(limited, ctx.events, ctx.client, clock=ctx.clock))


@pytest.fixture
def client(context: Context) -> TestClient:
    add_articles(context)
    return TestClient(make_app(context, limit=1_000))


@pytest.fixture
def service(context: Context):
    return make_partners(context.settings, context.client, context.article_store)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_missing_invalid_and_revoked_keys_get_401(client, service):
    partner, key = service.keys.add("Outlet", now=NOW)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {key}"}):
        r = client.get("/partners/feeds/all.rss", headers=headers)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/partners/not-a-key/feeds/all.rss").status_code == 401
    assert client.get("/partners/feeds/all.rss", headers=bearer(key)).status_code == 200
    service.keys.revoke(partner.id, NOW)
    assert client.get("/partners/feeds/all.rss", headers=bearer(key)).status_code == 401
    assert client.get(f"/partners/{key}/feeds/all.rss").status_code == 401


def test_rotate_old_key_stops_new_key_works(client, service):
    partner, old = service.keys.add("Outlet", now=NOW)
    _, new = service.keys.rotate(partner.id, NOW)
    assert new != old
    assert client.get("/partners/feeds/all.atom", headers=bearer(old)).status_code == 401
    assert client.get("/partners/feeds/all.atom", headers=bearer(new)).status_code == 200


def test_rate_limit_429_with_retry_after_per_partner(context, service):
    client = TestClient(make_app(context, limit=LIMIT))
    _, key = service.keys.add("Busy", now=NOW)
    _, other = service.keys.add("Calm", now=NOW)
    for _ in range(LIMIT):
        assert client.get("/partners/feeds/all.json", headers=bearer(key)).status_code == 200
    r = client.get("/partners/feeds/all.json", headers=bearer(key))
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert client.get(f"/partners/{key}/feeds/all.json").status_code == 429  # same partner
    assert client.get("/partners/feeds/all.json", headers=bearer(other)).status_code == 200


def test_key_in_path_serves_the_same_document(client, service):
    _, key = service.keys.add("URL-only importer", now=NOW)
    for fmt in ("rss", "atom", "json", "ninjs"):
        a = client.get(f"/partners/feeds/all.{fmt}", headers=bearer(key))
        b = client.get(f"/partners/{key}/feeds/all.{fmt}")
        assert a.status_code == b.status_code == 200
        assert a.content == b.content and a.headers["ETag"] == b.headers["ETag"]
        assert b.headers["Referrer-Policy"] == "no-referrer"
        assert "private" in b.headers["Cache-Control"]
        assert key.encode() not in b.content
    assert client.get(f"/partners/{key}/feeds/topic/coca.rss").status_code == 200
    assert client.get(f"/partners/{key}/feeds/nope.rss").status_code == 404
    assert client.get(f"/partners/{key}/feeds/author/ana.rss").status_code == 404


def test_etag_304_and_pull_counts(client, service, clock: ManualClock):
    partner, key = service.keys.add("Poller", now=NOW)
    first = client.get("/partners/feeds/all.atom", headers=bearer(key))
    assert first.status_code == 200 and first.headers["Last-Modified"]
    again = client.get(
        "/partners/feeds/all.atom", headers={**bearer(key), "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304 and again.content == b""
    gz = client.get("/partners/feeds/all.atom", headers={**bearer(key), "Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip" and gz.content == first.content
    today = clock().date()
    assert service.store.pulls(today) == {partner.id: 3}
    (row,) = service.keys.summaries(today)
    assert row.pulls_today == 3 and row.pulls_30_days == 3


def test_served_items_are_attributed(client, service, context):
    _, key = service.keys.add("Reader", now=NOW)
    r = client.get("/partners/feeds/all.json", headers=bearer(key))
    articles = {a.url: a for a in context.article_store.latest(50)}
    for item in r.json()["items"]:
        assert_attributed(
            {"html": item["content_html"], "title": item["title"]}, articles[item["url"]]
        )


def test_pixel_counts_signed_pairs_only(client, service, clock: ManualClock):
    partner, _ = service.keys.add("Counted", now=NOW)
    url = service.pixel.url(partner.id, "sample-story-1")
    path = url.removeprefix(service.feeds.public_url)
    for _ in range(3):
        r = client.get(path)
        assert r.status_code == 200 and r.content == GIF
        assert r.headers["Content-Type"] == "image/gif"
        assert "set-cookie" not in r.headers and "no-store" in r.headers["Cache-Control"]
    # A token for another article, edited or made up: served, never counted.
    token = path.removeprefix("/pixel/").removesuffix(".gif")
    body, mac = token.split(".")
    other = service.pixel.url(partner.id, "sample-story-2").removeprefix(service.feeds.public_url)
    other_body = other.removeprefix("/pixel/").removesuffix(".gif").split(".")[0]
    for forged in (f"{other_body}.{mac}", tamper(f"{body}.{mac}"), "garbage", "a.b"):
        assert client.get(f"/pixel/{forged}.gif").content == GIF
    views = service.store.views(clock().date())
    assert views == {(partner.id, "sample-story-1"): 3}


def test_republish_page(client, service, context, clock: ManualClock):
    r = client.get("/republish/sample-story-1")
    assert r.status_code == 200
    page = lxml.html.fromstring(r.text)
    assert page.xpath("//meta[@name='robots']/@content") == ["noindex"]
    textarea, plain = page.xpath("//textarea")  # the HTML to paste, then its plain text
    pasted = textarea.text_content()
    article = context.article_store.get("sample-story-1").article
    assert_attributed({"html": pasted, "title": article.title}, article)
    assert "/pixel/" in pasted
    # The plain-text copy: the same attribution with every link spelled out, no pixel.
    assert plain.text_content().splitlines()[0].endswith(article.url)
    assert "/pixel/" not in plain.text_content() and "<" not in plain.text_content()
    # The preview shows the copy but counts nothing: no pixel in it.
    (preview,) = page.xpath("//div[@class='preview']")
    assert not preview.xpath(".//img[contains(@src, '/pixel/')]")
    assert (
        inspect_attribution(lxml.html.tostring(preview, encoding="unicode")).top_url == article.url
    )
    text = " ".join(page.text_content().split())
    assert "NonCommercial" in text and f'rel="canonical" href="{article.url}"' in text
    assert (
        page.xpath("//a[@rel='license']/@href")[0]
        == "https://creativecommons.org/licenses/by-nc/4.0/"
    )
    # The pasted pixel counts for the republish page's own "partner".
    pixel = re.search(r'src="([^"]+/pixel/[^"]+)"', pasted)
    assert pixel is not None
    client.get(pixel.group(1).removeprefix(service.feeds.public_url))
    assert service.store.views(clock().date()) == {(REPUBLISH_PARTNER, "sample-story-1"): 1}
    # Not republishable: all rights reserved, republishable=false, unknown, withdrawn.
    context.articles.withdraw("sample-story-2")
    for article_id in ("sample-story-3", "sample-story-4", "no-such-story", "sample-story-2"):
        assert client.get(f"/republish/{article_id}").status_code == 404


def test_republish_page_escapes_hostile_titles(client):
    r = client.get("/republish/sample-story-8")
    assert r.status_code == 200
    assert "<script>alert" not in r.text
    page = lxml.html.fromstring(r.text)
    assert not page.xpath("//script")


def test_republish_snippet(client):
    r = client.get("/republish/snippet.js")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    assert '"http://testserver"' in r.text and "data-republish" in r.text


def test_redact():
    key = "AbC-_123" * 5
    assert redact(f"GET /partners/{key}/feeds/all.rss HTTP/1.1") == (
        "GET /partners/***/feeds/all.rss HTTP/1.1"
    )
    assert redact("/partners/feeds/all.rss") == "/partners/feeds/all.rss"


def variants(key: str) -> list[str]:
    """The key as clients have sent it other than the one served form."""
    return [
        f"/partners//{key}/feeds/all.rss",
        f"/Partners/{key}/feeds/all.rss",
        f"//partners/{key}/feeds/all.rss",
        f"/partners/%{ord(key[0]):02X}{key[1:]}/feeds/all.rss",
        f"/%70artners/{key}x/feeds/all.rss",
        f"/partners/feeds/all.rss?k={key}",
        f"/partners/feeds/all.rss?lang=en&Key={key}",
        f"/partners/feeds/all.rss?api_key={key}",
        f"/partners/feeds/all.rss?%6B={key}",
    ]


def test_the_key_is_served_in_one_form_only(client, service):
    """Only ``/partners/{key}/feeds/…`` exactly: other spellings are 404 (or 401 without a
    bearer key), never the feed."""
    _, key = service.keys.add("Canonical", now=NOW)
    assert client.get(f"/partners/{key}/feeds/all.rss").status_code == 200
    for variant in variants(key):
        r = client.get(variant)
        assert r.status_code in (401, 404), (variant, r.status_code)
        assert "<rss" not in r.text


APP_MODULE = """
from syndication.config import load_settings
from syndication.config import PartnersConfig
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.web.app import create_app
from syndication.web.partners import make_router


def app():
    ctx = Context(load_settings(), RecordingEvents())
    application = create_app(ctx)
    application.include_router(make_router(ctx))
    return application
"""


def test_access_log_never_contains_the_key(env, context, service, tmp_path: Path):
    """A real uvicorn process with its default access log, as ``syndication serve`` runs."""
    # The server is another process, on its own clock: the system clock. What it serves is
    # stored on that clock too (not the test's fixed one), so nothing it reads dates from
    # "the future" or "the past" of the server whatever the machine's calendar says.
    add_articles(Context(context.settings, context.events, context.client, clock=system_clock))
    _, key = service.keys.add("Logged", now=system_clock())
    (tmp_path / "partners_app.py").write_text(APP_MODULE)
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "partners_app:app",
                "--factory",
                "--app-dir",
                str(tmp_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "info",
            ],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, log.read_text()  # died: say why, do not wait on
            try:
                return httpx.get(f"{base}/healthz/web", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=30, interval=0.1)
        assert httpx.get(f"{base}/partners/{key}/feeds/all.rss").status_code == 200
        assert httpx.get(f"{base}/partners/{key}x/feeds/all.rss").status_code == 401
        assert httpx.get(f"{base}/partners/feeds/all.rss", headers=bearer(key)).status_code == 200
        # Other spellings are not served, and the key in them is not logged either.
        for variant in variants(key):
            assert httpx.get(f"{base}{variant}").status_code in (401, 404), variant
        # The access log line of each request (written after the answer).
        expected = 3 + len(variants(key))
        wait_for(lambda: log.read_text().count("all.rss") >= expected, timeout=10, interval=0.1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    text = log.read_text()
    assert text.count("/partners/***/feeds/all.rss") >= 2, text
    assert key not in text and key[:20] not in text
    assert PUBLISHER  # the feed was served (status lines above)
