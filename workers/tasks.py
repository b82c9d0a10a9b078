"""Thin tasks: ids in, one service call, errors mapped to retry (temporary) or stop.

Redis hiccups and network errors are temporary (retried with backoff); anything else is
permanent for that input and is logged with the id, not retried forever.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from syndication.deliver.websub import HubRejected, HubTemporaryError, ping
from workers.base import TEMPORARY, context, on_worker_ready, task
from workers.celery_app import app

log = logging.getLogger(__name__)


@task(
    name="feeds.rebuild_dirty",
    acks_late=True,
    autoretry_for=TEMPORARY,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def rebuild_dirty() -> list[str]:
    """Rebuild the feeds that article changes marked; the changed ones get WebSub pings."""
    ctx = context()
    # Clear before reading: an event from now on queues a fresh rebuild (workers/events.py).
    ctx.rebuild_queued.clear()
    changed = ctx.feeds.rebuild_dirty()
    log.info("feeds rebuilt", extra={"changed": changed})
    return changed


@task(
    name="feeds.websub_ping",
    acks_late=True,
    autoretry_for=(HubTemporaryError,),
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=10,
)
def websub_ping(hub: str, topic: str) -> int:
    """Tell one hub that one feed changed; a hub that rejects the ping is logged, not retried."""
    try:
        with httpx.Client(timeout=10, follow_redirects=False) as client:
            return ping(client, hub, topic)
    except HubRejected:
        log.warning("hub rejected ping", extra={"hub": hub, "topic": topic}, exc_info=True)
        return 0


@task(
    name="ingest.poll_source",
    acks_late=True,
    autoretry_for=TEMPORARY,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def poll_source(url: str, kind: str = "auto") -> dict[str, object]:
    report = context().ingest.poll(url, kind)
    log.info("polled", extra={"source": url, "changed": len(report.outcomes)})
    return {"not_modified": report.not_modified, "errors": report.errors}


@task(name="ingest.flush_pending_events", acks_late=True, autoretry_for=TEMPORARY)
def flush_pending_events() -> int:
    """Events whose hand-over to the broker failed after their write (see the outbox)."""
    return context().articles.flush_pending()


@task(name="articles.release_embargoes", acks_late=True, autoretry_for=TEMPORARY)
def release_embargoes(now: str | None = None) -> list[str]:
    """Publish the articles whose embargo has ended (the beat, every minute). ``now`` (ISO
    8601) is the caller's clock; the beat gives none and this reads the system clock."""
    when = datetime.fromisoformat(now) if now else datetime.now(UTC)
    released = context().articles.release_embargoes(when)
    if released:
        log.info("embargoes released", extra={"articles": released})
    return released


@task(name="articles.index_legacy_urls", acks_late=True, autoretry_for=TEMPORARY)
def index_legacy_urls() -> int:
    """The one-off upgrade of article identities (store/articles.py); a no-op once done."""
    return context().article_store.index_legacy_urls()


@on_worker_ready
def _index_legacy_urls_on_start(**_: Any) -> None:
    try:
        app.send_task("articles.index_legacy_urls")
    except Exception:  # the broker may still be coming up: the next start queues it again
        log.warning("could not queue the article identity upgrade", exc_info=True)


@on_worker_ready
def _build_feeds_on_start(**_: Any) -> None:
    """After a deploy or a flush the feeds may be missing; a cheap rebuild makes them exist."""
    try:
        app.send_task("feeds.rebuild_all")
    except Exception:  # the broker may still be coming up: the next publish rebuilds anyway
        log.warning("could not queue the start-up feed rebuild", exc_info=True)


@task(name="feeds.rebuild_all", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
def rebuild_all() -> list[str]:
    return context().feeds.rebuild_all()
