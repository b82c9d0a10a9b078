"""RSS 2.0 and Atom 1.0 (RFC 4287) from articles: pure functions, no clock, no I/O.

Feed-level dates come from the newest item, so the same articles always give the same bytes
(and so the same ETag). Works around feedgen 1.0 defects noted in FIELD-NOTES.md:
``add_entry`` prepends (we append), dates default to now (we always set them), RSS
``<author>`` wants an email (we use ``dc:creator``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlsplit

import lxml.html
from feedgen.feed import FeedGenerator

from syndication.licences import LICENCES
from syndication.models import Article

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class FeedSpec:
    """What a feed is about and where it lives; the URLs must be absolute."""

    name: str
    title: str
    description: str
    site_url: str
    rss_url: str
    atom_url: str
    language: str
    publisher: str
    licence: str


def xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot carry: lxml raises on them, readers choke on them."""
    return _XML_INVALID.sub("", text)


def item_id(article: Article, site_url: str) -> str:
    """A tag URI (RFC 4151) from the site and the article id: stable across updates and URL
    changes, which is what feed readers key their read state on."""
    host = urlsplit(site_url).hostname or "localhost"
    return f"tag:{host},{article.published_at.date().isoformat()}:article/{article.id}"


def plain_excerpt(html: str, limit: int = 300) -> str:
    """Text of the first words of ``html``: the RSS description when there is no summary."""
    text = " ".join(lxml.html.fromstring(html).text_content().split()) if html.strip() else ""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def feed_updated(articles: Sequence[Article]) -> datetime:
    return max((a.modified for a in articles), default=EPOCH)


def attribution_footer(article: Article, publisher: str) -> str:
    """A first attribution footer (title, author, publisher, original link, licence)."""
    lic = LICENCES[article.licence]
    by = ", ".join(article.authors)
    credit = f"{escape(by)}, {escape(publisher)}" if by else escape(publisher)
    url = escape(article.url, quote=True)
    licence = (
        f'<a rel="license" href="{escape(lic.url, quote=True)}">{escape(lic.name)}</a>'
        if lic.url
        else escape(lic.name)
    )
    return (
        f'<hr/><p class="attribution">&#8220;<a href="{url}">{escape(article.title)}</a>&#8221; '
        f'by {credit} was first published at <a href="{url}">{url}</a>. '
        f"Licence: {licence}.</p>"
    )


def _generator(spec: FeedSpec, articles: Sequence[Article]) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.id(spec.site_url + "/")
    fg.title(xml_safe(spec.title))
    fg.subtitle(xml_safe(spec.description) or xml_safe(spec.title))
    fg.language(spec.language)
    lic = LICENCES[spec.licence]
    fg.rights(f"{lic.name} — {lic.url}" if lic.url else lic.name)
    fg.generator("syndication")
    updated = feed_updated(articles)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    for article in articles:
        fe = fg.add_entry(order="append")
        fe.id(item_id(article, spec.site_url))
        fe.guid(item_id(article, spec.site_url), permalink=False)
        fe.title(xml_safe(article.title))
        fe.link(href=article.url, rel="alternate")
        fe.summary(xml_safe(article.summary or plain_excerpt(article.body_html)))
        body = article.body_html + attribution_footer(article, spec.publisher)
        fe.content(xml_safe(body), type="html")
        fe.published(article.published_at)
        fe.updated(article.modified)
        for author in article.authors:
            fe.author(name=xml_safe(author))
            fe.dc.dc_creator(xml_safe(author))
        for topic in article.topics:
            fe.category(term=xml_safe(topic))
    return fg


def build_rss(spec: FeedSpec, articles: Sequence[Article]) -> bytes:
    fg = _generator(spec, articles)
    fg.description(xml_safe(spec.description) or xml_safe(spec.title))
    # feedgen writes the channel <link> from the last link added: self first, site last.
    fg.link(href=spec.rss_url, rel="self")
    fg.link(href=spec.site_url + "/", rel="alternate")
    return bytes(fg.rss_str(pretty=True))


def build_atom(spec: FeedSpec, articles: Sequence[Article]) -> bytes:
    fg = _generator(spec, articles)
    fg.link(href=spec.site_url + "/", rel="alternate")
    fg.link(href=spec.atom_url, rel="self")
    fg.author(name=xml_safe(spec.publisher))
    return bytes(fg.atom_str(pretty=True))
