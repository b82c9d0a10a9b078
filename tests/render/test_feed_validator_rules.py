"""Feeds built from hostile but accepted input pass the W3C feed validator (issue 11).

The validator itself cannot run in the suite (it is not packaged), so this module encodes the
rules of its code (``feedvalidator`` 's ``base.py``, ``media.py``, ``item.py``,
``validators.py``) that our output relies on, and checks them on RSS and Atom built from
articles that went through our ingest (``article_from_data``: the HTML sanitiser on the body,
the URL rules on every URL):

- every element is one it defines where we put it: an element it does not know is an
  ``UndefinedElement`` error. Media RSS inside ``media:content`` is only what its
  ``media_elements`` knows (``credit``, ``description``, ``copyright``; not Media RSS 1.5's
  ``license``);
- an RSS ``<enclosure url>`` passes its ``httpURL`` check and every ``media:content url`` its
  ``rfc2396_full`` one (the regexes below are written from those, independently of ours);
- each item still carries its licences machine-readably (``creativeCommons:license`` /
  ``rel="license"`` for the article, ``media:copyright url`` for the image);
- feedparser reads the documents without a ``bozo`` error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from lxml import etree
from pydantic import ValidationError

from syndication.config import Publisher, load_publisher
from syndication.ingest.normalise import article_from_data
from syndication.licences import LICENCES
from syndication.models import Article
from syndication.render.atom import UNSPECIFIED
from syndication.render.feeds import FeedLinks, FeedSpec, build_atom, build_rss

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ATOM = "http://www.w3.org/2005/Atom"
MEDIA = "http://search.yahoo.com/mrss/"
CC = "http://backend.userland.com/creativeCommonsRssModule"
NS = {"atom": ATOM, "media": MEDIA, "cc": CC}

# The validator's httpURL (enclosure url) and rfc2396_full (media:content url), transcribed.
_DOMAIN = r"(([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([A-Z0-9\-]+\.)+))([A-Z0-9][-A-Z0-9]*)"
HTTP_URL = re.compile(r"(http|https)://" + _DOMAIN + r"(?::\d+)?" + r"(/|$)", re.IGNORECASE)
RFC2396_FULL = re.compile(r"[a-zA-Z][0-9a-zA-Z+\-\.]*:(//)?[0-9a-zA-Z;/?:@&=+$\.\-_!~*'()%,#]+$")

# Elements we may write, by parent, as the validator names them (prefix_local). Anything else
# in a known namespace would be an UndefinedElement error; the lists are what its do_* methods
# accept there.
RSS_ALLOWED = {
    "rss": {"channel"},
    "channel": {
        "title", "link", "description", "atom_link", "fh_archive", "language", "copyright",
        "creativeCommons_license", "generator", "lastBuildDate", "item",
    },
    "item": {
        "title", "link", "description", "content_encoded", "dc_creator", "guid", "pubDate",
        "category", "creativeCommons_license", "dc_rights", "enclosure", "media_content",
    },
    "media_content": {"media_credit", "media_description", "media_copyright"},
}  # fmt: skip
ATOM_ALLOWED = {
    "feed": {
        "id", "title", "subtitle", "author", "rights", "generator", "updated", "link",
        "fh_archive", "entry",
    },
    "author": {"name"},
    "entry": {
        "id", "title", "updated", "published", "author", "content", "summary", "category",
        "rights", "link", "media_content",
    },
    "media_content": {"media_credit", "media_description", "media_copyright"},
}  # fmt: skip
PREFIXES = {
    ATOM: "atom",
    MEDIA: "media",
    CC: "creativeCommons",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/syndication/history/1.0": "fh",
}

# Hosts and paths our URL rules accept, including the shapes the enclosure check refuses.
HOSTS = st.sampled_from(
    [
        "cdn.example", "cdn.example:8443", "10.0.0.1", "localhost", "img_host.example",
        "cdn.example.", "[2001:db8::1]", "bücher.example", "a-b.c-d.example",
    ]
)  # fmt: skip
PATHS = st.sampled_from(
    ["/lead.jpg", "/a/b.PNG", "/x.webp?w=1&h=2", "/perú.jpeg", "/a'b(c)*!.gif", "", "?id=7",
     "/~u/x.jpg;v=1", "/x.jpg#frag", "/%7Bx%7D.png"]
)  # fmt: skip
NASTY = st.sampled_from(
    [
        "<script>alert(1)</script>", "</p>", "&amp;", "]]>", "\u202e", "😀", "\x00", "\x7f",
        '<a href="javascript:x()">j</a>', '<img src=x onerror="y()">', "<iframe src=//e.x>",
        '<p style="position:fixed">', "<svg><script>1</script></svg>", "<![CDATA[",
    ]
)  # fmt: skip
TEXT = st.lists(st.one_of(st.text(max_size=5), NASTY), min_size=1, max_size=8).map("".join)
LICENCE = st.sampled_from(sorted(LICENCES))


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return load_publisher(ROOT / "examples" / "insightcrime.toml")


def spec(fmt: str, attributed: bool) -> FeedSpec:
    base = "https://feeds.example/feeds"
    name = "partner/x" if attributed else "all"
    return FeedSpec(
        name=name,
        title="InSight Crime",
        description="Latest",
        site_url="https://insightcrime.org",
        language="en",
        publisher="InSight Crime",
        licence="CC-BY-NC-4.0",
        links=FeedLinks(
            self_url=f"{base}/{name}.{fmt}",
            alternates={f: f"{base}/{name}.{f}" for f in ("rss", "atom", "json")},
            html_url="https://insightcrime.org/",
        ),
        attributed=attributed,
        as_of=NOW,
    )


def name_of(el: etree._Element) -> str:
    """The element's name as the validator dispatches on it (``media_content``, ``link``)."""
    qname = etree.QName(el)
    prefix = PREFIXES.get(qname.namespace or "")
    if prefix is None or (prefix == "atom" and el.getroottree().getroot().tag == f"{{{ATOM}}}feed"):
        return qname.localname
    return f"{prefix}_{qname.localname}"


