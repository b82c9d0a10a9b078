"""Thin tasks: ids in, one service call, errors mapped to retry (temporary) or stop.

Redis hiccups and network errors are temporary (retried with backoff); anything else is
permanent for that input and is logged with the id, not retried forever.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from celery.signals import worker_ready

from syndication.context import Context
from syndication.deliver.websub import HubRejected, HubTemporaryError, ping
from syndication.store.connection import ConnectionFailed
from workers.celery_app import app, current_settings
from workers.events import CeleryEvents

log = logging.getLogger(__name__)
TEMPORARY = (*ConnectionFailed, OSError)
_context: Context | None = None


def context() -> Context:
    """One Context per worker process, made after the fork (redis-py reconnects per pid)."""
    global _context
    if _context is None:
        settings = current_settings()
        _context = Context(settings, CeleryEvents(app, settings))
    return _context


@app.task(
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


@app.task(
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


@app.task(
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


@app.task(name="ingest.flush_pending_events", acks_late=True, autoretry_for=TEMPORARY)
def flush_pending_events() -> int:
    """Events whose hand-over to the broker failed after their write (see the outbox)."""
    return context().articles.flush_pending()


@app.task(name="articles.index_legacy_urls", acks_late=True, autoretry_for=TEMPORARY)
def index_legacy_urls() -> int:
    """The one-off upgrade of article identities (store/articles.py); a no-op once done."""
    return context().article_store.index_legacy_urls()


@worker_ready.connect
def _index_legacy_urls_on_start(**_: Any) -> None:
    try:
        index_legacy_urls.delay()
    except Exception:  # the broker may still be coming up: the next start queues it again
        log.warning("could not queue the article identity upgrade", exc_info=True)


@worker_ready.connect
def _build_feeds_on_start(**_: Any) -> None:
    """After a deploy or a flush the feeds may be missing; a cheap rebuild makes them exist."""
    try:
        rebuild_all.delay()
    except Exception:  # the broker may still be coming up: the next publish rebuilds anyway
        log.warning("could not queue the start-up feed rebuild", exc_info=True)


@app.task(name="feeds.rebuild_all", acks_late=True, autoretry_for=TEMPORARY, retry_backoff=True)
def rebuild_all() -> list[str]:
    return context().feeds.rebuild_all()
