"""Partners and their keys: add, list with pull counts, revoke, rotate, authenticate.

A key is returned once, by ``add`` and ``rotate``, and never stored in clear
(``store.partners`` keeps its SHA-256). The webhook signing secret is derived from
``SYNDICATION_SECRET_KEY``, the partner id and its secret version, so nothing secret is
stored in Redis and the secret rotates with the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from syndication.services.partners.errors import InvalidPartner
from syndication.slugs import slugify
from syndication.store.partners import Partner, PartnerStore, hash_key

WEBHOOK_PURPOSE = "partner-webhook"
_MAX_KEY = 200


@dataclass(frozen=True)
class PartnerSummary:
    partner: Partner
    pulls_today: int
    pulls_30_days: int

    def to_json(self) -> dict[str, object]:
        return self.partner.to_json() | {
            "pulls_today": self.pulls_today,
            "pulls_30_days": self.pulls_30_days,
        }


def check_webhook_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise InvalidPartner("the webhook must be an absolute http(s) URL")
    return url.strip()


class PartnerKeys:
    """Who may pull the partner feeds, and with which key."""

    def __init__(self, store: PartnerStore, secret_key: str | None) -> None:
        self.store = store
        self.secret_key = secret_key

    def add(
        self,
        name: str,
        *,
        now: datetime,
        commercial: bool = False,
        topics: Iterable[str] = (),
        sections: Iterable[str] = (),
        languages: Iterable[str] = (),
        webhook_url: str | None = None,
        pixel: bool = True,
        embargoed: bool = False,
    ) -> tuple[Partner, str]:
        """A new partner and its key: the key is returned here once and never again.
        ``embargoed``: it is trusted with embargoed articles before their release."""
        name = " ".join(name.split())
        if not name:
            raise InvalidPartner("the partner needs a name")
        if webhook_url:
            webhook_url = check_webhook_url(webhook_url)
        return self.store.add(
            name,
            commercial=commercial,
            topics=_slugs(topics),
            sections=_slugs(sections),
            languages=[lang.strip().lower() for lang in languages if lang.strip()],
            webhook_url=webhook_url or None,
            pixel=pixel,
            embargoed=embargoed,
            now=now,
        )

    def summaries(self, today: date) -> list[PartnerSummary]:
        """Every partner with its pulls today and over the last 30 days."""
        partners = self.store.all()
        day = self.store.pulls(today)
        month = self.store.pulls_since(today - timedelta(days=29), today)
        return [PartnerSummary(p, day.get(p.id, 0), month.get(p.id, 0)) for p in partners]

    def revoke(self, partner_id: str, now: datetime) -> Partner:
        return self.store.revoke(partner_id, now)

    def rotate(self, partner_id: str, now: datetime) -> tuple[Partner, str]:
        """A new key; the old one stops working now. The webhook secret changes with it."""
        return self.store.rotate(partner_id, now)

    def authenticate(self, key: str | None) -> Partner | None:
        """The active partner whose key this is, else None.

        The key is hashed first and only the hash is looked up, so no timing depends on
        the key's characters; the stored hash is then compared in constant time.
        """
        if not key or len(key) > _MAX_KEY:
            return None
        digest = hash_key(key)
        partner_id = self.store.id_for_key_hash(digest)
        if partner_id is None:
            return None
        partner = self.store.get(partner_id)
        if partner is None or not partner.active:
            return None
        if not hmac.compare_digest(partner.key_hash.encode(), digest.encode()):
            return None
        return partner

    def webhook_secret(self, partner: Partner) -> str:
        """The partner's webhook signing secret: derived, not stored; rotates with the key."""
        if not self.secret_key:
            raise InvalidPartner("SYNDICATION_SECRET_KEY is needed to sign webhooks")
        msg = f"{WEBHOOK_PURPOSE}:{partner.id}:{partner.secret_version}".encode()
        return hmac.new(self.secret_key.encode(), msg, hashlib.sha256).hexdigest()


def _slugs(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        slug = slugify(value)
        if slug and slug not in out:
            out.append(slug)
    return out
