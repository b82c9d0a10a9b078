"""The "Republish this story" page: for outlets without a feed importer.

Terms are those for a non-commercial outlet (the page says what a commercial one may not
do); the snippet is the partner copy with the pixel counted under ``REPUBLISH_PARTNER``.
"""

from __future__ import annotations

from dataclasses import dataclass

from syndication.licences import LICENCES
from syndication.models import Article
from syndication.render.partner_copy import Excluded
from syndication.services.partners.copies import PartnerCopies, allowed
from syndication.services.partners.pixel import PartnerPixel, pixel_img
from syndication.store.articles import ArticleStore, State

REPUBLISH_PARTNER = "_republish"  # pixel counts from the public "Republish" page


@dataclass(frozen=True)
class Republish:
    """What the "Republish this story" page shows."""

    article: Article
    html: str  # ready to paste: header, body, footer, pixel
    preview_html: str  # the same without the pixel (showing the page counts no view)
    pixel_url: str | None
    licence_name: str
    licence_url: str | None
    commercial_allowed: bool
    changes_allowed: bool


class RepublishPages:
    def __init__(self, articles: ArticleStore, copies: PartnerCopies, pixel: PartnerPixel) -> None:
        self.articles = articles
        self.copies = copies
        self.pixel = pixel

    def page(self, article_id: str) -> Republish | None:
        """The page for one article; None if it may not be republished."""
        stored = self.articles.get(article_id)
        if stored is None or stored.state is not State.PUBLISHED:
            return None
        article = stored.article
        if not allowed(article, commercial=False):
            return None
        made = self.copies.copy(stored, False)
        if isinstance(made, Excluded):
            return None
        pixel = self.pixel.url(REPUBLISH_PARTNER, article.id) if self.pixel.enabled else None
        html = made.article.body_html + (pixel_img(pixel) if pixel else "")
        lic = LICENCES[article.licence]
        return Republish(
            article=article,
            html=html,
            preview_html=made.article.body_html,
            pixel_url=pixel,
            licence_name=lic.name,
            licence_url=lic.url,
            commercial_allowed=lic.commercial,
            changes_allowed=lic.derivatives,
        )
