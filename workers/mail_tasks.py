"""Thin tasks on the ``mail`` queue: create editions, send batches, recover stale sends.

Every task takes ids and calls one Digests method. Duplicated or redelivered tasks
are harmless by construction: editions are created once per (frequency, period), and
recipients are claimed atomically from the ledger, so an extra send task finds nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from syndication.services.digests import BatchReport, Digests
from syndication.services.sending import RedisUnavailable
from syndication.store.connection import ConnectionFailed
from workers.base import TEMPORARY, context, on_worker_ready, task
from workers.celery_app import app

log = logging.getLogger(__name__)


# Longest wait before a recover task looks again at leases still running.
RECOVER_RECHECK_MAX = 300.0
# While an edition is sending, how often a recover chain looks for senders that died.
RECOVER_ACTIVE_RECHECK = 15.0


def service() -> Digests:
    """The digest services of this worker process's Context (workers/base.py)."""
    return context().digests


@task(
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


@task(name="mail.send_batch", acks_late=True)
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
    if report.status == "done":  # event webhooks: once per edition, whichever sender saw it
        context().event_hooks.announce.edition_sent(edition_id)
    return report.to_json()


@task(name="mail.start_due_drafts", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
def start_due_drafts() -> list[str]:
    """Start scheduled drafts whose approval window has passed (beat, every minute).
    Idempotent: each start is one atomic draft → sending step."""
    started = service().start_due_drafts(datetime.now(UTC))
    if started:
        log.info("started scheduled editions: %s", ", ".join(started))
    return started


@task(name="mail.recover", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
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


@task(name="mail.compact_editions", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
def compact_editions() -> list[dict[str, Any]]:
    """Compact editions finished longer ago than the retention (beat, daily). Safe to run
    twice or next to a resend: each edition is compacted by one atomic script that refuses
    an edition sending again (store/edition_compaction.py)."""
    reports = service().compact_scheduled(datetime.now(UTC))
    compacted = [r for r in reports if r.result == "compacted"]
    if reports:
        log.info(
            "compacted %d edition(s), %d entries dropped",
            len(compacted),
            sum(r.dropped for r in compacted),
        )
    return [r.to_json() for r in reports]


@on_worker_ready
def _recover_on_start(**_: Any) -> None:
    """A worker that starts after a crash picks up what the dead one left."""
    try:
        app.send_task("mail.recover")
    except Exception:  # the broker may still be coming up: beat runs recover every minute
        log.warning("could not queue the start-up recovery", exc_info=True)
