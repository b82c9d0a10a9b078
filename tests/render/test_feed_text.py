"""Text reaches a reader as text in every format (issue 11 §3, stored XSS), and feeds built
from hostile but accepted input stay well-formed and valid RSS 2.0, Atom and JSON Feed.

Readers render RSS ``description`` as HTML, so text there must be HTML-escaped (``<`` is
``&lt;`` after XML parsing); RSS plain-text elements use the RSS Best Practices Profile's
hexadecimal character references; Atom text constructs are ``type="text"``; JSON Feed's
``title``/``summary`` are plain strings. No W3C validator offline: documents are checked
with lxml, feedparser (``bozo == 0``) and the structural rules the validator applies.
"""

from __future__ import annotations

import html
import json
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import lxml.html
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from lxml import etree

from syndication.models import Article
from syndication.render.feeds import (
    FeedLinks,
    FeedSpec,
    build_atom,
    build_json,
    build_rss,
    plain_excerpt,
    xml_safe,
)
from tests.support import article_data

BASE = "https://feeds.example/feeds"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "media": "http://search.yahoo.com/mrss/",
}
SCRIPT = '<script>alert("x")</script> <b>bold</b> & AT&T &amp; 1 < 2 > 0'
AS_OF = datetime(2026, 12, 1, 12, tzinfo=UTC)


def spec(fmt: str, **fields: Any) -> FeedSpec:
    links = FeedLinks(
        self_url=f"{BASE}/author/x.{fmt}",
        alternates={f: f"{BASE}/author/x.{f}" for f in ("rss", "atom", "json")},
        html_url="https://insightcrime.org/",
        hubs=("https://hub.example/",),
    )
    base = FeedSpec(
        name="author/x",
        title="InSight Crime: Ana",
        description="Author “Ana” — Latest from InSight Crime",
        site_url="https://insightcrime.org",
        language="en",
        publisher="InSight Crime",
        licence="CC-BY-4.0",
        links=links,
        as_of=AS_OF,
    )
    return replace(base, **fields)


def article(n: int = 1, **fields: Any) -> Article:
    """A valid article with ``fields`` set unvalidated: the builders must not trust input."""
    valid = Article.model_validate(
        article_data(n, image={"url": "https://cdn.example/lead.jpg", "licence": "CC-BY-4.0"})
    )
    image = fields.pop("image", None)
    if image is not None:
        assert valid.image is not None
        fields["image"] = valid.image.model_copy(update=image)
    return valid.model_copy(update=fields)


def element_source(document: bytes, tag: bytes) -> list[bytes]:
    """The raw bytes between ``<tag>`` and ``</tag>``: how the text was encoded."""
    out, start = [], 0
    while (i := document.find(b"<" + tag + b">", start)) >= 0:
        j = document.index(b"</" + tag + b">", i)
        out.append(document[i + len(tag) + 2 : j])
        start = j
    return out


def html_shows(fragment: str) -> str:
    """What an HTML renderer shows for ``fragment``, and that it holds no element at all."""
    assert "<" not in fragment, fragment  # no tag can start: nothing but text and entities
    return html.unescape(fragment)


# --- RSS --------------------------------------------------------------------------------


def test_rss_summary_and_channel_description_are_html_escaped_text():
    hostile = article(summary=SCRIPT)
    document = build_rss(spec("rss", description=f"Author “{SCRIPT}”"), [hostile])
    channel = etree.fromstring(document).find("channel")
    item = channel.find("item")
    # After XML parsing the reader holds HTML that shows the characters, runs nothing.
    assert item.findtext("description") == html.escape(SCRIPT, quote=False)
    assert html_shows(item.findtext("description")) == SCRIPT
    assert html_shows(channel.findtext("description")) == f"Author “{SCRIPT}”"
    # In the XML source that is escaped twice.
    assert b"&amp;lt;script&amp;gt;alert" in element_source(document, b"description")[1]
    assert b"<script" not in document and b"&lt;script" not in document
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0
    shown = lxml.html.fragment_fromstring(parsed.entries[0].summary, create_parent="div")
    assert shown.text_content() == SCRIPT and shown.find(".//script") is None


