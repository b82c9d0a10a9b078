"""Atom 1.0 (RFC 4287): the head by feedgen, the entries as lxml trees, pretty-printed.

The whole document used to be feedgen's (with extensions for its gaps: entry links lost
their ``rel``/``type``, #135), and feedgen's per-call checks and tree building per entry
were a third of a publish's rebuild. Now feedgen writes the feed without entries (its
elements, once a document), and each entry is the tree feedgen made for it, element for
element and attribute for attribute, serialised on its own under a root that declares the
document's namespaces and cut out with its indentation; the entries go before
``</feed>``. The bytes and ETags did not change (90 documents against the all-feedgen
build; 300 hypothesis specs against an all-lxml build). An entry made for an article
object is reused from the builder's ``ItemMemo`` (``feed_memo``). lxml escapes every text
and attribute and refuses what XML cannot carry, in the entry as in the head.

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
from functools import partial

from feedgen.feed import FeedGenerator
from lxml import etree

from syndication.models import Article
from syndication.render.feed_common import (
    EMBARGO_CATEGORY,
    MEDIA_TYPES,
    FeedSpec,
    Item,
    SkipHandler,
    alternates,
    archive_links,
    build_skipping,
    each_item,
    feed_id,
    feed_updated,
    fragment_key,
    media_url_ok,
    prepare,
    render_items,
    terms,
    xml_safe,
)
from syndication.render.feed_ext import FH_NS, MEDIA_NS, FeedExtension, add_media
from syndication.render.feed_memo import ItemMemo

ATOM = MEDIA_TYPES["atom"]
ATOM_NS = "http://www.w3.org/2005/Atom"
#: RFC 4946 §2.1: "the license is unspecified", so not inherited from the feed.
UNSPECIFIED = "http://purl.org/atompub/license#unspecified"
_FEED_END = b"</feed>\n"


def build_atom(
    spec: FeedSpec,
    articles: Sequence[Article],
    on_skip: SkipHandler | None = None,
    memo: ItemMemo | None = None,
) -> bytes:
    """An Atom feed document: links for self (WebSub needs it), the HTML page, the other
    formats, hubs, RFC 5005 archives and the licence (RFC 4946); per entry the same plus
    ``rights``, full ``content`` with the attribution footer, and the lead image. An entry
    that cannot be built is left out and reported to ``on_skip``. Entries already written
    for these article objects are taken from ``memo`` (see ``feed_memo``)."""
    memo = ItemMemo() if memo is None else memo
    return build_skipping(lambda kept: _build_atom(spec, kept, memo), articles, on_skip)


def _root(archive: bool) -> etree._Element:
    """``<feed>`` as feedgen made it: Atom as a plain ``xmlns`` attribute on un-namespaced
    elements, the extension namespaces declared first."""
    nsmap = {"media": MEDIA_NS, "fh": FH_NS} if archive else {"media": MEDIA_NS}
    return etree.Element("feed", xmlns=ATOM_NS, nsmap=nsmap)


def _text(parent: etree._Element, tag: str, text: str, **attrib: str) -> None:
    etree.SubElement(parent, tag, **attrib).text = text


def _head(spec: FeedSpec, articles: Sequence[Article]) -> bytes:
    """The document without entries, as feedgen writes it (pretty-printed; the entries go
    before ``</feed>``). Built once a document: feedgen's per-call checks cost little here,
    where they would cost a third of a rebuild per entry."""
    fg = FeedGenerator()
    fg.register_extension("syn", FeedExtension, atom=True, rss=False)
    fg.syn.archive = spec.archive
    links = spec.links
    title = xml_safe(spec.title).strip() or spec.name
    if not title:
        raise ValueError("an Atom feed needs a title")
    fg.id(feed_id(spec))
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
    head = bytes(fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True))
    if not head.endswith(_FEED_END):
        raise ValueError("Atom head does not end with </feed>")
    return head


def _build_atom(spec: FeedSpec, articles: Sequence[Article], memo: ItemMemo) -> bytes:
    inherits = terms(spec.licence).url is not None
    items = prepare(spec, articles, memo=memo)
    key = fragment_key(spec, "atom", inherits)
    render = each_item(partial(_entry_bytes, inherits=inherits))
    rendered = render_items(items, articles, key, render, memo)
    head = _head(spec, articles)
    cut = len(head) - len(_FEED_END)
    return b"".join([head[:cut], *rendered, head[cut:]])


def _entry_bytes(it: Item, inherits: bool) -> bytes:
    """One ``<entry>`` as the pretty-printed document has it (indented one level, ending in
    a newline): serialised under a root that declares the document's namespaces."""
    root = _root(archive=False)
    _entry(etree.SubElement(root, "entry"), it, inherits)
    text: bytes = etree.tostring(root, pretty_print=True, encoding="UTF-8")
    return text[text.index(b">\n") + 2 : -len(_FEED_END)]


def _entry(entry: etree._Element, it: Item, inherits: bool) -> None:
    """``inherits``: the feed has a licence link, which an entry without one would take.
    The elements in feedgen 1.0's order, so documents keep their bytes (and ETags)."""
    _text(entry, "id", it.id)
    _text(entry, "title", it.shown_title)
    _text(entry, "updated", it.modified.isoformat())
    for author in it.authors:
        if author:  # Atom requires a name: an empty one is left out
            _text(etree.SubElement(entry, "author"), "name", author)
    _text(entry, "content", it.content_html, type="html")
    summary = etree.SubElement(entry, "summary", type="text")
    if it.summary:
        summary.text = it.summary
    for topic in it.topics:
        etree.SubElement(entry, "category", term=topic)
    if it.embargoed_until is not None:
        etree.SubElement(entry, "category", term=EMBARGO_CATEGORY)
    _text(entry, "published", it.published.isoformat())
    if it.terms.rights:
        _text(entry, "rights", it.terms.rights)
    _entry_link(entry, it.url, "alternate", "text/html")
    if it.terms.url or inherits:
        _entry_link(entry, it.terms.url or UNSPECIFIED, "license")
    if it.image is not None:
        _entry_link(entry, it.image.url, "enclosure", it.image.media_type)
        if media_url_ok(it.image.url):
            add_media(entry, it.image)


def _entry_link(entry: etree._Element, href: str, rel: str, type: str | None = None) -> None:
    link = etree.SubElement(entry, "link", rel=rel, href=href)  # rel first, as before
    if type:
        link.set("type", type)
