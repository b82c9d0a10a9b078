"""The republication registry through the real app on a real Redis: the pixel with and
without a Referer, partner pulls, ``POST /partners/republications`` (key, validation,
deduplication), the admin pages, the CLI export, and that no stored key or value holds a
reader's address or user agent (after every kind of request that could store one).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import timedelta

import lxml.html
import pytest
import redis
from fastapi.testclient import TestClient

from syndication.cli.partners import register
from syndication.config import AdminConfig
from syndication.context import Context
from syndication.services.partners import REPUBLISH_PARTNER, Partners
from syndication.store.republications import DAYS_KEPT, RepublicationStore
from syndication.web.app import create_app
from tests.support.clock import ManualClock
from tests.support.partners import NOW, add_articles

READER = ("192.0.2.77", 51515)
READER_UA = "ReaderBrowser/3.1 (distinctive-reader-agent)"
PAGE = "https://Partner.Example:443/news/2026/story?utm_source=x&session=abc123#comments"
NORMAL = "https://partner.example/news/2026/story"
PASSWORD = "correct horse battery staple"
STORY = "sample-story-2"


@pytest.fixture
def ctx(context: Context) -> Context:
    add_articles(context)
    settings = dataclasses.replace(context.settings, admin=AdminConfig(password=PASSWORD))
    return Context(settings, context.events, context.client, clock=context.clock)


@pytest.fixture
def client(ctx: Context) -> TestClient:
    web = TestClient(create_app(ctx), client=READER, follow_redirects=False)
    web.headers["User-Agent"] = READER_UA
    return web


@pytest.fixture
def partners(ctx: Context) -> Partners:
    return ctx.partners


def pixel_path(partners: Partners, partner_id: str, article_id: str) -> str:
    return partners.pixel.url(partner_id, article_id).removeprefix(partners.feeds.public_url)


def report(client: TestClient, key: str | None, body: object) -> object:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/partners/republications", content=data, headers=headers)


def test_pixel_with_a_referer_records_the_page_normalised(client, partners, clock: ManualClock):
    partner, _ = partners.keys.add("Diario", now=NOW)
    path = pixel_path(partners, partner.id, STORY)
    assert client.get(path, headers={"Referer": PAGE}).status_code == 200
    clock.advance(hours=2)
    client.get(path, headers={"Referer": PAGE.replace("#comments", "?other=1")})
    client.get(path)  # no Referer: counted, the page unknown
    for bad in (
        "javascript:alert(1)",
        "ftp://partner.example/x",
        "not a url",
        "https://" + "a" * 600,
    ):
        client.get(path, headers={"Referer": bad})  # counted, no page
    client.get(path, headers={"Referer": "http://testserver/republish/" + STORY})  # ours
    entry = partners.registry.article(STORY)
    (page,) = entry.pages
    assert (page.url, page.partner, page.sources, page.views) == (NORMAL, partner.id, ("pixel",), 2)
    assert page.first_seen == NOW and page.last_seen == NOW + timedelta(hours=2)
    (unplaced,) = entry.unplaced
    assert (unplaced.partner, unplaced.views) == (partner.id, 6)
    assert entry.views == 8 and entry.days == {NOW.date(): 8}
    # A forged token is served the GIF and recorded nowhere.
    client.get("/pixel/garbage.gif", headers={"Referer": "https://forged.example/x"})
    assert "forged" not in json.dumps(partners.registry.article(STORY).to_json())


def test_the_republish_page_pixel_asks_for_the_full_referer(client, partners):
    html = partners.republish.page(STORY)
    assert html is not None and 'referrerpolicy="no-referrer-when-downgrade"' in html.html
    path = pixel_path(partners, REPUBLISH_PARTNER, STORY)
    client.get(path, headers={"Referer": "https://blog.example/post/1?x=1"})
    (page,) = partners.registry.article(STORY).pages
    assert (page.url, page.partner) == ("https://blog.example/post/1", REPUBLISH_PARTNER)


def test_partner_pulls_show_in_the_registry(client, partners, clock: ManualClock):
    partner, key = partners.keys.add("Puller", now=NOW)
    assert (
        client.get(
            "/partners/feeds/all.rss", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 200
    )
    entry = partners.registry.article(STORY)
    assert entry.pulls == {partner.id: NOW}
    assert STORY in [e.article_id for e in partners.registry.partner(partner.id)]


def test_report_api_needs_a_key_validates_and_deduplicates(client, partners, clock: ManualClock):
    partner, key = partners.keys.add("Reporter", now=NOW)
    good = {"article": STORY, "url": PAGE}
    assert report(client, None, good).status_code == 401
    assert report(client, "not-a-key", good).status_code == 401
    refusals = [
        (b"{not json", 400, "body_not_json"),
        ([1, 2], 422, "invalid_report"),
        ({"url": PAGE}, 422, "invalid_article"),
        ({"article": "Bad Id!", "url": PAGE}, 422, "invalid_article"),
        ({"article": STORY}, 422, "invalid_url"),
        ({"article": STORY, "url": 7}, 422, "invalid_url"),
        ({"article": STORY, "url": "ftp://partner.example/x"}, 422, "invalid_url"),
        ({"article": STORY, "url": "javascript:alert(1)"}, 422, "invalid_url"),
        ({"article": STORY, "url": "https://x.example/" + "a" * 600}, 422, "invalid_url"),
        ({"article": "no-such-story", "url": PAGE}, 404, "unknown_article"),
    ]
    for body, status, code in refusals:
        answer = report(client, key, body)
        assert (answer.status_code, answer.json()["code"]) == (status, code), body
        assert answer.json()["error"]
    first = report(client, key, good)
    assert first.status_code == 201
    assert first.json() == {"article": STORY, "url": NORMAL, "new": True}
    clock.advance(days=1)
    again = report(client, key, {"article": STORY, "url": NORMAL + "?utm=y"})
    assert again.status_code == 200 and again.json()["new"] is False
    client.get(pixel_path(partners, partner.id, STORY), headers={"Referer": NORMAL})
    (page,) = partners.registry.article(STORY).pages
    assert page.sources == ("report", "pixel") and page.views == 1
    assert page.first_seen == NOW and page.last_seen == NOW + timedelta(days=1)


def test_pages_per_article_are_capped_and_the_rest_counted(ctx: Context, clock: ManualClock):
    store = RepublicationStore(ctx.client, ctx.settings.key_prefix, max_pages=3)
    outcomes = [
        store.record(STORY, "p", "pixel", f"https://x.example/{n}", 1, clock()) for n in range(5)
    ]
    assert outcomes == [1, 1, 1, -1, -1]
    assert store.record(STORY, "p", "pixel", "https://x.example/0", 1, clock()) == 0
    records = store.article(STORY)
    assert len(records.pages) == 3 and records.other == 2


def test_daily_buckets_are_trimmed_and_expire(ctx: Context, clock: ManualClock):
    store = RepublicationStore(ctx.client, ctx.settings.key_prefix)
    start = clock()
    store.record(STORY, "p", "pixel", None, 1, start)
    for day in range(1, DAYS_KEPT + 5):
        store.record(STORY, "p", "pixel", None, 1, start + timedelta(days=day))
    days = store.article(STORY).days
    assert len(days) <= DAYS_KEPT + 1 and start.date() not in days
    key = f"{ctx.settings.key_prefix}repub:{{{STORY}}}:days"
    assert 0 < ctx.client.ttl(key) <= DAYS_KEPT * 24 * 3600


def test_admin_pages_and_links(client, partners):
    partner, key = partners.keys.add("Shown", now=NOW)
    report(client, key, {"article": STORY, "url": PAGE})
    client.get(pixel_path(partners, partner.id, STORY), headers={"Referer": PAGE})
    page = client.get("/admin/login")
    (csrf,) = lxml.html.fromstring(page.text).xpath('//input[@name="csrf_token"]/@value')
    assert (
        client.post("/admin/login", data={"csrf_token": csrf, "password": PASSWORD}).status_code
        == 303
    )
    articles = client.get("/admin/articles").text
    assert f'href="/admin/republications/articles/{STORY}"' in articles
    assert (
        f'href="/admin/republications/partners/{partner.id}"' in client.get("/admin/partners").text
    )
    html = lxml.html.fromstring(client.get(f"/admin/republications/articles/{STORY}").text)
    assert html.xpath(f'//table[@data-pages]//a[@href="{NORMAL}"]')
    assert html.xpath("//*[@data-views]/text()") == ["1"]
    by_partner = client.get(f"/admin/republications/partners/{partner.id}")
    assert by_partner.status_code == 200 and NORMAL in by_partner.text
    assert NORMAL in client.get("/admin/republications").text
    assert client.get("/admin/republications/articles/no-such").status_code == 404
    assert client.get("/admin/republications/partners/nobody").status_code == 404


def run_cli(ctx: Context, capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    parser = argparse.ArgumentParser(prog="syndication")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["partners", "republications", *argv, "--json"])
    assert args.fn(args, ctx.settings, clock=ctx.clock) == 0
    return json.loads(capsys.readouterr().out)


def test_export_json(client, partners, ctx: Context, capsys):
    partner, key = partners.keys.add("Exported", now=NOW)
    report(client, key, {"article": STORY, "url": PAGE})
    client.get(pixel_path(partners, partner.id, STORY), headers={"Referer": PAGE})
    client.get(pixel_path(partners, partner.id, "sample-story-1"))
    data = run_cli(ctx, capsys)
    assert isinstance(data, dict)
    by_id = {e["article"]: e for e in data["republications"]}
    assert set(by_id) == {STORY, "sample-story-1"}
    entry = by_id[STORY]
    assert entry["views"] == 1 and entry["other"] == 0
    assert entry["pages"] == [
        {
            "url": NORMAL,
            "partner": partner.id,
            "sources": ["report", "pixel"],
            "first_seen": NOW.isoformat(),
            "last_seen": NOW.isoformat(),
            "views": 1,
        }
    ]
    assert entry["views_by_day"] == {NOW.date().isoformat(): 1}
    assert by_id["sample-story-1"]["unplaced"][0]["views"] == 1
    one = run_cli(ctx, capsys, "--article", STORY)
    assert isinstance(one, dict) and [e["article"] for e in one["republications"]] == [STORY]


def all_stored(client: redis.Redis, prefix: str) -> bytes:
    """Every key name and value under ``prefix``, whatever its type."""
    out: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}*"):
        out.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            out.append(client.get(key) or b"")
        elif kind == "hash":
            for k, v in client.hgetall(key).items():
                out += [k, v]
        elif kind == "zset":
            out += client.zrange(key, 0, -1)
        elif kind == "set":
            out += list(client.smembers(key))
        elif kind == "list":
            out += client.lrange(key, 0, -1)
        elif kind == "stream":
            out += [repr(e).encode() for e in client.xrange(key)]
    return b"\n".join(out)


def test_nothing_stored_holds_the_readers_address_or_user_agent(
    client, partners, ctx: Context, redis_client: redis.Redis
):
    """Pixel hits, reports, pulls and digest redirects (canary included), then a scan of
    every key and value: neither the address (nor its /24) nor the user agent is there."""
    partner, key = partners.keys.add("Private", now=NOW)
    client.get(pixel_path(partners, partner.id, STORY), headers={"Referer": PAGE})
    client.get(pixel_path(partners, REPUBLISH_PARTNER, STORY))
    report(client, key, {"article": STORY, "url": PAGE})
    client.get("/partners/feeds/all.rss", headers={"Authorization": f"Bearer {key}"})
    stored = ctx.article_store.get(STORY)
    assert stored is not None
    story = ctx.clicks.links("daily-privacy", [stored.article])
    client.get(story.canary)
    client.get(story.links[STORY])
    assert ctx.clicks.counts("daily-privacy")[STORY] == (0, 1)
    dump = all_stored(redis_client, ctx.settings.key_prefix)
    assert dump  # the scan saw the records
    for secret in (READER[0], "192.0.2.", "192-0-2", READER_UA, "distinctive-reader-agent"):
        assert secret.encode() not in dump, secret