def test_rss_plain_text_uses_the_profiles_hexadecimal_references():
    hostile = article(
        title=SCRIPT,
        authors=[SCRIPT],
        topics=[SCRIPT],
        image={"caption": SCRIPT, "credit": SCRIPT},
    )
    document = build_rss(spec("rss", title=f"InSight Crime: {SCRIPT}"), [hostile])
    channel = etree.fromstring(document).find("channel")
    item = channel.find("item")
    media = item.find("media:content", NS)
    for text in (
        channel.findtext("title"),
        item.findtext("title"),
        item.findtext("dc:creator", namespaces=NS),
        item.findtext("category"),
        media.findtext("media:credit", namespaces=NS),
        media.findtext("media:description", namespaces=NS),
    ):
        assert text is not None and text.endswith(SCRIPT)  # the characters, as text
    for tag in (b"title", b"dc:creator", b"category", b"media:credit", b"media:description"):
        for source in element_source(document, tag):
            assert b"&lt;" not in source and b"&amp;" not in source and b"&gt;" not in source
    (_, title_source) = element_source(document, b"title")
    assert title_source == (
        b'&#x3C;script&#x3E;alert("x")&#x3C;/script&#x3E; &#x3C;b&#x3E;bold&#x3C;/b&#x3E; '
        b"&#x26; AT&#x26;T &#x26;amp; 1 &#x3C; 2 &#x3E; 0"
    )
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0
    assert parsed.entries[0].title == SCRIPT and parsed.entries[0].title_detail.type == (
        "text/plain"
    )


def test_rss_excerpt_of_the_body_is_text_too():
    """No summary: the excerpt is the body's *text*, where ``&lt;`` became ``<``."""
    hostile = article(summary="", body_html="<p>1 &lt; 2 &amp; &lt;script&gt;x&lt;/script&gt;</p>")
    item = etree.fromstring(build_rss(spec("rss"), [hostile])).find("channel/item")
    assert html_shows(item.findtext("description")) == "1 < 2 & <script>x</script>"


# --- Atom and JSON Feed -----------------------------------------------------------------


def test_atom_text_constructs_are_text_and_only_content_is_html():
    hostile = article(title=SCRIPT, summary=SCRIPT, authors=[SCRIPT])
    document = build_atom(
        spec("atom", title=f"InSight Crime: {SCRIPT}", description=SCRIPT), [hostile]
    )
    feed = etree.fromstring(document)
    entry = feed.find("atom:entry", NS)
    for parent, tag in ((feed, "title"), (feed, "subtitle"), (entry, "title"), (entry, "summary")):
        element = parent.find(f"atom:{tag}", NS)
        assert element.get("type") in (None, "text"), tag
        assert element.text.endswith(SCRIPT), tag
    assert entry.findtext("atom:author/atom:name", namespaces=NS) == SCRIPT
    assert entry.find("atom:content", NS).get("type") == "html"
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0
    assert parsed.entries[0].summary == SCRIPT
    assert parsed.entries[0].summary_detail.type == "text/plain"


def test_json_feed_summary_and_titles_are_plain_strings():
    hostile = article(title=SCRIPT, summary=SCRIPT, authors=[SCRIPT])
    doc = json.loads(
        build_json(spec("json", title=f"InSight Crime: {SCRIPT}", description=SCRIPT), [hostile])
    )
    assert doc["title"] == f"InSight Crime: {SCRIPT}" and doc["description"] == SCRIPT
    item = doc["items"][0]
    assert item["title"] == SCRIPT and item["summary"] == SCRIPT
    assert item["authors"] == [{"name": SCRIPT}]
    footer = lxml.html.fragment_fromstring(item["content_html"], create_parent="div")
    assert footer.find(".//script") is None  # the footer escapes the title it links


# --- hostile but accepted input, every format -------------------------------------------

NASTY = st.sampled_from(
    [
        *("<script>", "</p>", "&", "&amp;", "&#x3C;", "<![CDATA[", "]]>", "-->", '"', "'"),
        *("\u202e", "\u200f", "\u061c", "مرحبا بالعالم", "שלום", "😀", "👩🏽‍💻", "🇨🇴", "\u0301"),
        *("\x00", "\x08", "\x1b", "\x7f", "\x85", "\ud800", "\ufffe", "\r\n", "\t"),
    ]
)
hostile = st.lists(st.one_of(st.characters(), NASTY), min_size=1, max_size=30).map("".join)


