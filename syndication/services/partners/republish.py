"""The "Republish this story" page: for outlets without a feed importer.

Terms are those for a non-commercial outlet (the page says what a commercial one may not
do); the snippet is the partner copy with the pixel counted under ``REPUBLISH_PARTNER``.
"""

from __future__ import annotations

from dataclasses import dataclass

from syndication.licences import LICENCES
from syndication.models import Article
from syndication.render.attribution import credited_name
from syndication.render.licence_terms import LicenceTerms, licence_terms
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
    text: str  # the same copy as plain text (for a CMS without an HTML view)
    preview_html: str  # the same without the pixel (showing the page counts no view)
    pixel_url: str | None
    licence_name: str
    licence_url: str | None
    commercial_allowed: bool
    changes_allowed: bool
    publisher_name: str  # who is credited: the article's own publisher, else ours
    terms: LicenceTerms  # the licence sentence the digest and ninjs use too


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
        name = credited_name(article, self.copies.publisher)
        return Republish(
            article=article,
            html=html,
            text=made.text,
            preview_html=made.article.body_html,
            pixel_url=pixel,
            licence_name=lic.name,
            licence_url=lic.url,
            commercial_allowed=lic.commercial,
            changes_allowed=lic.derivatives,
            publisher_name=name,
            terms=licence_terms(article.licence, name),  # the page is in English
        )
