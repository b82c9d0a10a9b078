"""Wiring the digest services from Settings (what ``Context.digests`` calls: faces take the
service from their Context); the DKIM keys come from ``services/dkim_keys.py``."""

from __future__ import annotations

from syndication.clock import Clock, system_clock
from syndication.config import Settings
from syndication.events import Events
from syndication.render.dkim import DkimKey
from syndication.services.clicks import ClickCounts
from syndication.services.deliverability import Deliverability
from syndication.services.digests.facade import Digests
from syndication.services.digests.settings import MailSettings
from syndication.services.dkim_keys import DKIM_KEY_VAR, load_dkim_keys
from syndication.store.articles import ArticleStore
from syndication.store.connection import Client
from syndication.store.deliverability import DeliverabilityCounts
from syndication.store.domain_pacing import Backoff, DomainPacer
from syndication.store.editions import EditionStore
from syndication.store.ratelimit import SendRateLimiter as RateLimiter
from syndication.store.subscribers import SubscriberStore

__all__ = ["DKIM_KEY_VAR", "load_dkim_key", "load_dkim_keys", "make_digest_service"]


def load_dkim_key(settings: Settings) -> DkimKey | None:
    """The first DKIM key (RSA when one is configured), or None when signing is off; every
    key is loaded and checked (``load_dkim_keys``)."""
    keys = load_dkim_keys(settings)
    return keys[0] if keys else None


def make_digest_service(
    settings: Settings,
    client: Client,
    events: Events,
    *,
    mail: MailSettings | None = None,
    with_sender: bool = True,
    clock: Clock = system_clock,
    clicks: ClickCounts | None = None,
) -> Digests:
    """Wire the services from Settings, for ``Context.digests`` (the composition root)."""
    from syndication.deliver.smtp import sender_factory as smtp_sender_factory

    mail = mail or MailSettings.from_settings(settings)
    dkim_keys = load_dkim_keys(settings)
    prefix = settings.key_prefix
    sender_factory = smtp_sender_factory(
        settings.smtp_url if with_sender else None, mail.smtp_timeout
    )

    return Digests(
        editions=EditionStore(client, prefix),
        articles=ArticleStore(client, prefix),
        subscribers=SubscriberStore(client, prefix),
        publisher=settings.publisher,
        public_url=settings.public_url,
        secret_key=settings.need_secret_key(),
        mail=mail,
        events=events,
        sender_factory=sender_factory,
        rate=RateLimiter(client, prefix, mail.rate_per_second, mail.rate_per_hour),
        pacing=DomainPacer(
            client,
            prefix,
            dict(mail.domain_rates),
            backoff=Backoff(mail.domain_backoff_s, mail.domain_backoff_max_s),
            clock=lambda: clock().timestamp(),
        ),
        deliverability=Deliverability(DeliverabilityCounts(client, prefix), clock),
        dkim=dkim_keys,
        clock=clock,
        clicks=clicks if settings.digest.click_counts else None,
    )
