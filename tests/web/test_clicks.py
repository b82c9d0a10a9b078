"""Click counts (``SYNDICATION_CLICK_COUNTS``): a digest sent over a real SMTP server on
loopback, its links read from the received message and followed through the real app.

A person's click counts; a scanner that follows the invisible canary link has its clicks
from the same network in that minute discarded (and counted as such); a tampered token is a
404 that redirects nowhere. With the setting off, story links go straight to the article.
"""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage
from typing import Any

import lxml.html
import pytest
import redis
from fastapi.testclient import TestClient

from syndication.config import AdminConfig, Settings, load_settings
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.metrics import parse_exposition
from syndication.services.digests import MailSettings, make_digest_service
from syndication.store.editions import Policy
from syndication.web.app import create_app
from tests.support import tamper
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.smtp import ScriptedSmtp

HUMAN = ("198.51.100.7", 50000)
SCANNER = ("203.0.113.20", 40000)
SCANNER_NEIGHBOUR = ("203.0.113.99", 40001)  # the same /24: the same scanner farm
SCANNER_UA = "LinkScanner/9.9 (distinctive-test-agent)"
PASSWORD = "correct horse battery staple"
FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)


def context_with(env: dict[str, str], client: redis.Redis, clock: ManualClock, on: bool) -> Context:
    values = {**env, "SYNDICATION_CLICK_COUNTS": "1" if on else "0"}
    settings = dataclasses.replace(load_settings(values), admin=AdminConfig(password=PASSWORD))
    return Context(settings, RecordingEvents(), client, clock=clock)


def send_digest(ctx: Context, smtp: ScriptedSmtp, prefix: str) -> tuple[str, list[Any]]:
    """One daily edition to one reader through ``smtp``; (edition id, the articles)."""
    clock = ctx.clock
    add_subscribers(ctx.client, prefix, 1, now=clock())
    articles = add_articles(ctx.client, prefix, [{"topics": ["Coca"]}, {}], now=clock())
    settings: Settings = dataclasses.replace(ctx.settings, smtp_url=smtp.url)
    service = make_digest_service(
        settings,
        ctx.client,
        RecordingEvents(),
        mail=MailSettings(connections=1, batch=20, policy=FAST),
        clock=clock,
        clicks=ctx.clicks,
    )
    created = service.create_edition("daily", clock())
    assert created.edition_id
    send_all(service, created.edition_id)
    return created.edition_id, articles


def parts(message: EmailMessage) -> tuple[str, str]:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


def links(html: str) -> tuple[list[str], list[str]]:
    """(story links: titles and "Read more", the hidden canary links)."""
    doc = lxml.html.fromstring(html)
    canary = doc.xpath('//a[@aria-hidden="true"]/@href')
    stories = doc.xpath('//h2[@class="item-title"]/a/@href | //p[@class="more"]/a/@href')
    return stories, canary


def sign_in(client: TestClient) -> None:
    page = client.get("/admin/login")
    (csrf,) = lxml.html.fromstring(page.text).xpath('//input[@name="csrf_token"]/@value')
    answer = client.post("/admin/login", data={"csrf_token": csrf, "password": PASSWORD})
    assert answer.status_code == 303, answer.text