def absolute(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https", "tag") and bool(parts.netloc or parts.path)


def check_rss(document: bytes, feed_spec: FeedSpec, items: list[Article]) -> None:
    root = etree.fromstring(document)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    title = xml_safe(feed_spec.title).strip() or feed_spec.name
    assert channel.findtext("title") == title
    assert (channel.findtext("description") or "").strip()  # required, never blank
    assert "<" not in channel.findtext("description")
    assert absolute(channel.findtext("link"))
    (self_link,) = [link for link in channel.findall("atom:link", NS) if link.get("rel") == "self"]
    assert self_link.get("href") == feed_spec.links.self_url
    assert self_link.get("type") == "application/rss+xml"
    parsedate_to_datetime(channel.findtext("lastBuildDate"))  # RFC 822
    guids = [item.findtext("guid") for item in channel.findall("item")]
    assert len(set(guids)) == len(guids) == len(items)
    for item, source in zip(channel.findall("item"), items, strict=True):
        assert item.findtext("title") == (xml_safe(source.title).strip() or source.url)
        summary = xml_safe(source.summary) or plain_excerpt(source.body_html)
        assert html_shows(item.findtext("description") or "") == summary
        assert item.find("guid").get("isPermaLink") == "false" and absolute(item.findtext("guid"))
        assert absolute(item.findtext("link"))
        published = parsedate_to_datetime(item.findtext("pubDate"))
        assert published == source.published_at.replace(microsecond=0)
        assert [c.text or "" for c in item.findall("dc:creator", NS)] == [
            xml_safe(a) for a in source.authors
        ]
        assert [c.text or "" for c in item.findall("category")] == [
            xml_safe(t) for t in source.topics
        ]
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(items)


def check_atom(document: bytes, feed_spec: FeedSpec, items: list[Article]) -> None:
    feed = etree.fromstring(document)
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    assert feed.findtext("atom:title", namespaces=NS) == (
        xml_safe(feed_spec.title).strip() or feed_spec.name
    )
    assert feed.findtext("atom:id", namespaces=NS)
    assert (feed.findtext("atom:author/atom:name", namespaces=NS) or "").strip()  # required
    datetime.fromisoformat(feed.findtext("atom:updated", namespaces=NS))
    rels = [(link.get("rel"), link.get("href")) for link in feed.findall("atom:link", NS)]
    assert ("self", feed_spec.links.self_url) in rels
    assert all(absolute(href) for _, href in rels)
    entries = feed.findall("atom:entry", NS)
    ids = [e.findtext("atom:id", namespaces=NS) for e in entries]
    assert len(set(ids)) == len(ids) == len(items)
    for entry, source in zip(entries, items, strict=True):
        for tag in ("title", "summary", "rights"):
            assert entry.find(f"atom:{tag}", NS).get("type") in (None, "text"), tag
        assert entry.findtext("atom:title", namespaces=NS) == (
            xml_safe(source.title).strip() or source.url
        )
        summary = xml_safe(source.summary) or plain_excerpt(source.body_html)
        assert (entry.findtext("atom:summary", namespaces=NS) or "") == summary
        for tag in ("updated", "published"):
            datetime.fromisoformat(entry.findtext(f"atom:{tag}", namespaces=NS))  # RFC 3339
        assert [n.text or "" for n in entry.findall("atom:author/atom:name", NS)] == [
            xml_safe(a)
            for a in source.authors
            if xml_safe(a)  # feedgen drops empty names
        ]
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(items)


def check_json(document: bytes, feed_spec: FeedSpec, items: list[Article]) -> None:
    doc = json.loads(document)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == (xml_safe(feed_spec.title).strip() or feed_spec.name)
    assert doc["description"] == xml_safe(feed_spec.description)
    assert doc["feed_url"] == feed_spec.links.self_url and absolute(doc["home_page_url"])
    ids = [i["id"] for i in doc["items"]]
    assert len(set(ids)) == len(ids) == len(items)
    for item, source in zip(doc["items"], items, strict=True):
        assert item["title"] == (xml_safe(source.title).strip() or source.url)
        assert item["summary"] == (xml_safe(source.summary) or plain_excerpt(source.body_html))
        assert isinstance(item["content_html"], str) and absolute(item["url"])
        for key in ("date_published", "date_modified"):
            assert datetime.fromisoformat(item[key]).utcoffset() is not None


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=hostile,
    summary=hostile,
    author=hostile,
    topic=hostile,
    caption=hostile,
    credit=hostile,
    name=hostile,
    publisher=hostile,
)
def test_hostile_text_gives_valid_feeds_that_show_it_as_text(
    title: str,
    summary: str,
    author: str,
    topic: str,
    caption: str,
    credit: str,
    name: str,
    publisher: str,
):
    items = [
        article(
            1,
            title=title,
            summary=summary,
            authors=[author, "Ana"],
            topics=[topic],
            image={"caption": caption, "credit": credit},
        ),
        article(2, title=name, summary="", body_html=f"<p>{html.escape(summary)}</p>"),
    ]
    fields = {
        "title": f"InSight Crime: {name}",
        "description": f"Author “{name}” — {title}",
        "publisher": publisher,
    }
    check_rss(build_rss(spec("rss", **fields), items), spec("rss", **fields), items)
    check_atom(build_atom(spec("atom", **fields), items), spec("atom", **fields), items)
    check_json(build_json(spec("json", **fields), items), spec("json", **fields), items)
