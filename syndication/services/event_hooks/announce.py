"""What each fact becomes as an event: its ``data`` and the key that names it.

The emitters call these with ids only (an article id, an address, an edition id, a
partner's first pulls), so the code that observes a fact needs one line; the records are
read here, once, from the stores. Keys make the event id stable for one fact: a subscriber
confirmed at a given time, an article withdrawn at a given time, an edition, a partner's
first copy of an article.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syndication.services.event_hooks.outbox import Emit, Outbox
from syndication.store.articles import ArticleStore
from syndication.store.editions import EditionStore
from syndication.store.partners import PartnerStore
from syndication.store.subscribers import SubscriberStore


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class Announce:
    def __init__(
        self,
        outbox: Outbox,
        articles: ArticleStore,
        subscribers: SubscriberStore,
        editions: EditionStore,
        partners: PartnerStore,
    ) -> None:
        self.outbox = outbox
        self.articles = articles
        self.subscribers = subscribers
        self.editions = editions
        self.partners = partners

    def _article(self, article_id: str) -> dict[str, Any] | None:
        stored = self.articles.get(article_id)
        if stored is None:
            return None
        a = stored.article
        return {
            "id": a.id,
            "url": str(a.url),
            "title": a.title,
            "language": a.language,
            "section": a.section,
            "topics": list(a.topics),
            "published_at": a.published_at.isoformat(),
            "state": stored.state.value,
            "changed_at": stored.changed_at.isoformat(),
        }

    def article(self, event_type: str, article_id: str) -> str | None:
        """``article.published`` (once per article) or ``article.withdrawn`` (once per
        withdrawal)."""
        data = self._article(article_id) if self.outbox.wanted(event_type) else None
        if data is None:
            return None
        published = event_type == "article.published"
        key = article_id if published else f"{article_id}@{data['changed_at']}"
        return self.outbox.emit(event_type, {"article": data}, key)

    def subscriber(self, event_type: str, email: str, reason: str = "") -> str | None:
        """``subscriber.confirmed``, ``.unsubscribed`` or ``.bounced`` (by address: a
        bounce names no subscriber id; ``reason`` is the bounce's)."""
        if not self.outbox.wanted(event_type):
            return None
        sub = self.subscribers.get_by_email(email)
        suppression = self.subscribers.suppression(email)
        data: dict[str, Any] = {"email": email.strip().lower()}
        if sub is not None:
            data |= {
                "id": sub.id,
                "status": sub.status,
                "frequency": sub.frequency,
                "language": sub.language,
                "topics": list(sub.topics),
                "confirmed_at": _iso(sub.confirmed_at),
                "unsubscribed_at": _iso(sub.unsubscribed_at),
            }
        if reason:
            data["reason"] = reason
        when = {
            "subscriber.confirmed": _iso(sub.confirmed_at) if sub else None,
            "subscriber.unsubscribed": _iso(sub.unsubscribed_at) if sub else None,
            "subscriber.bounced": _iso(suppression.at) if suppression else None,
        }.get(event_type)
        key = f"{data['email']}@{when}" if when else None
        return self.outbox.emit(event_type, {"subscriber": data}, key)

    def edition_sent(self, edition_id: str) -> str | None:
        """``edition.sent``: once per edition, whichever sender saw it finish."""
        edition = self.editions.get(edition_id) if self.outbox.wanted("edition.sent") else None
        if edition is None:
            return None
        data = {
            "id": edition.id,
            "frequency": edition.frequency,
            "period": edition.period,
            "articles": list(edition.article_ids),
            "finished_at": _iso(edition.finished_at),
            "counts": dict(edition.counts),
        }
        return self.outbox.emit("edition.sent", {"edition": data}, edition.id)

    def partner_pulled(self, partner_id: str, article_ids: list[str], now: datetime) -> list[str]:
        """``partner.republished`` for each article a partner's feed pull gives it for the
        first time: called before the pull is recorded (``PartnerFeeds.record_pull``). The
        first pull is the record we have of a republication; two pulls racing emit the same
        ids, so each (partner, article) is announced once."""
        if not article_ids or not self.outbox.wanted("partner.republished"):
            return []
        had = self.partners.pulled(partner_id, article_ids)
        partner = {"id": partner_id, "first_pulled_at": now.isoformat()}
        items = []
        for article_id in article_ids:
            data = None if article_id in had else self._article(article_id)
            if data is not None:
                body = {"partner": partner, "article": data}
                items.append(Emit("partner.republished", body, f"{partner_id}/{article_id}"))
        return self.outbox.emit_many(items)
