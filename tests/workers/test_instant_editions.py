"""Instant editions: the articles of one 5-minute bucket go out together, once.

Publishing queues ``mail.create_edition("instant")`` to run after the bucket closes
(workers/events.py); the edition is idempotent per bucket, so the one task per article
that a burst of articles queues still makes one email per instant subscriber.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from syndication.clock import system_clock
from syndication.config import Settings
from syndication.events import RecordingEvents
from syndication.models import Article
from syndication.services.articles import ArticleService
from syndication.services.digests import (
    Digests,
    MailSettings,
    make_digest_service,
    period_of,
)
from syndication.store.articles import ArticleStore
from syndication.store.editions import EditionStatus, Policy
from tests.support import article_data, wait_for
from tests.support.clock import ManualClock
from tests.support.digests import add_subscribers
from tests.support.smtp import ScriptedSmtp
from tests.support.workers import MailWorker
from workers.events import INSTANT_DELAY

FAST = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)


def bucket_start(now: datetime) -> datetime:
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)


def store_article(client: redis.Redis, prefix: str, n: int, when: datetime) -> Article:
    article = Article.model_validate(
        article_data(n, published_at=when.isoformat(), title=f"Instant story {n}")
    )
    ArticleStore(client, prefix).upsert(article, when)
    return article


def send_all(service: Digests, edition_id: str) -> None:
    deadline = time.monotonic() + 60
    while (edition := service.status(edition_id)) and edition.status is EditionStatus.SENDING:
        assert time.monotonic() < deadline, edition.counts
        service.send_batch(edition_id, requeue=False)


def test_two_articles_in_one_bucket_make_one_email_each_once(
    settings: Settings,
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    clock: ManualClock,
) -> None:
    now = clock()
    instant = add_subscribers(redis_client, prefix, 4, now=now, frequency="instant")
    add_subscribers(redis_client, prefix, 3, now=now, frequency="daily", domain="daily.example.org")
    start = bucket_start(now) - timedelta(minutes=5)  # a bucket that closed
    old = store_article(redis_client, prefix, 1, start - timedelta(hours=2))
    first = store_article(redis_client, prefix, 2, start + timedelta(seconds=30))
    second = store_article(redis_client, prefix, 3, start + timedelta(minutes=3))
    service = make_digest_service(
        dataclasses.replace(settings, smtp_url=smtp.url),
        redis_client,
        RecordingEvents(),
        mail=MailSettings(policy=FAST),
        clock=clock,
    )
    closes = start + timedelta(minutes=4, seconds=59)
    created = service.create_edition("instant", closes)
    assert created.created and created.edition_id
    assert created.edition_id == f"instant-{period_of('instant', closes, service.tz)}"
    assert set(created.edition.article_ids if created.edition else ()) == {first.id, second.id}
    send_all(service, created.edition_id)

    per = smtp.per_recipient()
    assert per == {s.email: 1 for s in instant}  # instant subscribers only, once each
    for msg in smtp.messages():
        html = msg.get_body(("html",))
        assert html is not None
        content = html.get_content()
        assert first.title in content and second.title in content
        assert old.title not in content
        # Two stories: the lead's headline, then the name (render/look.py).
        assert str(msg["Subject"]).split(" | ")[0] in (first.title, second.title)

    # the second article's own task, a retried task: same bucket, nothing new
    again = service.create_edition("instant", start + timedelta(minutes=4))
    assert (again.edition_id, again.created) == (created.edition_id, False)
    # the next bucket, with no new article: no edition
    later = service.create_edition("instant", closes + timedelta(minutes=5))
    assert later.edition_id is None
    assert service.send_batch(created.edition_id).sent == 0
    assert smtp.count() == 4


@pytest.mark.slow
def test_publishing_queues_the_bucket_edition_and_a_worker_sends_it(
    settings: Settings,
    env: dict[str, str],
    redis_client: redis.Redis,
    prefix: str,
    smtp: ScriptedSmtp,
    tmp_path: Path,
) -> None:
    from celery import Celery

    from workers.celery_app import celery_config
    from workers.events import CeleryEvents

    # The wall clock, not the test's: the worker makes the edition at *its* now
    # (``mail.create_edition`` reads the machine's clock) and Celery times the queued tasks'
    # ETA on it, so the articles and subscribers this test writes are timed on it too.
    clock = system_clock
    now = clock()
    celery = Celery("instant-test", set_as_current=False)
    celery.conf.update(celery_config(settings))
    subs = add_subscribers(redis_client, prefix, 3, now=now, frequency="instant")
    # The events' clock stands still, so both publishes target one bucket: one task.
    events = CeleryEvents(celery, settings, clock=ManualClock(now))
    articles = ArticleService(ArticleStore(redis_client, prefix), events, clock=clock)
    published = []
    for n in (1, 2):
        article = Article.model_validate(
            article_data(n, published_at=(now - timedelta(seconds=20)).isoformat())
        )
        articles.accept(article)
        published.append(article)

    # the first publish queued the bucket's instant edition for after the bucket closes; the
    # second, for the same bucket, queued none
    queued = [json.loads(m) for m in redis_client.lrange(f"{prefix}celery:mail", 0, -1)]
    creates = [m for m in queued if m["headers"]["task"] == "mail.create_edition"]
    assert len(creates) == 1
    for message in creates:
        args = json.loads(base64.b64decode(message["body"]))[0]
        assert args == ["instant"]
        eta = datetime.fromisoformat(message["headers"]["eta"])
        assert (
            timedelta(seconds=INSTANT_DELAY - 30)
            < eta - now
            <= timedelta(seconds=INSTANT_DELAY + 30)
        )

    # what those tasks do when their time comes, run now by a real worker
    service = make_digest_service(settings, redis_client, RecordingEvents(), clock=clock)
    worker = MailWorker({**env, "SYNDICATION_SMTP_URL": smtp.url}, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        tasks = [celery.send_task("mail.create_edition", args=["instant"]) for _ in range(2)]
        # Both have run (the second is the duplicate): exactly one made the edition. The
        # other found it made ("exists"), or, past a bucket boundary, nothing new to send.
        results = [worker.task_result(task.id) for task in tasks]
        (made,) = [r for r in results if r["created"]]
        (duplicate,) = [r for r in results if not r["created"]]
        eid = made["edition"]
        assert duplicate["edition"] in (eid, None), results
        # The edition is done: its ledger has every recipient sent, nothing left to claim.
        wait_for(lambda: (e := service.status(eid)) and e.status is EditionStatus.DONE, timeout=60)
    finally:
        worker.stop()
    edition = service.status(eid)
    assert edition is not None and edition.counts["sent"] == edition.counts["total"] == 3
    assert smtp.per_recipient() == {s.email: 1 for s in subs}
    for msg in smtp.messages():
        html = msg.get_body(("html",))
        assert html is not None
        assert all(a.title in html.get_content() for a in published)


def test_a_burst_queues_one_instant_edition_per_bucket(
    settings: Settings, redis_client: redis.Redis, prefix: str
) -> None:
    """30 articles in one bucket queue one task; the next bucket's first article, another.
    (The first test shows the task, when it runs, takes every article published before.)"""
    from celery import Celery

    from workers.celery_app import celery_config
    from workers.events import INSTANT_BUCKET, CeleryEvents

    celery = Celery("instant-burst", set_as_current=False)
    celery.conf.update(celery_config(settings))
    clock = ManualClock(datetime(2026, 12, 7, 9, 0, 1, tzinfo=UTC))
    events = CeleryEvents(celery, settings, clock=clock)

    def creates() -> int:
        queued = [json.loads(m) for m in redis_client.lrange(f"{prefix}celery:mail", 0, -1)]
        return sum(m["headers"]["task"] == "mail.create_edition" for m in queued)

    for n in range(30):
        events.published(f"burst-{n}")
        clock.advance(timedelta(seconds=9))  # 30 × 9 s = 270 s: still the first bucket
    assert creates() == 1
    clock.advance(timedelta(seconds=INSTANT_BUCKET))
    events.published("next-bucket")
    events.published("next-bucket-too")
    assert creates() == 2
