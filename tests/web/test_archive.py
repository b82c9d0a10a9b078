"""The archive: "view in browser" from a delivered digest opens its edition as a web page
with no one's personal links; /archive lists published editions, newest first, paginated."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syndication.config import Settings
from syndication.events import RecordingEvents
from syndication.services.digests import (
    Digests,
    MailSettings,
    make_digest_service,
)
from syndication.store.editions import EditionStatus, EditionStore, FrozenRecipient, Policy
from syndication.tokens import manage_token
from syndication.web import archive
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.smtp import ScriptedSmtp

FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)


@pytest.fixture
def client(context: Any) -> Iterator[TestClient]:
    """The archive router on an app of its own (app.py includes it once wired)."""
    app = FastAPI()
    app.include_router(archive.make_router(context))
    with TestClient(app) as test_client:
        yield test_client


def service_for(
    settings: Settings, client: redis.Redis, smtp: ScriptedSmtp, clock: ManualClock
) -> Digests:
    settings = dataclasses.replace(settings, smtp_url=smtp.url)
    mail = MailSettings(connections=2, batch=20, policy=FAST)
    return make_digest_service(settings, client, RecordingEvents(), mail=mail, clock=clock)


def view_in_browser(html: str) -> str:
    links = set(re.findall(r'href="(http://testserver/archive/[^"]+)"', html))
    assert len(links) == 1, links
    return links.pop().replace("&amp;", "&")


def test_view_in_browser_opens_the_edition_without_personal_links(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    client: TestClient,
    clock: ManualClock,
) -> None:
    subs = add_subscribers(
        redis_client, prefix, 6, now=clock(), segments=(("en", ()), ("en", ("coca",)), ("es", ()))
    )
    articles = add_articles(
        redis_client,
        prefix,
        [{"topics": ["Coca"]}, {"topics": ["Peru"]}, {"topics": ["Coca"], "language": "es"}],
        now=clock(),
    )
    service = service_for(settings, redis_client, smtp, clock)
    created = service.create_edition("daily", clock())
    assert created.edition_id
    send_all(service, created.edition_id)
    assert smtp.count() == 6

    by_email = {s.email: s for s in subs}
    seen_segments = set()
    for msg in smtp.messages():
        sub = by_email[str(msg["To"])]
        html_part = msg.get_body(("html",))
        assert html_part is not None
        url = view_in_browser(html_part.get_content())
        resp = client.get(url)
        assert resp.status_code == 200, url
        page = resp.text
        # the reader's own segment: their language and topics
        wanted = {
            ("en", ()): {articles[0].title, articles[1].title},
            ("en", ("coca",)): {articles[0].title},
            ("es", ()): {articles[2].title},
        }[(sub.language, sub.topics)]
        for article in articles:
            assert (article.title in page) == (article.title in wanted), (url, article.title)
        # no one's token; one "manage" link to the signup page instead
        for other in subs:
            assert manage_token(settings.need_secret_key(), other) not in page
        assert "/unsubscribe/" not in page and "/preferences/" not in page
        manage = "Gestionar su suscripción" if sub.language == "es" else "Manage your subscription"
        lang = "es" if sub.language == "es" else "en"
        assert re.search(rf'href="http://testserver/manage\?lang={lang}"[^>]*>{manage}', page)
        assert "You are receiving this email" not in page
        assert resp.headers["cache-control"].startswith("public")
        seen_segments.add(url.split("?", 1)[1])
    assert seen_segments == {"segment=en", "segment=en:coca", "segment=es"}

    # without a segment: the publisher's language, all topics
    plain = client.get(f"/archive/{created.edition_id}")
    assert plain.status_code == 200
    assert articles[0].title in plain.text and articles[1].title in plain.text
    assert articles[2].title not in plain.text


def test_archive_lists_published_editions_newest_first(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    client: TestClient,
    clock: ManualClock,
) -> None:
    now = clock()
    add_subscribers(redis_client, prefix, 2, now=now)
    add_articles(redis_client, prefix, [{"topics": ["Coca"]}, {"topics": ["Peru"]}], now=now)
    service = service_for(settings, redis_client, smtp, clock)
    daily = service.create_edition("daily", now)
    weekly_subs = add_subscribers(
        redis_client, prefix, 1, now=now, frequency="weekly", domain="w.org"
    )
    assert weekly_subs
    weekly = service.create_edition("weekly", now + timedelta(seconds=1))
    # a draft is an operator's preview: neither listed nor shown
    draft = service.create_edition(
        "instant", now + timedelta(seconds=2), start=False, since=now - timedelta(days=1)
    )
    assert daily.edition_id and weekly.edition_id and draft.edition_id
    assert draft.edition is not None and draft.edition.status is EditionStatus.DRAFT

    resp = client.get("/archive")
    assert resp.status_code == 200
    text = resp.text
    assert draft.edition_id not in text
    first, second = text.index(weekly.edition_id), text.index(daily.edition_id)
    assert first < second  # newest first
    assert "Weekly digest" in text and "Daily digest" in text
    local_day = now.astimezone(ZoneInfo(settings.publisher.timezone)).strftime("%Y-%m-%d")
    assert "2 stories" in text and local_day in text  # dates in the publisher's time zone
    assert client.get(f"/archive/{draft.edition_id}").status_code == 404


def test_archive_pages_and_unknown_editions(
    settings: Settings, redis_client: redis.Redis, prefix: str, client: TestClient
) -> None:
    store = EditionStore(redis_client, prefix)
    start = datetime(2026, 1, 1, 7, tzinfo=UTC)
    for day in range(26):
        when = start + timedelta(days=day)
        eid = f"daily-{when:%Y-%m-%d}"
        store.init(eid, "daily", f"{when:%Y-%m-%d}", ["a1"], FAST, when)
        if day % 5 == 4:  # every fifth: frozen with no recipient, reached nobody
            store.finish_creation(eid, True, when)
            continue
        store.add_recipients(eid, [FrozenRecipient(f"s{day}", "x@example.org", "g", "t")], {})
        store.finish_creation(eid, True, when)
    shown = [f"daily-{start + timedelta(days=d):%Y-%m-%d}" for d in range(26) if d % 5 != 4]
    shown.reverse()  # newest first
    assert len(shown) == 21

    first = client.get("/archive")
    ids = re.findall(r"/archive/(daily-[0-9-]+)", first.text)
    assert ids == shown[:20]
    older = re.search(r'href="(http://testserver/archive\?start=\d+)"', first.text)
    assert older, first.text
    second = client.get(older.group(1))
    assert re.findall(r"/archive/(daily-[0-9-]+)", second.text) == shown[20:]
    assert "?start=" not in second.text.split("Newest")[-1]  # no further "Older" link

    for bad in ("daily-1999-01-01", "no{such}", "x" * 300):
        resp = client.get(f"/archive/{bad}")
        assert resp.status_code == 404
        assert "No such newsletter" in resp.text
    assert client.get(f"/archive/{shown[0]}?segment=..bad").status_code == 404
