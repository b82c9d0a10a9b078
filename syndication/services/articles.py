"""Accepting and withdrawing articles: the one place every way in goes through.

The write happens first and the event after it, so a task never looks for an article that
is not there yet; a repeat or a stale update fires nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from syndication.events import Events
from syndication.models import Article
from syndication.store.articles import ArticleStore, Outcome


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ArticleService:
    store: ArticleStore
    events: Events
    clock: Callable[[], datetime] = utcnow

    def accept(self, article: Article) -> Outcome:
        outcome = self.store.upsert(article, self.clock())
        if outcome in (Outcome.CREATED, Outcome.REPUBLISHED):
            self.events.published(article.id)
        elif outcome is Outcome.UPDATED:
            self.events.updated(article.id)
        return outcome

    def withdraw(self, article_id: str) -> Outcome:
        outcome = self.store.withdraw(article_id, self.clock())
        if outcome is Outcome.WITHDRAWN:
            self.events.withdrawn(article_id)
        return outcome
