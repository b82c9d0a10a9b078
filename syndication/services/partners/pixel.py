"""The view-counting pixel: a signed (partner, article) token in a 1×1 image's URL.

Counts cannot be forged for another pair (the token is signed with
``SYNDICATION_SECRET_KEY``; previous keys still verify during a rotation), and nothing
about the reader is kept but the day's count. Each counted hit also goes to the
republication registry, with the page it was shown on when the browser names it (the
image asks for the full Referer: ``referrerpolicy="no-referrer-when-downgrade"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from syndication.services.partners.errors import InvalidPartner
from syndication.services.partners.registry import RepublicationRegistry
from syndication.store.partners import PartnerStore
from syndication.tokens import TokenError, sign, verify

PIXEL = "pixel"


def pixel_img(url: str) -> str:
    """A 1×1 image, hidden from screen readers; no cookies are set by its URL."""
    return (
        f'<img src="{escape(url, quote=True)}" width="1" height="1" alt="" '
        'referrerpolicy="no-referrer-when-downgrade" '
        'style="border:0;width:1px;height:1px" class="syndication-pixel"/>'
    )


class PartnerPixel:
    def __init__(
        self,
        store: PartnerStore,
        public_url: str,
        secret_key: str | None,
        previous_secrets: Sequence[str] = (),
        registry: RepublicationRegistry | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.public_url = public_url.rstrip("/")
        self.secret_key = secret_key
        self.previous_secrets = tuple(previous_secrets)

    @property
    def enabled(self) -> bool:
        """Pixel URLs need ``SYNDICATION_SECRET_KEY``; without it items carry no pixel."""
        return bool(self.secret_key)

    def url(self, partner_id: str, article_id: str) -> str:
        if not self.secret_key:
            raise InvalidPartner("SYNDICATION_SECRET_KEY is needed for pixel URLs")
        token = sign(self.secret_key, PIXEL, f"{partner_id}:{article_id}", None)
        return f"{self.public_url}/pixel/{token}.gif"

    def count(self, token: str, now: datetime, referer: str | None = None) -> bool:
        """Count one view if the token is genuine (signed by us for that pair); ``referer``
        is the page that showed the image, if the browser said."""
        if not self.secret_key:
            return False
        try:
            subject = verify(self.secret_key, token, PIXEL, now, self.previous_secrets)
        except TokenError:
            return False
        partner_id, _, article_id = subject.partition(":")
        if not partner_id or not article_id:
            return False
        self.store.count_view(partner_id, article_id, now.astimezone(UTC).date())
        if self.registry is not None:
            self.registry.pixel_view(partner_id, article_id, referer, now)
        return True
