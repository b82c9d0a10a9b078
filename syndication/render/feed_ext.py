"""The Atom document's extension elements (RFC 4287 §6): Media RSS for the lead image and
the RFC 5005 namespace for ``<fh:archive/>`` on archive documents, the latter as a feedgen
extension (``FeedExtension``: feedgen builds the document head, see ``atom``).

Media RSS: the lead image needs ``media:credit``, ``media:description`` and
``media:copyright``. Its licence goes in ``media:copyright url="…"``, not Media RSS 1.5's
``media:license``, which the W3C validator reports as an undefined element (the entry's own
licence is its RFC 4946 ``license`` link).
"""

from __future__ import annotations

from feedgen.ext.base import BaseExtension
from lxml import etree

from syndication.render.feed_common import LeadImage

MEDIA_NS = "http://search.yahoo.com/mrss/"
FH_NS = "http://purl.org/syndication/history/1.0"

_CONTENT = f"{{{MEDIA_NS}}}content"
_CREDIT = f"{{{MEDIA_NS}}}credit"
_DESCRIPTION = f"{{{MEDIA_NS}}}description"  # type="plain" is the default
_COPYRIGHT = f"{{{MEDIA_NS}}}copyright"


def add_media(parent: etree._Element, image: LeadImage) -> None:
    """Media RSS ``media:content`` for the lead image, with credit, caption and licence
    (``media:copyright``: its ``url`` is the licence's)."""
    sub = etree.SubElement
    media = sub(parent, _CONTENT, url=image.url, medium="image")
    if image.media_type:
        media.set("type", image.media_type)
    if image.credit:
        sub(media, _CREDIT).text = image.credit
    if image.caption:
        sub(media, _DESCRIPTION).text = image.caption
    if image.terms is not None and image.terms.url:
        sub(media, _COPYRIGHT, url=image.terms.url).text = image.terms.licence.name


class FeedExtension(BaseExtension):  # type: ignore[misc]  # feedgen is untyped
    """Feed level: declares the namespaces at the root; ``<fh:archive/>`` when ``archive``."""

    def __init__(self) -> None:
        self.archive = False

    def extend_ns(self) -> dict[str, str]:
        nsmap = {"media": MEDIA_NS}
        if self.archive:
            nsmap["fh"] = FH_NS
        return nsmap

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.archive:
            etree.SubElement(feed, f"{{{FH_NS}}}archive")
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        return feed
