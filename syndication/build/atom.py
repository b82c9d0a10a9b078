"""Atom 1.0 (RFC 4287) with feedgen, plus our extensions (``feed_ext``) for its gaps.

feedgen 1.0 workarounds (FIELD-NOTES): entries are appended (``add_entry`` prepends by
default); every ``updated`` is set from the items (feedgen defaults to now); entry links go
through :class:`~syndication.build.feed_ext.EntryExtension` because feedgen drops their
``rel``/``type`` (#135). Atom never touches feedgen's locale-based RFC 822 formatter: its
dates are ISO 8601 (RFC 3339).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from feedgen.feed import FeedGenerator

from syndication.build.feed_common import (
    MEDIA_TYPES,
    FeedSpec,
    alternates,
    archive_links,
    feed_id,
    feed_updated,
    prepare,
    terms,
    xml_safe,
)
from syndication.build.feed_ext import NAMESPACE, EntryExtension, FeedExtension
from syndication.models import Article

ATOM = MEDIA_TYPES["atom"]


def build_atom(spec: FeedSpec, articles: Sequence[Article]) -> bytes:
    """An Atom feed document: links for self (WebSub needs it), the HTML page, the other
    formats, hubs, RFC 5005 archives and the licence (RFC 4946); per entry the same plus
    ``rights``, full ``content`` with the attribution footer, and the lead image."""
    fg = FeedGenerator()
    fg.register_extension(NAMESPACE, FeedExtension, EntryExtension, atom=True, rss=False)
    fg.syn.archive = spec.archive
    links = spec.links
    fg.id(feed_id(spec))
    fg.title(xml_safe(spec.title).strip() or spec.name)
    fg.subtitle(xml_safe(spec.description) or xml_safe(spec.title))
    if spec.language:
        fg.language(xml_safe(spec.language))
    fg.author(name=xml_safe(spec.publisher))
    channel_terms = terms(spec.licence)
    fg.rights(channel_terms.rights)
    fg.generator("syndication")
    fg.updated(feed_updated(articles).astimezone(UTC))
    fg.link(href=xml_safe(links.self_url), rel="self", type=ATOM)
    fg.link(href=xml_safe(links.html_url), rel="alternate", type="text/html")
    for media_type, url in alternates(spec, "atom"):
        fg.link(href=url, rel="alternate", type=media_type)
    for hub in links.hubs:
        fg.link(href=xml_safe(hub), rel="hub")
    for rel, url in archive_links(spec):
        fg.link(href=url, rel=rel, type=ATOM)
    if channel_terms.url:
        fg.link(href=channel_terms.url, rel="license")

    for it in prepare(spec, articles):
        fe = fg.add_entry(order="append")
        fe.id(it.id)
        fe.title(it.title)
        fe.updated(it.modified.astimezone(UTC))
        fe.published(it.published.astimezone(UTC))
        for author in it.authors:
            fe.author(name=author)
        fe.content(it.content_html, type="html")
        fe.summary(it.summary)
        for topic in it.topics:
            fe.category(term=topic)
        fe.rights(it.terms.rights)
        ext: EntryExtension = fe.syn
        ext.link(it.url, "alternate", "text/html")
        if it.terms.url:
            ext.link(it.terms.url, "license")
        if it.image is not None:
            ext.link(it.image.url, "enclosure", it.image.media_type)
            ext.image(it.image)
    return bytes(fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True))
