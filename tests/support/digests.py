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