def check_elements(root: etree._Element, allowed: dict[str, set[str]]) -> None:
    """Every element is allowed under its parent; leaves we did not list have no children."""
    for el in root.iter():
        if el is root or not isinstance(el.tag, str):
            continue
        parent = name_of(el.getparent())
        assert parent in allowed, f"{name_of(el)} inside {parent}, which must be a leaf"
        assert name_of(el) in allowed[parent], f"undefined element {name_of(el)} in {parent}"


def check_media(media: etree._Element, article: Article) -> None:
    assert article.image is not None
    assert RFC2396_FULL.match(media.get("url", "")), media.get("url")
    lic = LICENCES.get(article.image.licence) if article.image.licence else None
    copyright_ = media.find("media:copyright", NS)
    if lic is not None and lic.url:
        assert copyright_ is not None and copyright_.get("url") == lic.url
        assert RFC2396_FULL.match(lic.url)
    else:
        assert copyright_ is None


def check_rss(document: bytes, articles: list[Article]) -> None:
    root = etree.fromstring(document)
    check_elements(root, RSS_ALLOWED)
    items = root.findall("channel/item")
    assert len(items) == len(articles)
    for item, article in zip(items, articles, strict=True):
        assert item.findtext("cc:license", namespaces=NS) == LICENCES[article.licence].url
        for enclosure in item.findall("enclosure"):
            url = enclosure.get("url", "")
            assert HTTP_URL.match(url) and RFC2396_FULL.match(url), url
            assert int(enclosure.get("length", "-1")) >= 0 and enclosure.get("type")
        media = item.find("media:content", NS)
        if media is not None:
            check_media(media, article)
        elif article.image is not None:
            assert not RFC2396_FULL.match(article.image.url)  # left out only when refused
        if item.find("enclosure") is None and media is not None:
            url = media.get("url", "")
            assert media.get("type") is None or not HTTP_URL.match(url)
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0, parsed.get("bozo_exception")


