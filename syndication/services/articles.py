"""Accepting and withdrawing articles: the one place every way in goes through.

The write happens first and the event after it, so a task never looks for an article that
is not there yet; a repeat or a stale update fires nothing. The store keeps an outbox entry
with each change until the event is handed over (see store/articles.py), so a broker outage
between the two delays the event but never loses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from syndication.clock import system_clock
from syndication.events import Events
from syndication.identity import Identity, NotOwner
from syndication.models import Article
from syndication.store.article_states import ArticleStates
from syndication.store.articles import ArticleStore, Outcome, PendingEvent, Written


@dataclass
class ArticleService:
    store: ArticleStore
    events: Events
    clock: Callable[[], datetime] = system_clock
    on_outcome: Callable[[str], None] | None = None  # metrics: articles ingested by outcome
    states: ArticleStates = field(init=False)

    def __post_init__(self) -> None:
        self.states = ArticleStates(self.store)

    def accept(self, article: Article) -> Outcome:
        """Accept the publisher's article, identified by its canonical URL."""
        return self.submit(article).outcome

    def submit(self, article: Article, identity: Identity | None = None) -> Written:
        """Store ``article`` as the one ``identity`` names; the result carries its id.

        Raises ``syndication.identity.NotOwner`` (nothing written, nothing announced) when
        it would create or change another source's article."""
        try:
            written = self.store.put(article, self.clock(), identity)
        except NotOwner:
            if self.on_outcome:
                self.on_outcome("refused")
            raise
        outcome = written.outcome
        if self.on_outcome:
            self.on_outcome(outcome.value)
        if outcome is not Outcome.STALE:
            # A repeat also hands over an event a failed earlier attempt left behind.
            self._dispatch(self.store.pending(written.article.id))
        return written

    def withdraw(self, article_id: str) -> Outcome:
        outcome = self.store.withdraw(article_id, self.clock())
        if self.on_outcome:
            self.on_outcome(outcome.value)
        if outcome is not Outcome.NOT_FOUND:
            self._dispatch(self.store.pending(article_id))
        return outcome

    def release_embargoes(self, now: datetime) -> list[str]:
        """Publish every article whose embargo ended by ``now`` (the beat's task, every
        minute): each goes out as a publish does. Safe when two runs overlap."""
        released = self.states.release_due(now)
        for article_id in released:
            self._dispatch(self.store.pending(article_id))
        return released

    def hold(self, article_id: str, reason: str) -> Outcome:
        """An editor's hold: out of every public output, partners told (``held``)."""
        outcome = self.states.hold(article_id, reason, self.clock())
        if outcome is Outcome.HELD:
            self._dispatch(self.store.pending(article_id))
        return outcome

    def release_hold(self, article_id: str) -> Outcome:
        """Lift a hold: public again everywhere, partners told (``released``)."""
        outcome = self.states.release_hold(article_id, self.clock())
        if outcome is Outcome.RELEASED:
            self._dispatch(self.store.pending(article_id))
        return outcome

    def flush_pending(self) -> int:
        """Hand over every event still in the outbox (the periodic sweep); returns how many."""
        pending = self.store.pending()
        self._dispatch(pending)
        return len(pending)

    def _dispatch(self, events: list[PendingEvent]) -> None:
        for event in events:
            # An embargoed write or a lifted hold needs what an update needs (feeds, partner
            # copies, partners told); a hold what a withdrawal needs.
            announce = {
                "published": self.events.published,
                "updated": self.events.updated,
                "withdrawn": self.events.withdrawn,
                "embargoed": self.events.updated,
                "released": self.events.updated,
                "held": self.events.withdrawn,
            }[event.kind]
            announce(event.article_id)
            self.store.clear_pending(event)
