"""Thin tasks on the ``mail`` queue: create editions, send batches, recover stale sends.

Every task takes ids and calls one Digests method. Duplicated or redelivered tasks
are harmless by construction: editions are created once per (frequency, period), and
recipients are claimed atomically from the ledger, so an extra send task finds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from celery import Celery
from celery.signals import worker_ready

from syndication.services.digests import BatchReport, Digests, make_digest_service
from syndication.services.sending import RedisUnavailable
from syndication.store.connection import ConnectionFailed
from workers.celery_app import app, current_settings

log = logging.getLogger(__name__)
TEMPORARY = (*ConnectionFailed, OSError)
_service: Digests | None = None
_F = TypeVar("_F", bound=Callable[..., Any])


def _task(**options: Any) -> Callable[[_F], _F]:
    """``app.task`` with a type: Celery's decorator is untyped, the task bodies are not."""
    return cast(Callable[[_F], _F], app.task(**options))


def _on_worker_ready(fn: _F) -> _F:
    worker_ready.connect(fn, weak=False)
    return fn


# Longest wait before a recover task looks again at leases still running.
RECOVER_RECHECK_MAX = 300.0
# While an edition is sending, how often a recover chain looks for senders that died.
RECOVER_ACTIVE_RECHECK = 15.0


class CeleryDigestEvents:
    """``DigestEvents`` with Celery: each request is one or more ``mail.send_batch`` tasks."""

    def __init__(self, celery: Celery) -> None:
        self.app = celery

    def send_edition(self, edition_id: str, countdown: float = 0.0, copies: int = 1) -> None:
        for _ in range(max(1, copies)):
            self.app.send_task(
                "mail.send_batch", args=[edition_id], countdown=max(0.0, countdown) or None
            )


def service() -> Digests:
    """One service per worker process, made after the fork (threads share it)."""
    global _service
    if _service is None:
        from syndication.store.connection import connect

        settings = current_settings()
        client = connect(settings.need_redis_url(), check=False)
        _service = make_digest_service(settings, client, CeleryDigestEvents(app))
    return _service


@_task(
    name="mail.create_edition",
    acks_late=True,
    autoretry_for=TEMPORARY,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=10,
)
def create_edition(frequency: str) -> dict[str, Any]:
    """Beat calls this at the publisher's local send time; a repeat makes no second edition.

    With ``digest_approval_minutes`` the edition waits as a draft for the editors until
    ``start_due_drafts`` starts it (``Digests.create_scheduled``)."""
    created = service().create_scheduled(frequency, datetime.now(UTC))
    log.info(
        "edition %s: %s", created.edition_id or "-", created.reason, extra={"frequency": frequency}
    )
    return {"edition": created.edition_id, "created": created.created, "reason": created.reason}


@_task(name="mail.send_batch", acks_late=True)
def send_batch(edition_id: str) -> dict[str, Any]:
    """Send part of an edition; queues its own continuation while work remains.

    No automatic retry: the service already waited ``mail_redis_patience_seconds`` for
    Redis, and a retry would be published to that same Redis, fail, and be dropped
    (``Reject(requeue=False)``). The task ends instead; what it had claimed comes back when
    the leases run out, and the worker's recovery watchdog (workers/lifecycle.py) or beat's
    ``mail.recover`` queues new senders once Redis answers."""
    try:
        report = service().send_batch(edition_id)
    except (*ConnectionFailed, RedisUnavailable) as exc:
        log.warning(
            "edition %s: Redis unavailable, sender stopped (resumed when Redis is back): %s",
            edition_id,
            exc,
            extra={"edition": edition_id},
        )
        return BatchReport(edition_id, status="redis-unavailable").to_json()
    log.info("edition %s batch: %s", edition_id, report.to_json())
    return report.to_json()


@_task(name="mail.start_due_drafts", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
def start_due_drafts() -> list[str]:
    """Start scheduled drafts whose approval window has passed (beat, every minute).
    Idempotent: each start is one atomic draft → sending step."""
    started = service().start_due_drafts(datetime.now(UTC))
    if started:
        log.info("started scheduled editions: %s", ", ".join(started))
    return started


@_task(name="mail.recover", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
def recover(recheck: bool = True) -> list[dict[str, Any]]:
    """Expire dead senders' leases and re-queue editions left without a sender.

    While leases are still running it looks again when the next one runs out (beat also
    runs it every minute), so a worker started after a crash finishes the edition.
    """
    reports = service().recover(datetime.now(UTC))
    waits = [r.next_check_in + 0.5 for r in reports if r.next_check_in is not None]
    waits += [RECOVER_ACTIVE_RECHECK for r in reports if r.active]
    if recheck and waits:
        app.send_task(
            "mail.recover", kwargs={"recheck": True}, countdown=min(min(waits), RECOVER_RECHECK_MAX)
        )
    out = [r.__dict__ for r in reports]
    if any(r.uncertain for r in reports):
        log.warning("uncertain deliveries: %s", out)
    return out


@_on_worker_ready
def _recover_on_start(**_: Any) -> None:
    """A worker that starts after a crash picks up what the dead one left."""
    try:
        app.send_task("mail.recover")
    except Exception:  # the broker may still be coming up: beat runs recover every minute
        log.warning("could not queue the start-up recovery", exc_info=True)