def check_atom(document: bytes, articles: list[Article]) -> None:
    root = etree.fromstring(document)
    check_elements(root, ATOM_ALLOWED)
    entries = root.findall("atom:entry", NS)
    assert len(entries) == len(articles)
    for entry, article in zip(entries, articles, strict=True):
        rels = {link.get("rel"): link.get("href") for link in entry.findall("atom:link", NS)}
        # RFC 4946 §2.1: an entry without a licence of its own says "unspecified", so it
        # does not inherit the feed's.
        assert rels.get("license") == LICENCES[article.licence].url or UNSPECIFIED
        media = entry.find("media:content", NS)
        if media is not None:
            check_media(media, article)
        elif article.image is not None:
            assert not RFC2396_FULL.match(article.image.url)
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0, parsed.get("bozo_exception")


@st.composite
def hostile_articles(draw: Any, publisher: Publisher) -> list[Article]:
    """1–3 articles as ingest accepts them (records it refuses are skipped)."""
    articles: list[Article] = []
    for n in range(draw(st.integers(1, 3))):
        image: dict[str, Any] = {
            "url": f"https://{draw(HOSTS)}{draw(PATHS)}",
            "caption": draw(TEXT),
            "credit": draw(TEXT),
        }
        if draw(st.booleans()):
            image["licence"] = draw(LICENCE)
        record = {
            "url": f"https://insightcrime.org/news/{n}/",
            "title": draw(TEXT),
            "summary": draw(TEXT),
            "body_html": draw(TEXT),
            "authors": [draw(TEXT)],
            "topics": [draw(TEXT)],
            "published_at": f"2026-11-{n + 1:02d}T12:00:00-05:00",
            "licence": draw(LICENCE),
            "image": image,
        }
        try:
            articles.append(article_from_data(record, publisher, NOW))
        except ValidationError:
            continue
    return articles


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_accepted_input_gives_feeds_within_the_validators_rules(
    publisher: Publisher, data: st.DataObject
) -> None:
    articles = data.draw(hostile_articles(publisher))
    for attributed in (False, True):  # public and partner feeds share the builders
        check_rss(build_rss(spec("rss", attributed), articles), articles)
        check_atom(build_atom(spec("atom", attributed), articles), articles)


def test_https_enclosures_stay_and_only_refused_hosts_lose_them(publisher: Publisher) -> None:
    """https is accepted by the validator's enclosure check: only the host shapes it refuses
    move the image to media:content alone, and an IPv6 literal leaves the item without one."""
    urls = {
        "https://cdn.example/a.jpg": (True, True),
        "http://cdn.example/a.jpg": (True, True),
        "https://cdn.example:8443/a.jpg": (True, True),
        "https://localhost/a.jpg": (False, True),
        "https://img_host.example/a.jpg": (False, True),
        "https://cdn.example./a.jpg": (False, True),
        "https://[2001:db8::1]/a.jpg": (False, False),
    }
    for url, (enclosure, media) in urls.items():
        record = {
            "url": "https://insightcrime.org/news/x/",
            "title": "T",
            "body_html": "<p>B</p>",
            "published_at": "2026-11-01T12:00:00Z",
            "image": {"url": url, "licence": "CC-BY-4.0"},
        }
        article = article_from_data(record, publisher, NOW)
        assert article.image is not None and article.image.url == url  # ingest accepts it
        item = etree.fromstring(build_rss(spec("rss", False), [article])).find("channel/item")
        assert (item.find("enclosure") is not None) is enclosure, url
        assert (item.find("media:content", NS) is not None) is media, url
        check_rss(build_rss(spec("rss", False), [article]), [article])
        check_atom(build_atom(spec("atom", False), [article]), [article])