def test_links_in_a_sent_digest_count_people_and_discard_scanners(
    env: dict[str, str],
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    ctx = context_with(env, redis_client, clock, on=True)
    edition_id, articles = send_digest(ctx, smtp, prefix)
    (message,) = smtp.messages()
    html, text = parts(message)
    stories, canary = links(html)
    assert len(stories) == 4 and all(s.startswith("http://testserver/c/") for s in stories)
    assert len(canary) == 1 and canary[0].startswith("http://testserver/c/")
    for story in stories:  # the plain-text part carries the same redirect links
        assert story in text
    assert not set(stories) & {a.url for a in articles}
    app = create_app(ctx)
    human = TestClient(app, client=HUMAN, follow_redirects=False)
    scanner = TestClient(app, client=SCANNER, follow_redirects=False)
    scanner.headers["User-Agent"] = SCANNER_UA
    first = stories[0]
    target = {f"{a.id}": a.url for a in articles}

    answer = human.get(first)
    assert answer.status_code == 302
    assert answer.headers["location"] in target.values()
    assert scanner.get(canary[0]).status_code == 200  # the canary: an empty page
    assert scanner.get(first).status_code == 302  # followed, but discarded
    neighbour = TestClient(app, client=SCANNER_NEIGHBOUR, follow_redirects=False)
    assert neighbour.get(stories[2]).status_code == 302  # same /24, same minute: discarded
    counts = ctx.clicks.counts(edition_id)
    clicked = next(a for a, url in target.items() if url == answer.headers["location"])
    assert counts[clicked] == (1, 1)
    assert sum(c for c, _ in counts.values()) == 1
    assert sum(d for _, d in counts.values()) == 2

    clock.advance(minutes=3)  # the mark has lapsed: the same network's click counts again
    assert scanner.get(first).status_code == 302
    assert ctx.clicks.counts(edition_id)[clicked] == (2, 1)

    token = first.rsplit("/", 1)[1]
    for bad in (tamper(token), token[:-2], "x" + token, "nothing"):
        refused = human.get(f"/c/{bad}")
        assert refused.status_code == 404 and "location" not in refused.headers
    # A genuine token for a story the edition never had: not a redirect either.
    stranger = ctx.clicks._url(edition_id, "not-in-this-edition")
    assert human.get(stranger).status_code == 404
    assert ctx.clicks.counts(edition_id)[clicked] == (2, 1)

    exported = parse_exposition(human.get("/metrics").text)
    assert exported['syndication_digest_clicks_total{outcome="counted"}'] == 2
    assert exported['syndication_digest_clicks_total{outcome="discarded"}'] == 2
    assert exported['syndication_digest_clicks_total{outcome="canary"}'] == 1

    sign_in(human)
    page = lxml.html.fromstring(human.get(f"/admin/editions/{edition_id}").text)
    shown = {
        li.get("data-article"): li.xpath(".//*[@data-clicks]")[0]
        for li in page.xpath("//li[@data-article]")
    }
    assert shown[clicked].get("data-clicks") == "2"
    assert shown[clicked].get("data-discarded") == "1"


@pytest.mark.parametrize("on", [False, True])
def test_with_click_counts_off_links_go_straight_to_the_article(
    env: dict[str, str],
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
    on: bool,
) -> None:
    ctx = context_with(env, redis_client, clock, on=on)
    _, articles = send_digest(ctx, smtp, prefix)
    html, text = parts(smtp.messages()[0])
    stories, canary = links(html)
    urls = {a.url for a in articles}
    if on:
        assert not urls & set(stories) and canary
    else:
        assert set(stories) == urls and not canary
        assert "/c/" not in html and "/c/" not in text
        assert all(url in text for url in urls)


def test_the_redirect_target_comes_from_the_store_not_the_request(
    env: dict[str, str], redis_client: redis.Redis, clock: ManualClock
) -> None:
    """A signed token for a story with a recorded target goes there and nowhere else: query
    strings, a second path segment or an encoded URL do not change where it goes."""
    ctx = context_with(env, redis_client, clock, on=True)
    (article,) = add_articles(ctx.client, ctx.settings.key_prefix, [{}], now=clock())
    story = ctx.clicks.links("daily-x", [article])
    client = TestClient(create_app(ctx), client=HUMAN, follow_redirects=False)
    link = story.links[article.id]
    assert client.get(link).headers["location"] == article.url
    hostile = client.get(link + "?next=https://evil.example/&url=https://evil.example/")
    assert hostile.headers["location"] == article.url
    assert client.get(link + "/https:%2F%2Fevil.example").status_code == 404
