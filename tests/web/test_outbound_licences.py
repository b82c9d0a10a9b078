"""Every way an article leaves the service states its own licence exactly (issue #15).

One article per licence in ``syndication.licences`` and per language (English, Spanish), each
with a change recorded at import, goes through the real app on a real Redis: public RSS,
Atom and JSON feeds, partner feeds in every format (ninjs included), the digest email, the
archive page and the republish page. For each outbound item the test checks:

- the licence's exact name and version, and its deed (canonical URI) linked;
- all rights reserved: said in words, no CC licence anywhere, and nothing inherited from a
  feed-level licence (RSS channel, Atom feed: RFC 4946 §2.4; CC RSS module);
- the publisher's required links: the original at the top and the bottom of a partner copy,
  the original in a feed footer, the republish page from the digest;
- a note of changes in the article's language wherever the text differs from the source.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import lxml.etree
import lxml.html
import pytest
from fastapi.testclient import TestClient

from syndication.changes import note_of_changes
from syndication.context import Context
from syndication.licences import LICENCES, Licence, deed_url, display_name
from syndication.models import Article
from syndication.render.atom import UNSPECIFIED
from syndication.render.attribution import inspect_attribution
from syndication.render.digest_email import DigestSegment, render_digest
from syndication.web.app import create_app
from tests.support import article_data

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "cc": "http://backend.userland.com/creativeCommonsRssModule",
    "dc": "http://purl.org/dc/elements/1.1/",
}
PUBLIC = "http://testserver"
# What the importer records for a page it cut chrome from (syndication.changes).
CHANGES = ["removed page navigation", "removed 2 'See also' links"]
SPANISH_CHANGE = "se quitó la navegación de la página"
LANGUAGES = ("en", "es")


def _articles() -> list[Article]:
    out = []
    for i, spdx in enumerate(sorted(LICENCES)):
        for j, language in enumerate(LANGUAGES):
            n = 2 * i + j + 1
            slug = f"{spdx.lower()}-{language}"
            data = article_data(
                n,
                url=f"https://insightcrime.org/news/{slug}/",
                title=f"Story under {spdx} ({language})",
                language=language,
                licence=spdx,
                changes=CHANGES,
                published_at=f"2026-11-{(n % 28) + 1:02d}T12:00:00+00:00",
            )
            out.append(Article.model_validate(data))
    return out


ARTICLES = _articles()
BY_URL = {a.url: a for a in ARTICLES}


@pytest.fixture
def app(context: Context) -> TestClient:
    for article in ARTICLES:
        context.articles.accept(article)
    context.feeds.rebuild_dirty()
    return TestClient(create_app(context))


def note(article: Article) -> str:
    found = note_of_changes(article.changes, article.language)
    assert found is not None
    return found


def names_licence(text: str, lic: Licence) -> None:
    """The exact name, the version and the deed, or (all rights reserved) no CC at all."""
    if lic.url is None:
        assert "All rights reserved" in text or "Todos los derechos reservados" in text
        assert "creativecommons.org" not in text
        return
    assert lic.name in text, lic.spdx
    if lic.version:
        assert lic.version in text
    assert lic.url in text, lic.spdx


def check_footer(html: str, article: Article) -> None:
    """A public feed item's full text: licence, a link to the original, the note."""
    lic = LICENCES[article.licence]
    names_licence(html, lic)
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    assert article.url in [a.get("href") for a in root.iter("a")]
    licence_links = [a.get("href") for a in root.iter("a") if a.get("rel") == "license"]
    assert licence_links == ([lic.url] if lic.url else [])
    assert note(article) in " ".join(root.text_content().split())
    if article.language == "es":
        assert "se publicó originalmente en" in html and SPANISH_CHANGE in html
        assert "was first published" not in html and "modified" not in html


def check_partner_copy(html: str, article: Article) -> None:
    """A partner copy: the original at the top and the bottom, the licence, the note."""
    lic = LICENCES[article.licence]
    found = inspect_attribution(html)
    assert found.top_url == article.url
    assert article.url in found.bottom_urls
    assert found.licence_url == lic.url and found.licence_name == lic.name
    assert found.changes is not None and note(article).removesuffix(".") in found.changes
    names_licence(html, lic)
    if article.language == "es":
        assert SPANISH_CHANGE in found.changes


# --- public feeds -------------------------------------------------------------------------


