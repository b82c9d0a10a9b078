"""Partners as use cases, one small service per concern, wired together by ``make_partners``.

- ``keys``: partners and their keys (add, list, revoke, rotate, authenticate, the webhook
  secret);
- ``copies``: each article as a partner may republish it, made once, stored, memoised;
- ``feeds``: the partner feed documents, with ``corrections`` (notes on changed articles,
  notices of withdrawn ones) and the pixel in each item;
- ``webhooks``: which partner must hear of which change, and the signed POST;
- ``pixel``: the signed view-counting pixel;
- ``registry``: the republication registry (pages, views, pulls per article and partner);
- ``republish``: the "Republish this story" page.

The ninjs builder is pure and lives in ``build.ninjs``; HMAC signing in
``syndication.signing``; every Redis key in ``store.partners``. ``Partners`` is what
``Context.partners`` returns: the faces pick the service they need from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis

from syndication.config import Publisher, Settings
from syndication.services.partners.copies import PartnerCopies, allowed, copy_terms, terms_of
from syndication.services.partners.errors import InvalidPartner
from syndication.services.partners.feeds import (
    FORMATS,
    PARTNER_KINDS,
    PartnerDocument,
    PartnerFeeds,
    feed_url,
)
from syndication.services.partners.keys import PartnerKeys, PartnerSummary, check_webhook_url
from syndication.services.partners.pixel import PartnerPixel, pixel_img
from syndication.services.partners.registry import (
    ArticleRepublications,
    InvalidReport,
    RepublicationRegistry,
    normalise_page_url,
)
from syndication.services.partners.republish import REPUBLISH_PARTNER, Republish, RepublishPages
from syndication.services.partners.webhooks import EVENT_HEADER, PartnerWebhooks, WebhookRequest
from syndication.store.articles import ArticleStore
from syndication.store.partners import ArticleChanges, PartnerCopyStore, PartnerStore
from syndication.store.republications import RepublicationStore

__all__ = [
    "EVENT_HEADER",
    "FORMATS",
    "PARTNER_KINDS",
    "REPUBLISH_PARTNER",
    "ArticleRepublications",
    "InvalidPartner",
    "InvalidReport",
    "PartnerCopies",
    "PartnerDocument",
    "PartnerFeeds",
    "PartnerKeys",
    "PartnerPixel",
    "PartnerSummary",
    "PartnerWebhooks",
    "Partners",
    "RepublicationRegistry",
    "Republish",
    "RepublishPages",
    "WebhookRequest",
    "allowed",
    "assemble_partners",
    "check_webhook_url",
    "copy_terms",
    "feed_url",
    "make_partners",
    "normalise_page_url",
    "pixel_img",
    "terms_of",
]


@dataclass(frozen=True)
class Partners:
    """The partner services over one store (``store``: listings read it directly)."""

    store: PartnerStore
    keys: PartnerKeys
    copies: PartnerCopies
    feeds: PartnerFeeds
    webhooks: PartnerWebhooks
    pixel: PartnerPixel
    republish: RepublishPages
    registry: RepublicationRegistry


def assemble_partners(
    store: PartnerStore,
    articles: ArticleStore,
    copy_store: PartnerCopyStore,
    publisher: Publisher,
    public_url: str,
    secret_key: str | None,
    *,
    items: int = 50,
    withdrawn_days: int = 14,
    previous_secrets: Sequence[str] = (),
    registry_store: RepublicationStore | None = None,
) -> Partners:
    """The services from their stores and terms (``make_partners`` reads them from settings;
    the bench and tests of other terms call this directly)."""
    changes = ArticleChanges(articles)
    keys = PartnerKeys(store, secret_key)
    copies = PartnerCopies(articles, publisher, copy_store)
    registry = RepublicationRegistry(
        registry_store or RepublicationStore(store.r, store.prefix),
        store,
        articles,
        own_host=urlsplit(public_url).hostname or "",
    )
    pixel = PartnerPixel(store, public_url, secret_key, previous_secrets, registry)
    feeds = PartnerFeeds(
        store,
        articles,
        changes,
        copies,
        pixel,
        publisher,
        public_url,
        items=items,
        withdrawn_days=withdrawn_days,
    )
    webhooks = PartnerWebhooks(store, articles, changes, keys, publisher, public_url)
    republish = RepublishPages(articles, copies, pixel)
    return Partners(store, keys, copies, feeds, webhooks, pixel, republish, registry)


def make_partners(
    settings: Settings, client: redis.Redis, articles: ArticleStore | None = None
) -> Partners:
    """The services from settings (what ``Context.partners`` returns)."""
    return assemble_partners(
        PartnerStore(client, settings.key_prefix),
        articles or ArticleStore(client, settings.key_prefix),
        PartnerCopyStore(client, settings.key_prefix),
        settings.publisher,
        settings.public_url,
        settings.secret_key,
        items=settings.feed_items,
        previous_secrets=settings.previous_secret_keys,
    )
