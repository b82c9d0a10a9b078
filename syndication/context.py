"""The composition root: the one place that turns Settings into a Redis client, stores and
services (articles, feeds, ingest, confirmations, subscriptions, digests, partners, event
webhooks).

The faces (web, CLI, workers) each build a Context and take services from it, never wiring
their own; they pass the ``Events`` implementation in, so the use cases never import Celery
(workers/base.py holds the worker processes' one Context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from syndication.clock import Clock, system_clock
from syndication.config import Settings
from syndication.events import Events
from syndication.services.articles import ArticleService
from syndication.services.clicks import ClickCounts
from syndication.services.confirmations import (
    ConfirmationEvents,
    ConfirmationService,
    InlineConfirmationEvents,
    make_confirmation_service,
)
from syndication.services.daily_stats import DailyStats
from syndication.services.deliverability import Deliverability
from syndication.services.digests import Digests, make_digest_service
from syndication.services.event_hooks import EventHooks, make_event_hooks
from syndication.services.feeds import FeedService
from syndication.services.ingest import IngestService
from syndication.services.partners import Partners, make_partners
from syndication.services.subscriptions import (
    Policy,
    SubscriberTransfer,
    SubscriptionService,
    SuppressionService,
    topics_from_catalog,
)
from syndication.services.subscriptions.manage_link import ManageLinkService
from syndication.store.articles import ArticleStore
from syndication.store.clicks import ClickStore
from syndication.store.connection import Client, connect
from syndication.store.daily import DailySnapshots
from syndication.store.deliverability import DeliverabilityCounts
from syndication.store.editions import EditionStore
from syndication.store.feeds import FeedCache, RebuildQueued
from syndication.store.metrics import Metrics
from syndication.store.poll_state import PollStateStore
from syndication.store.ratelimit import RateLimiter
from syndication.store.subscribers import Subscriber, SubscriberStore


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

    @cached_property
    def daily_stats(self) -> DailyStats:
        """The admin charts' daily snapshots (services/daily_stats.py)."""
        return DailyStats(
            DailySnapshots(self.client, self.settings.key_prefix),
            self.metrics,
            self.subscriber_store,
        )

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
        """Announces confirmed, unsubscribed and bounced readers to the event webhooks."""
        return self.event_hooks.subscriber_store(self.client, self.settings.key_prefix)

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
        """Signup, links, confirm, preferences, unsubscribe; confirmations go to the ledger."""
        return SubscriptionService(
            self.subscriber_store,
            self.rate_limiter,
            self.confirmations,
            self.settings.need_secret_key(),
            self.settings.public_url,
            self._newsletter_languages,
            topics=topics_from_catalog(self.article_store.feed_catalog),
            policy=Policy.from_settings(self.settings),
            previous_secrets=self.settings.previous_secret_keys,
            clock=self.clock,
        )

    @property
    def _newsletter_languages(self) -> list[str]:
        publisher = self.settings.publisher
        return publisher.languages or [publisher.language]

    @cached_property
    def manage_links(self) -> ManageLinkService:
        """``/manage``: the preferences link by mail, sent by the web process after its
        answer (``services/subscriptions/manage_link.py``)."""
        from syndication.deliver.confirmation import manage_link_bytes, sender_address
        from syndication.deliver.smtp import sender_factory

        settings = self.settings
        publisher = settings.publisher
        sender = sender_address(publisher, settings.public_url, settings.mail.from_address)

        def build(sub: Subscriber, url: str, now: datetime) -> bytes:
            return manage_link_bytes(sub, url, publisher, sender, now)

        factory = sender_factory(settings.smtp_url, settings.mail.smtp_timeout)

        return ManageLinkService(
            self.subscriber_store,
            self.rate_limiter,
            self.subscriptions.preferences_url,
            build,
            settings.mail.envelope_from or sender.addr_spec,
            factory,
            policy=Policy.from_settings(settings),
            clock=self.clock,
        )

    @cached_property
    def suppressions(self) -> SuppressionService:
        return SuppressionService(
            self.subscriber_store,
            clock=self.clock,
            on_complaint=self.deliverability.record_complaint,
        )

    @cached_property
    def subscriber_transfer(self) -> SubscriberTransfer:
        return SubscriberTransfer(
            self.subscriber_store,
            self._newsletter_languages,
            Policy.from_settings(self.settings).default_frequency,
            clock=self.clock,
        )

    @cached_property
    def digests(self) -> Digests:
        return make_digest_service(
            self.settings, self.client, self.events, clock=self.clock, clicks=self.clicks
        )

    @cached_property
    def clicks(self) -> ClickCounts:
        """Digest click counts (``SYNDICATION_CLICK_COUNTS``; the digests use it when on)."""
        return ClickCounts(
            ClickStore(self.client, self.settings.key_prefix),
            self.settings.public_url,
            self.settings.need_secret_key(),
            self.settings.previous_secret_keys,
            on_outcome=self._count_click,
        )

    def _count_click(self, outcome: str) -> None:
        self.metrics.add("digest_clicks_total", outcome)
        self.metrics.flush()

    @cached_property
    def partners(self) -> Partners:
        return make_partners(self.settings, self.client, self.article_store)

    @cached_property
    def event_hooks(self) -> EventHooks:
        """Outgoing event webhooks: endpoints, the outbox the pipeline emits to, delivery."""
        return make_event_hooks(
            self.settings,
            self.client,
            self.events,
            self.article_store,
            clock=self.clock,
            on_outcome=self._count_webhook,
        )

    def _count_webhook(self, outcome: str) -> None:
        # One delivery attempt's outcome, written at once: a worker task ends right after.
        self.metrics.add("webhook_deliveries_total", outcome)
        self.metrics.flush()
