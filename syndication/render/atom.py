"""Atom 1.0 (RFC 4287) with feedgen, plus our extensions (``feed_ext``) for its gaps.

feedgen 1.0 workarounds (FIELD-NOTES): entries are appended (``add_entry`` prepends by
default); every ``updated`` is set from the items (feedgen defaults to now); entry links go
through :class:`~syndication.render.feed_ext.EntryExtension` because feedgen drops their
``rel``/``type`` (#135). Atom never touches feedgen's locale-based RFC 822 formatter: its
dates are ISO 8601 (RFC 3339).

Text stays text: titles, subtitle, summary and rights are Atom text constructs without a
``type`` or with ``type="text"`` (RFC 4287 §3.1.1.1), which readers never render as HTML;
only ``content`` is ``type="html"``, the sanitised body and our escaped footer.

Licences per entry (RFC 4946): an entry without a ``license`` link inherits the feed's
(§2.4), so an all-rights-reserved entry in a CC feed would read as CC-licensed. Such an
entry carries the "unspecified" licence link (§2.1, ``UNSPECIFIED``), which stops the
inheritance, and its ``rights`` says "All rights reserved" (RFC 4287 §4.2.10, the human
reading, which RFC 4946 §2.5 keeps separate from the links).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from syndication.models import Article
from syndication.render.feed_common import (
    EMBARGO_CATEGORY,
    MEDIA_TYPES,
    FeedSpec,
    Item,
    ItemFailed,
    SkipHandler,
    alternates,
    archive_links,
    build_skipping,
    feed_id,
    feed_updated,
    find_failing,
    prepare,
    terms,
    xml_safe,
)
from syndication.render.feed_ext import NAMESPACE, EntryExtension, FeedExtension

ATOM = MEDIA_TYPES["atom"]
#: RFC 4946 §2.1: "the license is unspecified", so not inherited from the feed.
UNSPECIFIED = "http://purl.org/atompub/license#unspecified"


def build_atom(
    spec: FeedSpec, articles: Sequence[Article], on_skip: SkipHandler | None = None
) -> bytes:
    """An Atom feed document: links for self (WebSub needs it), the HTML page, the other
    formats, hubs, RFC 5005 archives and the licence (RFC 4946); per entry the same plus
    ``rights``, full ``content`` with the attribution footer, and the lead image. An entry
    that cannot be built is left out and reported to ``on_skip``."""
    return build_skipping(lambda kept: _build_atom(spec, kept), articles, on_skip)


def _check_entry(entry: Any) -> None:
    entry.atom_entry()


def _build_atom(spec: FeedSpec, articles: Sequence[Article]) -> bytes:
    fg = FeedGenerator()
    fg.register_extension(NAMESPACE, FeedExtension, EntryExtension, atom=True, rss=False)
    fg.syn.archive = spec.archive
    links = spec.links
    fg.id(feed_id(spec))
    title = xml_safe(spec.title).strip() or spec.name
    fg.title(title)
    description = xml_safe(spec.description)
    fg.subtitle(description if description.strip() else title)
    if spec.language:
        fg.language(xml_safe(spec.language))
    fg.author(name=xml_safe(spec.publisher).strip() or title)  # RFC 4287 §4.1.1: required
    channel_terms = terms(spec.licence)
    fg.rights(channel_terms.rights)
    fg.generator("syndication")
    fg.updated(feed_updated(articles, spec.as_of))
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

    entries: list[FeedEntry] = []
    for index, it in enumerate(prepare(spec, articles)):
        fe = fg.add_entry(order="append")
        entries.append(fe)
        try:
            _entry(fe, it, inherits=channel_terms.url is not None)
        except Exception as exc:
            raise ItemFailed(index, exc) from exc
    try:
        return bytes(fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True))
    except Exception:
        find_failing(entries, _check_entry)  # raises ItemFailed for the entry at fault
        raise


def _entry(fe: FeedEntry, it: Item, inherits: bool) -> None:
    """``inherits``: the feed has a licence link, which an entry without one would take."""
    fe.id(it.id)
    fe.title(it.shown_title)
    fe.updated(it.modified)
    fe.published(it.published)
    for author in it.authors:
        fe.author(name=author)
    fe.content(it.content_html, type="html")
    fe.summary(it.summary, type="text")
    for topic in it.topics:
        fe.category(term=topic)
    if it.embargoed_until is not None:
        fe.category(term=EMBARGO_CATEGORY)
    fe.rights(it.terms.rights)
    ext: EntryExtension = fe.syn
    ext.link(it.url, "alternate", "text/html")
    if it.terms.url or inherits:
        ext.link(it.terms.url or UNSPECIFIED, "license")
    if it.image is not None:
        ext.link(it.image.url, "enclosure", it.image.media_type)
        ext.image(it.image)
