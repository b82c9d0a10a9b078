"""Corrections, withdrawals, holds and their releases told to partners' webhooks.

Partners with a webhook URL get a signed POST per change of an article they received:
HMAC-SHA256 of the body in ``X-Syndication-Signature`` (``syndication.signing.sign``),
keyed with the partner's webhook secret (``keys.PartnerKeys.webhook_secret``: derived
from ``SYNDICATION_SECRET_KEY``, so nothing secret is stored in Redis). ``changes_to_notify``
runs per article event, ``sweep`` on a schedule as the safety net; ``webhook_request``
builds the POST a worker sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from syndication.config import Publisher
from syndication.feed_catalog import ALL
from syndication.render.feeds import item_id
from syndication.services.partners.feeds import feed_url
from syndication.services.partners.keys import PartnerKeys
from syndication.signing import SIGNATURE_HEADER
from syndication.signing import sign as sign_body
from syndication.store.articles import ArticleStore, State, StoredArticle
from syndication.store.partners import ArticleChanges, Partner, PartnerStore

EVENT_HEADER = "X-Syndication-Event"


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: dict[str, str]


class PartnerWebhooks:
    def __init__(
        self,
        store: PartnerStore,
        articles: ArticleStore,
        changes: ArticleChanges,
        keys: PartnerKeys,
        publisher: Publisher,
        public_url: str,
    ) -> None:
        self.store = store
        self.articles = articles
        self.changes = changes
        self.keys = keys
        self.publisher = publisher
        self.public_url = public_url.rstrip("/")

    def changes_to_notify(self, article_id: str) -> list[tuple[str, str]]:
        """(partner id, change) pairs to send for the article's current state, each once.

        A change is ``updated:{hash}``, ``withdrawn:{time}``, ``held:{time}`` or
        ``released:{time}``; a partner hears of it only if it received the article, has a
        webhook, and has not been told of this change.
        """
        stored = self.articles.get(article_id)
        if stored is None:
            return []
        change = change_of(stored)
        out = []
        for partner_id in self.store.partners_who_pulled(article_id):
            partner = self.store.get(partner_id)
            if partner is None or not partner.active or not partner.webhook_url:
                continue
            first = self.store.pulled(partner_id, [article_id]).get(article_id)
            if change.startswith("updated:") and first == stored.content_hash:
                continue  # the partner has exactly this version: nothing to correct
            if self.store.mark_notified(partner_id, article_id, change):
                out.append((partner_id, change))
        return out

    def changed_since(self, since: float, now: datetime) -> list[str]:
        """Articles changed (updated or withdrawn) after ``since`` (epoch seconds)."""
        return self.changes.after(since, now.timestamp())

    def sweep(self, now: datetime) -> list[tuple[str, str, str]]:
        """(partner id, article id, change) for every article changed since the last sweep:
        the safety net under the per-event task, so no change goes unannounced."""
        since = self.store.sweep_cursor()
        if since is None:  # first run: start from now, not from the beginning of time
            self.store.set_sweep_cursor(now.timestamp())
            return []
        out = []
        for article_id in self.changed_since(since, now):
            out += [(p, article_id, c) for p, c in self.changes_to_notify(article_id)]
        self.store.set_sweep_cursor(now.timestamp())
        return out

    def webhook_request(
        self, partner_id: str, article_id: str, change: str
    ) -> WebhookRequest | None:
        """The signed POST for one change, or None if it no longer applies."""
        partner = self.store.get(partner_id)
        stored = self.articles.get(article_id)
        if partner is None or not partner.active or not partner.webhook_url or stored is None:
            return None
        payload = self._payload(partner, stored, change)
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(body, self.keys.webhook_secret(partner)),
            EVENT_HEADER: payload["event"],
        }
        return WebhookRequest(partner.webhook_url, body, headers)

    def _payload(self, partner: Partner, stored: StoredArticle, change: str) -> dict[str, Any]:
        kind, _, _ = change.partition(":")
        article = stored.article
        payload: dict[str, Any] = {
            "event": f"article.{kind}",
            "change": change,
            "partner": partner.id,
            "article": {
                "id": article.id,
                "guid": item_id(article, self.publisher.site_url),
                "url": article.url,
                "title": article.title,
                "updated_at": (stored.changed_at if kind != "updated" else article.modified)
                .astimezone(UTC)
                .isoformat(),
                "state": stored.state.value,
            },
            "feed": feed_url(self.public_url, ALL, "atom"),
        }
        payload["message"] = _MESSAGES.get(kind, _MESSAGES["updated"])
        return payload


_MESSAGES = {
    "withdrawn": "The publisher withdrew this article: please take it down.",
    "held": "The publisher put this article on hold: please take it down until it is released.",
    "released": "The publisher released this article from its hold: you may publish it again.",
    "updated": "The publisher updated this article: please replace your copy.",
}


def change_of(stored: StoredArticle) -> str:
    """The change a partner that received the article has to hear of now: a lifted hold is
    ``released`` until the article changes again."""
    hold = stored.hold
    if stored.state is State.WITHDRAWN:
        return f"withdrawn:{stored.changed_at.isoformat()}"
    if stored.state is State.HELD and hold is not None:
        return f"held:{hold.at.isoformat()}"
    if hold is not None and hold.released_at == stored.changed_at:
        return f"released:{hold.released_at.isoformat()}"
    return f"updated:{stored.content_hash}"
