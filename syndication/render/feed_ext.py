"""feedgen extensions for what feedgen 1.0 lacks or gets wrong in Atom (RFC 4287).

DESIGN.md: namespaces feedgen lacks go in ``BaseExtension`` subclasses, never in string
edits on the XML afterwards.

- Entry links: feedgen 1.0's ``atom_entry`` shadows its loop variable, so every entry
  ``<link>`` loses ``rel``, ``type`` and ``length`` (upstream issue #135) — an enclosure or
  licence link would turn into an alternate. :class:`EntryExtension` writes the entry links
  itself (``alternate``, RFC 4946 ``license``, ``enclosure``), and the builder never calls
  ``FeedEntry.link``.
- Media RSS: feedgen's ``media`` extension has no ``media:credit``, ``media:description``
  or ``media:copyright``; the lead image needs all three. Its licence goes in
  ``media:copyright url="…"``, not Media RSS 1.5's ``media:license``, which the W3C validator
  reports as an undefined element (the entry's own licence is its RFC 4946 ``license`` link).
- RFC 5005 ``<fh:archive/>`` on archive documents (:class:`FeedExtension`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from lxml import etree

from syndication.render.feed_common import LeadImage, media_url_ok

MEDIA_NS = "http://search.yahoo.com/mrss/"
FH_NS = "http://purl.org/syndication/history/1.0"
NAMESPACE = "syn"  # where feedgen hangs the extension instances: ``fg.syn``, ``fe.syn``

# feedgen builds Atom with an ``xmlns`` attribute, not a namespaced tree: its elements are
# un-namespaced, and ours must be too or lxml would declare a second prefix for Atom.
_LINK = "link"
_CONTENT = f"{{{MEDIA_NS}}}content"
_CREDIT = f"{{{MEDIA_NS}}}credit"
_DESCRIPTION = f"{{{MEDIA_NS}}}description"  # type="plain" is the default
_COPYRIGHT = f"{{{MEDIA_NS}}}copyright"


@dataclass(frozen=True)
class Link:
    href: str
    rel: str
    type: str | None = None


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


@dataclass
class _EntryData:
    links: list[Link] = field(default_factory=list)
    image: LeadImage | None = None


class EntryExtension(BaseEntryExtension):  # type: ignore[misc]  # feedgen is untyped
    """Entry level: links with their ``rel``/``type`` intact (#135) and the lead image."""

    def __init__(self) -> None:
        self.data = _EntryData()

    def link(self, href: str, rel: str, type: str | None = None) -> None:
        self.data.links.append(Link(href, rel, type))

    def image(self, image: LeadImage) -> None:
        self.data.image = image

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        for link in self.data.links:
            elem = etree.SubElement(entry, _LINK, rel=link.rel, href=link.href)
            if link.type:
                elem.set("type", link.type)
        if self.data.image is not None and media_url_ok(self.data.image.url):
            add_media(entry, self.data.image)
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        return item