def test_public_feeds_state_each_items_own_licence(app: TestClient) -> None:
    rss = lxml.etree.fromstring(app.get("/feeds/all.rss").content)
    channel = rss.find("channel")
    assert channel is not None
    # An all-rights-reserved item is in the feed: a channel licence would be inherited by it.
    assert channel.find("cc:license", NS) is None
    items = channel.findall("item")
    assert {i.findtext("link") for i in items} == set(BY_URL)
    for item in items:
        article = BY_URL[item.findtext("link") or ""]
        lic = LICENCES[article.licence]
        assert [e.text for e in item.findall("cc:license", NS)] == ([lic.url] if lic.url else [])
        assert item.findtext("dc:rights", namespaces=NS) == (
            "All rights reserved" if lic.url is None else f"{lic.name} — {lic.url}"
        )
        check_footer(item.findtext("content:encoded", namespaces=NS) or "", article)

    atom = lxml.etree.fromstring(app.get("/feeds/all.atom").content)
    entries = atom.findall("atom:entry", NS)
    assert len(entries) == len(ARTICLES)
    for entry in entries:
        links = {link.get("rel"): link.get("href") for link in entry.findall("atom:link", NS)}
        article = BY_URL[links["alternate"]]
        lic = LICENCES[article.licence]
        assert links["license"] == (lic.url or UNSPECIFIED)  # RFC 4946 §2.1, §2.4
        rights = entry.findtext("atom:rights", namespaces=NS) or ""
        names_licence(rights, lic)
        check_footer(entry.findtext("atom:content", namespaces=NS) or "", article)

    feed = json.loads(app.get("/feeds/all.json").content)
    assert len(feed["items"]) == len(ARTICLES)
    for item in feed["items"]:
        article = BY_URL[item["url"]]
        lic = LICENCES[article.licence]
        ext = item["_syndication"]
        assert ext["licence"] == {"id": lic.spdx, "name": lic.name, "url": lic.url}
        assert ext["changes"] == note(article)
        names_licence(ext["attribution"], lic)
        check_footer(item["content_html"], article)


# --- partner feeds --------------------------------------------------------------------------


def test_partner_feeds_in_every_format(app: TestClient, context: Context) -> None:
    _, key = context.partners.keys.add("Outlet", now=context.clock())
    auth = {"Authorization": f"Bearer {key}"}
    shared = {a.url for a in ARTICLES if LICENCES[a.licence].republishable}

    rss = lxml.etree.fromstring(app.get("/partners/feeds/all.rss", headers=auth).content)
    items = rss.findall("channel/item")
    assert {i.findtext("link") for i in items} == shared  # never all rights reserved
    for item in items:
        article = BY_URL[item.findtext("link") or ""]
        check_partner_copy(item.findtext("content:encoded", namespaces=NS) or "", article)

    atom = lxml.etree.fromstring(app.get("/partners/feeds/all.atom", headers=auth).content)
    for entry in atom.findall("atom:entry", NS):
        links = {link.get("rel"): link.get("href") for link in entry.findall("atom:link", NS)}
        article = BY_URL[links["alternate"]]
        assert links["license"] == LICENCES[article.licence].url
        check_partner_copy(entry.findtext("atom:content", namespaces=NS) or "", article)

    feed = json.loads(app.get("/partners/feeds/all.json", headers=auth).content)
    assert {i["url"] for i in feed["items"]} == shared
    for item in feed["items"]:
        check_partner_copy(item["content_html"], BY_URL[item["url"]])

    ninjs = json.loads(app.get("/partners/feeds/all.ninjs", headers=auth).content)
    assert len(ninjs["associations"]) == len(shared)
    for item in ninjs["associations"]:
        article = BY_URL[item["altids"][0]["value"]]
        lic = LICENCES[article.licence]
        html = next(b["value"] for b in item["bodies"] if b["contenttype"] == "text/html")
        check_partner_copy(html, article)
        assert item["rightsinfo"] == {"linkedrights": lic.url}
        usage = item["usageterms"]  # in the article's language, as the digest words it
        assert display_name(lic, article.language) in usage and lic.short_name in usage
        assert deed_url(lic, article.language) in usage and note(article) in usage
        # The plain-text copy: same attribution, every link spelled out.
        text = item["body_text"]
        assert text.splitlines()[0].endswith(article.url) and "<" not in text
        assert lic.url is not None and lic.url in text and article.url in text
        assert note(article).removesuffix(".") in text


