"""The composition root: the one place that turns Settings into a Redis client, stores and
services (articles, feeds, ingest, confirmations, subscriptions, digests, partners).

The faces (web, CLI, workers) each build a Context and take services from it, never wiring
their own; they pass the ``Events`` implementation in, so the use cases never import Celery
(workers/base.py holds the worker processes' one Context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from syndication.clock import Clock, system_clock
from syndication.config import Settings
from syndication.events import Events
from syndication.services.articles import ArticleService
from syndication.services.confirmations import (
    ConfirmationEvents,
    ConfirmationService,
    InlineConfirmationEvents,
    make_confirmation_service,
)
from syndication.services.deliverability import Deliverability
from syndication.services.digests import Digests, make_digest_service
from syndication.services.feeds import FeedService
from syndication.services.ingest import IngestService
from syndication.services.partners import Partners, make_partners
from syndication.services.subscriptions import (
    SubscriptionService,
    build_subscription_service,
    topics_from_catalog,
)
from syndication.store.articles import ArticleStore
from syndication.store.connection import Client, connect
from syndication.store.deliverability import DeliverabilityCounts
from syndication.store.editions import EditionStore
from syndication.store.feeds import FeedCache, RebuildQueued
from syndication.store.metrics import Metrics
from syndication.store.poll_state import PollStateStore
from syndication.store.ratelimit import RateLimiter
from syndication.store.subscribers import SubscriberStore


@dataclass
class Context:
    settings: Settings
    events: Events
    client: Client = field(default=None)
    clock: Clock = system_clock  # tests pass a fixed one; see syndication/clock.py
    # Confirmation emails are sent by a worker (``events.send_confirmation``); True runs the
    # attempt in this process instead, for a context with no worker (tests of the web pages).
    inline_confirmations: bool = False

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = connect(self.settings.need_redis_url(), check=False)

    @cached_property
    def article_store(self) -> ArticleStore:
        return ArticleStore(self.client, self.settings.key_prefix)

    @cached_property
    def feed_cache(self) -> FeedCache:
        return FeedCache(self.client, self.settings.key_prefix, clock=self.clock)

    @cached_property
    def rebuild_queued(self) -> RebuildQueued:
        return RebuildQueued(self.client, self.settings.key_prefix)

    @cached_property
    def edition_store(self) -> EditionStore:
        """The editions as the archive and the admin overview read them (no secret key
        needed, unlike ``digests``)."""
        return EditionStore(self.client, self.settings.key_prefix)

    @cached_property
    def deliverability(self) -> Deliverability:
        """Hard-bounce and complaint rates (the admin and /metrics read them)."""
        return Deliverability(
            DeliverabilityCounts(self.client, self.settings.key_prefix), self.clock
        )

    @cached_property
    def metrics(self) -> Metrics:
        return Metrics(self.client, self.settings.key_prefix)

    def _count_outcome(self, outcome: str) -> None:
        # Written at once (one small pipeline): a CLI import may exit right after.
        self.metrics.add("articles_ingested_total", outcome)
        self.metrics.flush()

    @cached_property
    def articles(self) -> ArticleService:
        return ArticleService(
            self.article_store, self.events, clock=self.clock, on_outcome=self._count_outcome
        )

    @cached_property
    def feeds(self) -> FeedService:
        return FeedService(
            self.article_store,
            self.feed_cache,
            self.settings.publisher,
            self.settings.public_url,
            self.events,
            self.settings.feed_items,
            clock=self.clock,
            on_skipped=self._count_skipped,
        )

    def _count_skipped(self, stage: str) -> None:
        # A stored article left out of a feed (services/feeds.py): rare, written at once.
        self.metrics.add("feed_items_skipped_total", stage)
        self.metrics.flush()

    @cached_property
    def poll_state(self) -> PollStateStore:
        return PollStateStore(self.client, self.settings.key_prefix)

    @cached_property
    def ingest(self) -> IngestService:
        return IngestService(
            self.articles, self.settings.publisher, self.poll_state, clock=self.clock
        )

    @cached_property
    def subscriber_store(self) -> SubscriberStore:
        return SubscriberStore(self.client, self.settings.key_prefix)

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(self.client, self.settings.key_prefix)

    @cached_property
    def confirmations(self) -> ConfirmationService:
        events: ConfirmationEvents = self.events
        if self.inline_confirmations:
            events = InlineConfirmationEvents(lambda: self.confirmations)
        return make_confirmation_service(
            self.settings,
            self.client,
            events,
            clock=self.clock,
            on_outcome=self._count_confirmation,
        )

    def _count_confirmation(self, outcome: str) -> None:
        # One attempt's outcome, written at once: a worker task ends right after.
        self.metrics.add("confirmation_emails_total", outcome)
        self.metrics.flush()

    @cached_property
    def subscriptions(self) -> SubscriptionService:
        return build_subscription_service(
            self.settings,
            self.client,
            topics_from_catalog(self.article_store.feed_catalog),
            clock=self.clock,
            confirmations=self.confirmations,
        )

    @cached_property
    def digests(self) -> Digests:
        return make_digest_service(self.settings, self.client, self.events, clock=self.clock)

    @cached_property
    def partners(self) -> Partners:
        return make_partners(self.settings, self.client, self.article_store)
