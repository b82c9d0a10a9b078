"""Wiring: one place that turns Settings into a Redis client, stores and services.

The faces (web, CLI, workers) each build a Context and call services on it; they pass the
``Events`` implementation in, so the use cases never import Celery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import redis

from syndication.config import Settings
from syndication.events import Events
from syndication.services.articles import ArticleService
from syndication.services.feeds import FeedService
from syndication.services.ingest import IngestService
from syndication.store.articles import ArticleStore
from syndication.store.connection import connect
from syndication.store.feeds import FeedCache
from syndication.store.poll_state import PollStateStore


@dataclass
class Context:
    settings: Settings
    events: Events
    client: redis.Redis = field(default=None)

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = connect(self.settings.need_redis_url(), check=False)

    @cached_property
    def article_store(self) -> ArticleStore:
        return ArticleStore(self.client, self.settings.key_prefix)

    @cached_property
    def feed_cache(self) -> FeedCache:
        return FeedCache(self.client, self.settings.key_prefix)

    @cached_property
    def articles(self) -> ArticleService:
        return ArticleService(self.article_store, self.events)

    @cached_property
    def feeds(self) -> FeedService:
        return FeedService(
            self.article_store,
            self.feed_cache,
            self.settings.publisher,
            self.settings.public_url,
            self.events,
            self.settings.feed_items,
        )

    @cached_property
    def poll_state(self) -> PollStateStore:
        return PollStateStore(self.client, self.settings.key_prefix)

    @cached_property
    def ingest(self) -> IngestService:
        return IngestService(self.articles, self.settings.publisher, self.poll_state)