# --- digest and archive ---------------------------------------------------------------------


def check_digest_item(page: str, article: Article, locale: str, republish: bool) -> None:
    """A digest story: the licence as the reader's language names it, with its version and
    deed, what NonCommercial forbids, and the republish page for a republishable one."""
    lic = LICENCES[article.licence]
    flat = " ".join(page.split())
    if lic.url is None:
        assert "All rights reserved" in flat or "Todos los derechos reservados" in flat
        return
    assert display_name(lic, locale) in flat, lic.spdx
    assert lic.short_name in flat
    assert deed_url(lic, locale) in page
    if not lic.commercial:
        assert ("non-commercial" if locale == "en" else "no comerciales") in flat
    if not lic.derivatives:
        assert ("unchanged" if locale == "en" else "sin cambios") in flat
    link = f"{PUBLIC}/republish/{article.id}"
    assert (link in page) == republish


@pytest.mark.parametrize("language", LANGUAGES)
def test_digest_email_and_archive_page(app: TestClient, context: Context, language: str) -> None:
    stories = [a for a in ARTICLES if a.language == language]
    segment = DigestSegment(
        edition_id="daily-2026-12-01",
        frequency="daily",
        language=language,
        topics=(),
        articles=tuple(stories),
    )
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    rendered = render_digest(segment, context.settings.publisher, PUBLIC, now)
    html, text = rendered.fill(f"{PUBLIC}/unsubscribe/T", f"{PUBLIC}/preferences/T")
    for article in stories:
        republishable = LICENCES[article.licence].republishable
        check_digest_item(_story(html, article), article, language, republishable)
        check_digest_item(_story_text(text, article), article, language, republishable)

    # The archive page is the same story list, served by the app.
    for address in ("reader-en@example.org", "reader-es@example.org"):
        lang = address[7:9]
        context.subscriptions.subscribe(address, "daily", (), lang, source="test")
        sub = context.subscriber_store.get_by_email(address)
        assert sub is not None
        context.subscriber_store.confirm(sub.id, context.clock())
    created = context.digests.create_edition(
        "daily", context.clock(), since=datetime(2026, 10, 1, tzinfo=UTC)
    )
    assert created.edition_id
    page = app.get(f"/archive/{created.edition_id}?segment={language}")
    assert page.status_code == 200
    for article in stories:
        republishable = LICENCES[article.licence].republishable
        check_digest_item(_story(page.text, article), article, language, republishable)


def _story(html: str, article: Article) -> str:
    """The digest's block for one story: from its title to the next story's."""
    root = lxml.html.fromstring(html)
    for block in root.iter("div"):
        if "display:none" in (block.get("style") or "").replace(" ", ""):
            continue  # the preheader: the lead's summary, hidden
        # Long lines are wrapped at spaces (RFC 5322): a title may span two of them.
        text = " ".join(block.text_content().split())
        if article.title in text and text.count("Story under") == 1 and "Story under" in text:
            return lxml.html.tostring(block, encoding="unicode")
    raise AssertionError(f"no block for {article.title}")


def _story_text(text: str, article: Article) -> str:
    start = text.index(article.title)
    end = text.find("Story under", start + len(article.title))
    return text[start : end if end > 0 else None]


# --- the republish page ---------------------------------------------------------------------


def test_republish_page_for_every_republishable_licence(app: TestClient) -> None:
    for article in ARTICLES:
        lic = LICENCES[article.licence]
        response = app.get(f"/republish/{article.id}")
        if not lic.republishable:
            assert response.status_code == 404
            continue
        assert response.status_code == 200
        page = lxml.html.fromstring(response.text)
        html_copy, text_copy = (t.text_content() for t in page.iter("textarea"))
        check_partner_copy(html_copy, article)
        check_partner_copy(lxml.html.tostring(page, encoding="unicode"), article)
        assert text_copy.splitlines()[0].endswith(article.url)
        assert lic.url is not None and lic.url in text_copy
        assert note(article).removesuffix(".") in text_copy
        terms = " ".join(page.find_class("terms")[0].text_content().split())
        assert lic.name in terms and lic.short_name in terms
        if not lic.commercial:
            assert "non-commercial" in terms
        links = [a.get("href") for a in page.iter("a") if a.get("rel") == "license"]
        assert lic.url in links
