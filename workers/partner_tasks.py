"""Thin tasks for partners: make partner copies at publish time; tell partners' webhooks
about corrections and withdrawals.

``partners.prepare_copies`` runs after an article is published, updated or withdrawn
(queued by the article events): it stores the article's partner copies in Redis (or drops
them), so the first partner feed a fresh web process builds reads them instead of
rendering fifty attribution blocks.

``partners.article_changed`` runs after an article is updated or withdrawn (queued by the
article events) and ``partners.sweep_changes`` on the beat schedule as a safety net; each
queues one ``partners.webhook`` per (partner, change), which POSTs the signed notice and
retries on its own: a partner's server being down delays its notice, nobody else's.

A 2xx is success; 408, 429 and 5xx are temporary (retried with backoff, honouring
``Retry-After`` up to the backoff cap); other 4xx are permanent (logged, not retried).
Redirects are not followed: the operator registered that exact URL.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx

from syndication.services.partners import Partners
from syndication.store.connection import ConnectionFailed
from workers.base import context, task
from workers.celery_app import app

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT = 10.0
USER_AGENT = "syndication-webhook/1"


class WebhookTemporaryError(Exception):
    """The partner's server did not take the notice this time."""


TEMPORARY = (*ConnectionFailed, OSError, httpx.TransportError, WebhookTemporaryError)


def service() -> Partners:
    """The partner services of this worker process's Context (workers/base.py)."""
    return context().partners


def _queue(pairs: list[tuple[str, str, str]]) -> int:
    for partner_id, article_id, change in pairs:
        app.send_task("partners.webhook", args=[partner_id, article_id, change])
    return len(pairs)


@task(
    name="partners.prepare_copies",
    acks_late=True,
    autoretry_for=(*ConnectionFailed, OSError),
    retry_backoff=True,
    max_retries=8,
)
def prepare_copies(article_id: str) -> int:
    """Store the current version's partner copies (or drop a withdrawn article's)."""
    return service().copies.prepare_copies(article_id)


@task(
    name="partners.article_changed",
    acks_late=True,
    autoretry_for=(*ConnectionFailed, OSError),
    retry_backoff=True,
    max_retries=8,
)
def article_changed(article_id: str) -> int:
    """Queue a webhook call for each partner that received the article and has a webhook."""
    pairs = service().webhooks.changes_to_notify(article_id)
    return _queue([(p, article_id, c) for p, c in pairs])


@task(name="partners.sweep_changes", acks_late=True, autoretry_for=(*ConnectionFailed, OSError))
def sweep_changes() -> int:
    return _queue(service().webhooks.sweep(datetime.now(UTC)))


@task(
    name="partners.webhook",
    acks_late=True,
    autoretry_for=TEMPORARY,
    retry_backoff=5,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=12,
)
def webhook(partner_id: str, article_id: str, change: str) -> int:
    """POST one signed notice; returns the HTTP status (0 when it no longer applies)."""
    request = service().webhooks.webhook_request(partner_id, article_id, change)
    if request is None:
        return 0
    headers = {**request.headers, "User-Agent": USER_AGENT}
    with httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False) as client:
        response = client.post(request.url, content=request.body, headers=headers)
    status = response.status_code
    if status in (408, 429) or status >= 500:
        raise WebhookTemporaryError(f"webhook of partner {partner_id} answered {status}")
    if not 200 <= status < 300:
        log.warning(
            "partner webhook refused the notice",
            extra={"partner": partner_id, "article": article_id, "status": status},
        )
    return status
