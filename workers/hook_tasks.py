"""Thin tasks on the ``hooks`` queue: event webhooks, apart from the publish pipeline.

``hooks.article`` turns an article event (queued by ``CeleryEvents.published`` and
``.withdrawn``) into a webhook event; ``hooks.fan_out`` queues one ``hooks.deliver`` per
endpoint that wants an event; ``hooks.deliver`` makes one attempt (the service queues the
next one itself, or parks it in Redis when it is hours away); ``hooks.sweep`` (beat, every
minute) queues lost fan-outs and retries that are due. A slow or dead endpoint holds one
``hooks`` worker slot for at most ``SYNDICATION_WEBHOOKS_TIMEOUT_SECONDS``, and no other
queue's work waits for it when the hooks queue has workers of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from syndication.services.event_hooks import EventHooks
from workers.base import TEMPORARY, context, task


def service() -> EventHooks:
    """The event webhooks of this worker process's Context (workers/base.py)."""
    return context().event_hooks


@task(name="hooks.article", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
def article(event_type: str, article_id: str) -> str | None:
    """``article.published`` or ``article.withdrawn``: the event's id, None if unwanted."""
    return service().announce.article(event_type, article_id)


@task(name="hooks.fan_out", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
def fan_out(event_id: str) -> int:
    return service().outbox.fan_out(event_id)


@task(name="hooks.deliver", acks_late=True)
def deliver(endpoint_id: str, event_id: str, attempt: int = 1) -> str:
    """One attempt; no Celery retry (the service schedules the next attempt itself)."""
    return service().delivery.deliver(endpoint_id, event_id, attempt, datetime.now(UTC))


@task(name="hooks.sweep", acks_late=True, autoretry_for=TEMPORARY)
def sweep() -> dict[str, int]:
    return service().outbox.sweep(datetime.now(UTC))
