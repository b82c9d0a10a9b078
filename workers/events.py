"""``Events`` implemented with Celery: each event enqueues the tasks that react to it.

Feed rebuilds are coalesced: while one waits in the queue, further events add none, because
the waiting one will read the store after they were written (the task clears the flag before
it reads). An import of 1,000 articles then costs a handful of rebuilds, not 1,000.

So are instant editions: one ``mail.create_edition("instant")`` per 5-minute bucket the
task will run in, not one per article (an import used to leave 1,000 delayed tasks in the
workers' memory). Why no article is left out: the task runs ``INSTANT_DELAY`` (one bucket)
after the first article that targets its bucket, so it runs inside that bucket, after the
bucket opened; every other article that targets the same bucket was published at least
``INSTANT_DELAY`` before the bucket's end, so before the bucket opened, so before the
bucket's edition was made — and the edition takes every published article not yet in one.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Any

from celery import Celery

from syndication.clock import Clock, system_clock
from syndication.config import Settings
from syndication.render.digest_selection import PERIOD_LENGTH
from syndication.store.connection import connect
from syndication.store.feeds import RebuildQueued
from syndication.store.once import OnceStore

# Longer than any wait in a healthy queue; if a queued rebuild is lost with its flag set,
# the flag expiring lets the next event queue a new one.
QUEUED_FLAG_SECONDS = 300
# The instant-edition bucket (render/digest_selection.py): the edition is made after it closes.
INSTANT_BUCKET = int(PERIOD_LENGTH["instant"].total_seconds())
INSTANT_DELAY = INSTANT_BUCKET


class CeleryEvents:
    def __init__(self, app: Celery, settings: Settings, clock: Clock = system_clock) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock  # picks the instant bucket; Celery times the countdown itself

    @cached_property
    def _client(self) -> Any:
        """One connection pool for the flags below, made on first use."""
        return connect(self.settings.need_redis_url(), check=False)

    @cached_property
    def rebuild_queued(self) -> RebuildQueued:
        return RebuildQueued(self._client, self.settings.key_prefix)

    @cached_property
    def once(self) -> OnceStore:
        return OnceStore(self._client, self.settings.key_prefix)

    def _rebuild(self, article_id: str) -> None:
        if not self.rebuild_queued.claim(article_id, QUEUED_FLAG_SECONDS):
            return
        try:
            self.app.send_task("feeds.rebuild_dirty")
        except BaseException:
            self.rebuild_queued.clear()  # nothing is queued: the next attempt must queue one
            raise

    def published(self, article_id: str) -> None:
        self._rebuild(article_id)
        self.app.send_task("hooks.article", args=["article.published", article_id])
        self.app.send_task("partners.prepare_copies", args=[article_id])
        self._instant_edition()

    def _instant_edition(self) -> None:
        """Instant subscribers: the edition of this 5-minute bucket is made after it closes,
        so articles arriving together go out in one email; one task per bucket (above).

        UTC buckets begin when the publisher's local ones do: the zones in use today are all
        offset from UTC by a multiple of five minutes. A task lost after its claim delays
        the bucket's articles to the next bucket's edition, which takes every article not
        yet in one."""
        due = self.clock() + timedelta(seconds=INSTANT_DELAY)
        bucket = str(int(due.timestamp()) // INSTANT_BUCKET)
        if not self.once.claim("instant-edition", bucket, 3 * INSTANT_BUCKET):
            return
        try:
            self.app.send_task("mail.create_edition", args=["instant"], countdown=INSTANT_DELAY)
        except BaseException:
            self.once.release("instant-edition", bucket)  # not queued: the next one must be
            raise

    def updated(self, article_id: str) -> None:
        self._rebuild(article_id)
        self.app.send_task("partners.prepare_copies", args=[article_id])
        self.app.send_task("partners.article_changed", args=[article_id])

    def withdrawn(self, article_id: str) -> None:
        self._rebuild(article_id)
        self.app.send_task("hooks.article", args=["article.withdrawn", article_id])
        self.app.send_task("partners.prepare_copies", args=[article_id])
        self.app.send_task("partners.article_changed", args=[article_id])

    def send_edition(self, edition_id: str, countdown: float = 0.0, copies: int = 1) -> None:
        for _ in range(max(1, copies)):
            self.app.send_task(
                "mail.send_batch", args=[edition_id], countdown=max(0.0, countdown) or None
            )

    def send_confirmation(self, request_id: str, countdown: float = 0.0, kick: str = "") -> None:
        """One ``mail.send_confirmation`` task (workers/confirm_tasks.py); the service caps
        ``countdown`` far below the broker's visibility timeout."""
        self.app.send_task(
            "mail.send_confirmation",
            args=[request_id],
            kwargs={"kick": kick},
            countdown=max(0.0, countdown) or None,
        )

    def rebuild_feeds(self) -> None:
        """Every feed, by the same task a worker runs at start-up (``feeds.rebuild_all``)."""
        self.app.send_task("feeds.rebuild_all")

    def feeds_changed(self, urls: list[str]) -> None:
        """One ping task per (hub, feed URL), so each retries on its own."""
        for hub in self.settings.publisher.websub_hubs:
            for url in urls:
                self.app.send_task("feeds.websub_ping", args=[hub, url])

    def webhook_events(self, event_ids: list[str]) -> None:
        """One fan-out task per event (``hooks.fan_out``, workers/hook_tasks.py)."""
        for event_id in event_ids:
            self.app.send_task("hooks.fan_out", args=[event_id])

    def deliver_webhook(
        self, endpoint_id: str, event_id: str, attempt: int = 1, countdown: float = 0.0
    ) -> None:
        """One attempt (``hooks.deliver``); the service keeps ``countdown`` under ten minutes."""
        self.app.send_task(
            "hooks.deliver",
            args=[endpoint_id, event_id, attempt],
            countdown=max(0.0, countdown) or None,
        )
