"""Sample subscribers and articles for digest tests, written straight to the stores."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def add_subscribers(
    client: Any,
    prefix: str,
    n: int,
    *,
    now: datetime,
    frequency: str = "daily",
    segments: tuple[tuple[str, tuple[str, ...]], ...] = (("en", ()),),
    domain: str = "example.org",
) -> list[Any]:
    """``n`` confirmed subscribers spread round-robin over ``segments`` (language, topics),
    signed up and confirmed at ``now``."""
    from syndication.store.subscribers import SubscriberStore

    store = SubscriberStore(client, prefix)
    out = []
    for i in range(n):
        language, topics = segments[i % len(segments)]
        _, sub = store.signup(f"reader{i:05d}@{domain}", frequency, topics, language, now)
        assert sub is not None
        _, confirmed = store.confirm(sub.id, now)
        assert confirmed is not None
        out.append(confirmed)
    return out


def add_articles(
    client: Any, prefix: str, specs: list[dict[str, Any]], *, now: datetime
) -> list[Any]:
    """Store articles (``tests.support.article_data`` overrides), published within the hour
    before ``now``."""
    from syndication.models import Article
    from syndication.store.articles import ArticleStore
    from tests.support import article_data

    store = ArticleStore(client, prefix)
    out = []
    for i, spec in enumerate(specs, 1):
        when = (now - timedelta(minutes=60 - i)).isoformat()
        article = Article.model_validate(article_data(i, published_at=when, **spec))
        store.upsert(article, now)
        out.append(article)
    return out


def send_all(service: Any, edition_id: str, timeout: float = 60) -> Any:
    """Run ``service.send_batch`` until the edition is no longer ``sending``; returns it.

    Retries come due in Redis time (the ledger's backoff), so this waits for that event
    (``tests.support.wait_for``), never for a fixed span; on timeout it shows the counts."""
    from syndication.store.editions import EditionStatus
    from tests.support import wait_for

    last: list[Any] = [None]

    def finished() -> Any:
        service.send_batch(edition_id, requeue=False)
        edition = last[0] = service.status(edition_id)
        if edition is None:
            raise LookupError(f"no edition {edition_id}")
        return edition if edition.status is not EditionStatus.SENDING else None

    try:
        return wait_for(finished, timeout=timeout)
    except AssertionError as exc:
        counts = last[0].counts if last[0] is not None else None
        raise AssertionError(f"{exc}: edition {edition_id} still sending, {counts}") from None


def smtp_digests(settings: Any, client: Any, smtp: Any, clock: Any, **options: Any) -> Any:
    """A Digests that sends through ``smtp`` (a ``ScriptedSmtp``) in this process, one
    connection at a time, with short leases and backoffs; its sending requests are kept
    (``RecordingEvents``), so only ``send_all`` sends. ``options``: other ``MailSettings``."""
    import dataclasses

    from syndication.events import RecordingEvents
    from syndication.services.digests import (
        MailSettings,
        make_digest_service,
    )
    from syndication.store.editions import Policy

    fast = Policy(lease_s=20, tx_budget_s=5, retry_base_s=0.1, retry_max_s=0.5, max_attempts=5)
    mail = MailSettings(**{"connections": 1, "batch": 20, "policy": fast, **options})
    return make_digest_service(
        dataclasses.replace(settings, smtp_url=smtp.url),
        client,
        RecordingEvents(),
        mail=mail,
        clock=clock,
    )


def uncertain_edition(
    settings: Any, client: Any, smtp: Any, clock: Any, readers: int, uncertain: tuple[int, ...]
) -> tuple[Any, str, list[Any]]:
    """A daily edition sent to ``readers`` subscribers through ``smtp``, done, whose entries
    for the readers at the positions ``uncertain`` are really uncertain: the server took the
    whole message and dropped the connection before its reply (the message did arrive once).
    Returns (the sending service, the edition id, the subscribers)."""
    from syndication.store.editions import EditionStatus

    prefix = settings.key_prefix
    subs = add_subscribers(client, prefix, readers, now=clock())
    add_articles(client, prefix, [{"topics": ["Coca"]}, {"topics": ["Peru"]}], now=clock())
    smtp.script.drop_after_data.update(subs[i].email for i in uncertain)
    service = smtp_digests(settings, client, smtp, clock)
    created = service.create_edition("daily", clock())
    assert created.edition_id
    edition = send_all(service, created.edition_id)
    assert edition.status is EditionStatus.DONE, edition.counts
    assert edition.counts["uncertain"] == len(uncertain), edition.counts
    return service, created.edition_id, subs


def worker_service(
    settings: Any, client: Any, policy: Any, events: Any = None, fanout: int = 4
) -> Any:
    """The service as the CLI or beat would make it for editions that real workers send:
    its own Celery app (this test's broker and key prefix, never a previous test's cached
    connection pool) unless ``events`` is given, and no SMTP sender of its own."""
    from celery import Celery

    from syndication.services.digests import MailSettings, make_digest_service
    from workers.celery_app import celery_config
    from workers.events import CeleryEvents

    if events is None:
        celery = Celery("digest-test", set_as_current=False)
        celery.conf.update(celery_config(settings))
        events = CeleryEvents(celery, settings)
    return make_digest_service(
        settings,
        client,
        events,
        mail=MailSettings(policy=policy, fanout=fanout),
        with_sender=False,
    )


def edition_done(service: Any, edition_id: str) -> bool:
    from syndication.store.editions import EditionStatus

    edition = service.status(edition_id)
    assert edition is not None
    return bool(edition.status is EditionStatus.DONE)


def assert_exactly_once(service: Any, edition_id: str, smtp: Any) -> int:
    """Every frozen recipient got exactly one message, except uncertain ones (at most one);
    returns how many are uncertain."""
    from syndication.store.editions import EntryState

    edition = service.status(edition_id)
    assert edition is not None
    per = smtp.per_recipient()
    states = service.editions.states(edition_id)
    recipients = {r.subscriber_id: r.email for r in service.editions.iter_recipients(edition_id)}
    assert len(recipients) == edition.counts["total"]
    assert max(per.values()) == 1, [e for e, n in per.items() if n > 1][:5]
    for sid, email in recipients.items():
        if states[sid] == EntryState.SENT:
            assert per[email] == 1, sid
        else:
            assert states[sid] == EntryState.UNCERTAIN, (sid, states[sid])
            assert per[email] <= 1
    assert set(per) <= set(recipients.values())
    return int(edition.counts["uncertain"])
