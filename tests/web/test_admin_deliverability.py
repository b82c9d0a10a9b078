"""Hard-bounce and complaint rates against Gmail's 0.3 % line (0.1 % advised): counted by
real sends through the scripted SMTP server, shown with a banner on the admin's overview
and edition pages, and on /metrics; the daily counts add up over 30 days and expire."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape

import pytest
import redis
from fastapi.testclient import TestClient

from syndication.config import load_settings
from syndication.context import Context
from syndication.events import RecordingEvents
from syndication.services.deliverability import Rates
from syndication.store.deliverability import TTL_DAYS, DeliverabilityCounts
from syndication.web.app import create_app
from tests.support.clock import ManualClock
from tests.support.digests import add_articles, add_subscribers, send_all
from tests.support.smtp import ScriptedSmtp

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def ctx(
    env: dict[str, str], redis_client: redis.Redis, clock: ManualClock, smtp: ScriptedSmtp
) -> Context:
    settings = load_settings(
        {**env, "SYNDICATION_ADMIN_PASSWORD": PASSWORD, "SYNDICATION_SMTP_URL": smtp.url}
    )
    return Context(settings, RecordingEvents(), redis_client, clock=clock)


@pytest.fixture
def admin(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as client:
        page = client.get("/admin/login")
        token = unescape(CSRF.search(page.text).group(1))  # type: ignore[union-attr]
        answer = client.post(
            "/admin/login",
            data={"password": PASSWORD, "csrf_token": token, "next": "/admin"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        yield client


def test_a_bouncing_edition_is_flagged_on_the_admin_and_metrics(
    ctx: Context,
    admin: TestClient,
    redis_client: redis.Redis,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    prefix = ctx.settings.key_prefix
    admin.get("/admin")  # nothing sent yet: no banner
    assert "data-deliverability" not in admin.get("/admin").text
    subs = add_subscribers(redis_client, prefix, 9, now=clock())
    add_articles(redis_client, prefix, [{}], now=clock())
    smtp.script.perm_fail.add(subs[0].email)  # 550 5.1.1: a hard bounce
    created = ctx.digests.create_edition("daily", clock())
    assert created.edition_id
    send_all(ctx.digests, created.edition_id)

    rates = ctx.deliverability.edition(created.edition_id)
    assert (rates.sent, rates.hard_bounces, rates.complaints) == (8, 1, 0)
    assert rates.level == "danger"
    page = admin.get(f"/admin/editions/{created.edition_id}").text
    assert 'data-deliverability="danger"' in page and "this edition" in page
    assert '<td class="num" data-rate="hard_bounce">11.11 %</td>' in page
    overview = admin.get("/admin").text
    assert 'data-deliverability="danger"' in overview and "last 30 days" in overview

    text = admin.get("/metrics").text
    assert 'syndication_hard_bounce_rate{window="30d"} 0.111111' in text
    assert (
        f'syndication_hard_bounce_rate{{window="edition",edition="{created.edition_id}"}} 0.111111'
        in text
    )
    assert 'syndication_complaint_rate{window="30d"} 0' in text

    # 31 days on, the window no longer holds that day
    clock.advance(days=31)
    assert ctx.deliverability.last_days() == Rates(0, 0, 0)
    assert "data-deliverability" not in admin.get("/admin").text


def test_daily_counts_sum_over_30_days_and_expire(
    redis_client: redis.Redis, prefix: str, clock: ManualClock
) -> None:
    counts = DeliverabilityCounts(redis_client, prefix)
    today = clock().date()
    for back in range(35):
        counts.add(today - timedelta(days=back), {"sent": 1000, "complaints": 1}, "e1")
    assert counts.window(today) == {"sent": 30_000, "hard_bounces": 0, "complaints": 30}
    assert counts.edition("e1") == {"sent": 35_000, "hard_bounces": 0, "complaints": 35}
    keys = redis_client.keys(f"{prefix}{{deliv}}:*")
    assert len(keys) == 36  # bounded: a key a day and one per edition, each expiring
    assert all(0 < redis_client.ttl(k) <= TTL_DAYS * 86_400 for k in keys)


@pytest.mark.parametrize(
    ("sent", "bounces", "complaints", "level"),
    [
        (10_000, 10, 10, "ok"),  # 0.1 % each: at the advised level, not above
        (10_000, 0, 11, "warning"),
        (10_000, 11, 0, "warning"),
        (10_000, 0, 31, "danger"),
        (0, 0, 0, "ok"),
    ],
)
def test_levels_follow_gmails_lines(sent: int, bounces: int, complaints: int, level: str) -> None:
    assert Rates(sent, bounces, complaints).level == level


@pytest.mark.parametrize(
    ("event", "edition"),
    [
        ({"message_id": "<daily-2026-12-01.s1@news.example>"}, "daily-2026-12-01"),
        ({"Message-ID": "daily-2026-12-01.s1@news.example"}, "daily-2026-12-01"),
        ({"edition": "weekly-2026-W49"}, "weekly-2026-W49"),
        ({"message_id": "<no-edition@news.example>"}, None),
        ({"message_id": "<{evil}\r\nkey.s1@x>"}, None),
        ({"edition": "x" * 500}, None),
        ({}, None),
    ],
)
def test_a_complaint_counts_on_the_day_and_on_the_edition_it_names(
    ctx: Context, event: dict[str, str], edition: str | None
) -> None:
    """Feedback-loop complaints reach the complaint rate through the provider webhook's
    service; the edition comes from the event or our Message-ID, and only an id shaped like
    an edition's may name a key."""
    report = ctx.suppressions.record_events(
        [{"type": "complaint", "email": "reader@example.org", **event}]
    )
    assert report["suppressed"] == 1
    assert ctx.deliverability.last_days().complaints == 1
    if edition is not None:
        assert ctx.deliverability.edition(edition).complaints == 1
    keys = [k.decode() for k in ctx.client.scan_iter(f"{ctx.settings.key_prefix}*")]
    assert not any("evil" in k or "x" * 200 in k for k in keys)
