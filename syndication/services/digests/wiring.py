"""Wiring the digest services from Settings (what ``Context.digests`` calls: faces take the
service from their Context), and reading the DKIM key file."""

from __future__ import annotations

from collections.abc import Callable

from syndication.clock import Clock, system_clock
from syndication.config import ENV_PREFIX, ConfigError, Settings
from syndication.deliver.smtp import Sender
from syndication.events import Events
from syndication.render import digest_email
from syndication.services.deliverability import Deliverability
from syndication.services.digests.facade import Digests
from syndication.services.digests.settings import MailSettings
from syndication.store.articles import ArticleStore
from syndication.store.connection import Client
from syndication.store.deliverability import DeliverabilityCounts
from syndication.store.domain_pacing import Backoff, DomainPacer
from syndication.store.editions import EditionStore
from syndication.store.ratelimit import SendRateLimiter as RateLimiter
from syndication.store.subscribers import SubscriberStore

DKIM_KEY_VAR = f"{ENV_PREFIX}DKIM_KEY_FILE"


def load_dkim_key(settings: Settings) -> digest_email.DkimKey | None:
    """The DKIM key (RFC 6376) from ``SYNDICATION_DKIM_*``, or None when signing is off.

    Read and parsed when the service is made, so a missing or unreadable key stops a
    worker or ``digest send`` at start (one line naming the variable) instead of failing
    every message of an edition later.
    """
    mail = settings.mail
    path = mail.dkim_key_file
    if path is None:
        return None
    if not mail.dkim_selector or not mail.dkim_domain:
        raise ConfigError(
            f"{DKIM_KEY_VAR} needs {ENV_PREFIX}DKIM_SELECTOR and {ENV_PREFIX}DKIM_DOMAIN"
        )
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{DKIM_KEY_VAR}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        import dkim.crypto
    except ImportError:
        raise ConfigError(f"{DKIM_KEY_VAR} is set but dkimpy is not installed") from None
    try:
        dkim.crypto.parse_pem_private_key(pem)
    except (dkim.crypto.UnparsableKeyError, ValueError, IndexError):
        raise ConfigError(
            f"{DKIM_KEY_VAR}: {path} is not a PEM RSA private key (PKCS#1 or PKCS#8)"
        ) from None
    return digest_email.DkimKey(mail.dkim_selector, mail.dkim_domain, pem)


def make_digest_service(
    settings: Settings,
    client: Client,
    events: Events,
    *,
    mail: MailSettings | None = None,
    with_sender: bool = True,
    clock: Clock = system_clock,
) -> Digests:
    """Wire the services from Settings, for ``Context.digests`` (the composition root)."""
    from syndication.deliver.smtp import SmtpSender

    mail = mail or MailSettings.from_settings(settings)
    dkim_key = load_dkim_key(settings)
    prefix = settings.key_prefix
    sender_factory: Callable[[], Sender] | None = None
    if with_sender and settings.smtp_url:
        url, timeout = settings.smtp_url, mail.smtp_timeout

        def sender_factory() -> Sender:
            return SmtpSender(url, timeout=timeout)

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
        dkim=dkim_key,
        clock=clock,
    )
