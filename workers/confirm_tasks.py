"""Thin tasks on the ``mail`` queue for confirmation emails (services/confirmations.py).

``mail.send_confirmation`` takes a request id and makes at most one SMTP attempt; the
service queues the next task itself when it records a retry (a countdown of at most ten
minutes, far below the broker's visibility timeout). ``mail.sweep_confirmations`` runs
every minute (beat) and when a worker starts: it queues due requests whose task was lost
and marks attempts of dead workers ``uncertain``. Duplicated or redelivered tasks are
harmless: an attempt begins atomically in the ledger, once per request and due time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from workers.base import TEMPORARY, context, on_worker_ready, task
from workers.celery_app import app

log = logging.getLogger(__name__)


@task(
    name="mail.send_confirmation",
    acks_late=True,
    autoretry_for=TEMPORARY,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=20,
)
def send_confirmation(request_id: str, kick: str = "") -> dict[str, Any]:
    """One attempt for ``request_id`` if it is due (the worker's clock is "now")."""
    return context().confirmations.deliver(request_id, kick, datetime.now(UTC)).to_json()


@task(name="mail.sweep_confirmations", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
def sweep_confirmations() -> dict[str, Any]:
    """Queue due confirmations whose task was lost; expire attempts of dead workers."""
    return context().confirmations.sweep(datetime.now(UTC)).to_json()


@on_worker_ready
def _sweep_on_start(**_: Any) -> None:
    """A worker that starts after a crash or a Redis restart picks up what was waiting."""
    try:
        app.send_task("mail.sweep_confirmations")
    except Exception:  # the broker may still be coming up: beat sweeps every minute
        log.warning("could not queue the start-up confirmation sweep", exc_info=True)
