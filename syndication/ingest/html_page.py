"""Articles from a saved or fetched HTML article page.

Metadata is read from the most deliberate source first: schema.org JSON-LD (what news
CMSs and SEO plugins emit for search engines, ``@graph`` included), then OpenGraph and
``article:*`` meta tags (https://ogp.me/), then the page itself (``<h1>``, ``<title>``,
``<link rel=canonical>``, ``<html lang>``). The body is the ``itemprop=articleBody``
element, else the largest ``<article>``, else the main content block, with the page
chrome (navigation, share/donate/newsletter boxes, forms, related posts) cut out before
the sanitiser sees it — the sanitiser keeps text, so chrome must go here. What was cut
that a reader would have seen (a block with text) is recorded in ``changes``
(``syndication.changes``), so every copy notes that it differs from the page.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, tzinfo
from typing import Any

import lxml.html
from lxml import etree
from lxml.html import HtmlElement as Element

from syndication import changes as note
from syndication.config import Publisher
from syndication.ingest.common import (
    language_code,
    licence_from_url,
    paragraphs_html,
    parse_datetime,
    publisher_tz,
    squash,
)
from syndication.ingest.normalise import IngestError, article_from_data
from syndication.ingest.sanitise import absolute_url
from syndication.models import Article

_CHROME_TAGS = (
    "nav", "aside", "footer", "header", "form", "script", "style", "noscript", "template",
    "button", "input", "select", "textarea", "svg", "dialog", "h1", "link", "meta",
)  # fmt: skip
_CHROME_WORDS = frozenset(
    {
        "share", "sharing", "social", "donate", "donation", "newsletter", "subscribe",
        "subscription", "signup", "related", "comments", "comment", "advert", "advertisement",
        "ad", "ads", "promo", "sidebar", "breadcrumb", "breadcrumbs", "byline", "meta", "tags",
        "author", "bio", "popup", "modal", "cookie", "paywall", "print", "toolbar", "widget",
        "sponsor", "banner", "pagination", "navigation", "menu", "feedback", "helpful",
        "dateline", "timestamp",
    }
)  # fmt: skip
_CHROME_TOKENS = frozenset({"sharedaddy", "addtoany", "jp-relatedposts", "yarpp-related"})
# Chrome a reader never sees: cutting it changes nothing worth a note.
_UNSEEN_TAGS = frozenset(
    {"script", "style", "noscript", "template", "link", "meta", "input", "svg", "h1"}
)
# How the note names what was cut, by the words of its tag, class or id; page navigation
# for everything else.
_CHANGE_WORDS = {
    **dict.fromkeys(("share", "sharing", "social", "sharedaddy", "addtoany"), note.SHARE),
    **dict.fromkeys(("donate", "donation"), note.DONATION),
    **dict.fromkeys(("newsletter", "subscribe", "subscription", "signup", "form"), note.NEWSLETTER),
    **dict.fromkeys(("related", "jp-relatedposts", "yarpp-related"), note.RELATED),
    **dict.fromkeys(("comments", "comment"), note.COMMENTS),
    **dict.fromkeys(("advert", "advertisement", "ad", "ads", "sponsor", "promo"), note.ADVERTS),
}
_CHANGE_ORDER = (
    note.NAVIGATION, note.SHARE, note.DONATION, note.NEWSLETTER, note.RELATED, note.COMMENTS,
    note.ADVERTS,
)  # fmt: skip
_CHROME_ROLES = frozenset({"navigation", "complementary", "banner", "contentinfo", "search"})
_CONTENT_TOKENS = frozenset(
    {
        "entry-content", "post-content", "article-content", "article-body", "articlebody",
        "story-body", "story-content", "content-body", "post-body", "td-post-content",
        "single-content", "c-article-body",
    }
)  # fmt: skip
_SPLIT = re.compile(r"[-_\s]+")
_BLANK_LINES = re.compile(r"[ \t\r]*\n\s*")
_TITLE_SEPARATORS = re.compile(r"\s+[|–—\-·:]\s+")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._-]+)""", re.IGNORECASE)


def parse_html_page(
    page: str | bytes,
    publisher: Publisher,
    url: str | None = None,
    now: datetime | None = None,
) -> Article:
    """Recover the article from an HTML page; ``url`` overrides the page's own; ``now``
    bounds its dates (``article_from_data``).

    Raises ``IngestError`` when the page lacks a URL, title, date or body, and pydantic's
    ``ValidationError`` when what was recovered is not a valid Article.
    """
    doc = _parse(page)
    ld = _JsonLd(doc)
    meta = _meta_tags(doc)
    page_url = _page_url(doc, ld, meta, url)
    title = _title(doc, ld, meta, publisher)
    published, updated = _dates(doc, ld, meta, publisher_tz(publisher))
    body_html, changes = _body(doc)
    body_html = body_html or paragraphs_html(
        [squash(p) for p in (ld.text("articleBody") or "").split("\n") if p.strip()]
    )
    if not body_html:
        raise IngestError("no article body found (articleBody, <article> or main content)")
    data: dict[str, Any] = {
        "url": page_url,
        "title": title,
        "body_html": body_html,
        "published_at": published,
        "updated_at": updated,
        **_classification(doc, ld, meta, publisher),
        "changes": changes,
    }
    summary = ld.text("description") or _first(meta, "og:description", "description")
    if summary:
        data["summary"] = summary
    image = ld.image() or _og_image(meta)
    if image:
        data["image"] = image
    return article_from_data(data, publisher, now)


# -- metadata, most deliberate source first ----------------------------------------------


def _page_url(doc: Element, ld: _JsonLd, meta: dict[str, list[str]], url: str | None) -> str:
    """``url`` if given, else the page's canonical URL (JSON-LD, og:url, rel=canonical)."""
    page_url = (
        url
        or ld.url()
        or _first(meta, "og:url")
        or _attr(doc, "//link[translate(@rel,'CANONICAL','canonical')='canonical']", "href")
    )
    if not page_url:
        raise IngestError("the page names no canonical URL (JSON-LD, og:url): --url is needed")
    return absolute_url(page_url, page_url) or page_url


def _title(doc: Element, ld: _JsonLd, meta: dict[str, list[str]], publisher: Publisher) -> str:
    """The headline, without the " | Site name" that og:title and <title> often carry."""
    site_names = {publisher.name.lower(), publisher.attribution_name.lower()}
    site_names |= {s.lower() for s in meta.get("og:site_name", [])}
    title = (
        ld.text("headline", "name")
        or _strip_site(_first(meta, "og:title", "twitter:title"), site_names)
        or _text(doc, "//h1")
        or _strip_site(_text(doc, "//title"), site_names)
    )
    if not title:
        raise IngestError("the page has no title (JSON-LD headline, og:title, <h1>, <title>)")
    return title


def _dates(
    doc: Element, ld: _JsonLd, meta: dict[str, list[str]], tz: tzinfo
) -> tuple[datetime, datetime | None]:
    """(published, updated); dates without an offset are in the publisher's time zone, and
    an update before the publication is dropped."""
    published = parse_datetime(
        ld.text("datePublished", "dateCreated")
        or _first(meta, "article:published_time", "datepublished", "date", "dc.date", "pubdate")
        or _attr(doc, "//time[@datetime]", "datetime"),
        tz,
    )
    if published is None:
        raise IngestError(
            "the page has no publication date "
            "(JSON-LD datePublished, article:published_time or <time datetime>)"
        )
    updated = parse_datetime(
        ld.text("dateModified") or _first(meta, "article:modified_time", "og:updated_time"), tz
    )
    if updated is not None and updated < published:
        updated = None
    return published, updated


def _classification(
    doc: Element, ld: _JsonLd, meta: dict[str, list[str]], publisher: Publisher
) -> dict[str, Any]:
    """Authors, language, section, topics and licence, each with the publisher's default
    where the page has none."""
    return {
        "authors": ld.authors() or _meta_authors(meta),
        "language": language_code(ld.text("inLanguage"))
        or language_code(_first(meta, "og:locale"))
        or language_code(_attr(doc, "/html", "lang"))
        or publisher.language,
        "section": ld.text("articleSection") or _first(meta, "article:section") or None,
        "topics": ld.keywords() or [squash(t) for t in meta.get("article:tag", [])],
        "licence": licence_from_url(ld.text("license"))
        or licence_from_url(_attr(doc, "//*[@rel='license']", "href"))
        or publisher.licence,
    }


# -- parsing ---------------------------------------------------------------------------


def _parse(page: str | bytes) -> Element:
    if isinstance(page, bytes):
        page = _decode(page)
    page = re.sub(r"^\s*<\?xml[^>]*>", "", page)
    if not page.strip():
        raise IngestError("the page is empty")
    try:
        return lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError) as exc:
        raise IngestError(f"not an HTML page: {exc}") from None


def _decode(raw: bytes) -> str:
    """UTF-8 unless the page says otherwise (BOM or ``<meta charset>``)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    match = _CHARSET.search(raw[:4096])
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        return raw.decode(encoding, errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _text(doc: Element, xpath: str) -> str:
    for el in doc.xpath(xpath):
        text = squash(str(el.text_content()))
        if text:
            return text
    return ""


def _attr(doc: Element, xpath: str, name: str) -> str:
    for el in doc.xpath(xpath):
        value = el.get(name)
        if value and value.strip():
            return str(value).strip()
    return ""


def _meta_tags(doc: Element) -> dict[str, list[str]]:
    """``<meta property|name|itemprop=… content=…>`` by lower-cased key, in page order."""
    found: dict[str, list[str]] = {}
    for el in doc.xpath("//meta[@content]"):
        key = el.get("property") or el.get("name") or el.get("itemprop")
        value = squash(el.get("content") or "")
        if key and value:
            found.setdefault(key.strip().lower(), []).append(value)
    return found


def _first(meta: dict[str, list[str]], *keys: str) -> str:
    for key in keys:
        if meta.get(key):
            return meta[key][0]
    return ""


def _strip_site(title: str, site_names: set[str]) -> str:
    """``Headline | InSight Crime`` → ``Headline``."""
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) > 1 and parts[-1].strip().lower() in site_names:
        return title[: title.rfind(parts[-1])].rstrip(" |–—-·:")
    return title


def _meta_authors(meta: dict[str, list[str]]) -> list[str]:
    names = [a for a in meta.get("article:author", []) if not a.startswith(("http:", "https:"))]
    return names or meta.get("author", [])[:1]


def _og_image(meta: dict[str, list[str]]) -> dict[str, str] | None:
    src = _first(meta, "og:image:secure_url", "og:image", "twitter:image")
    if not src:
        return None
    return {"url": src, "caption": _first(meta, "og:image:alt", "twitter:image:alt")}


# -- JSON-LD -----------------------------------------------------------------------------


def _types(node: dict[str, Any]) -> list[str]:
    value = node.get("@type", [])
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]


def _is_article(node: dict[str, Any]) -> bool:
    return any(t.endswith(("Article", "BlogPosting", "Report")) for t in _types(node))


class _JsonLd:
    """The page's first article node, with ``@id`` references into ``@graph`` resolved."""

    def __init__(self, doc: Element) -> None:
        nodes: list[dict[str, Any]] = []
        for script in doc.xpath("//script[@type]"):
            if script.get("type", "").split(";")[0].strip().lower() != "application/ld+json":
                continue
            try:
                _collect(json.loads(script.text or "", strict=False), nodes)
            except ValueError:
                continue  # broken JSON-LD is common; the meta tags still count
        self.ids = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str)}
        self.node: dict[str, Any] = next((n for n in nodes if _is_article(n)), {})

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("@id"), str):
            return {**self.ids.get(value["@id"], {}), **value}
        return value

    def text(self, *keys: str) -> str:
        for key in keys:
            value = self.resolve(self.node.get(key))
            if isinstance(value, list):
                value = value[0] if value else None
            if isinstance(value, dict):
                value = value.get("name") or value.get("alternateName") or value.get("@id")
            if isinstance(value, str | int | float) and squash(str(value)):
                return squash(str(value))
        return ""

    def url(self) -> str:
        value = self.node.get("url") or self.resolve(self.node.get("mainEntityOfPage"))
        if isinstance(value, dict):
            value = value.get("url") or value.get("@id")
        return value.strip() if isinstance(value, str) else ""

    def authors(self) -> list[str]:
        names: list[str] = []
        for author in _as_list(self.node.get("author")):
            author = self.resolve(author)
            name = author.get("name") if isinstance(author, dict) else author
            if isinstance(name, str) and squash(name):
                names.append(squash(name))
        return names

    def keywords(self) -> list[str]:
        value = self.node.get("keywords")
        if isinstance(value, str):
            return [squash(k) for k in value.split(",") if k.strip()]
        return [squash(k) for k in _as_list(value) if isinstance(k, str) and k.strip()]

    def image(self) -> dict[str, str] | None:
        for image in _as_list(self.node.get("image")):
            image = self.resolve(image)
            if isinstance(image, str) and image.strip():
                return {"url": image.strip()}
            if isinstance(image, dict):
                src = image.get("contentUrl") or image.get("url")
                if isinstance(src, str) and src.strip():
                    found = {"url": src.strip(), "caption": _str(image.get("caption"))}
                    credit = _str(image.get("creditText")) or _str(
                        self.resolve(image.get("copyrightHolder"))
                    )
                    if credit:
                        found["credit"] = credit
                    licence = licence_from_url(image.get("license"))
                    if licence:
                        found["licence"] = licence
                    return found
        return None


def _collect(data: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(data, list):
        for item in data:
            _collect(item, out)
    elif isinstance(data, dict):
        out.append(data)
        if "@graph" in data:
            _collect(data["@graph"], out)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _str(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name") or value.get("text")
    return squash(value) if isinstance(value, str) else ""


# -- body --------------------------------------------------------------------------------


def _tokens(el: Element) -> set[str]:
    raw = f"{el.get('class') or ''} {el.get('id') or ''}".lower().split()
    return set(raw)


def _is_chrome(el: Element) -> bool:
    if not isinstance(el.tag, str):
        return False
    if el.tag in _CHROME_TAGS or (el.get("role") or "").lower() in _CHROME_ROLES:
        return True
    tokens = _tokens(el)
    if tokens & _CHROME_TOKENS:
        return True
    parts = {part for token in tokens for part in _SPLIT.split(token) if part}
    if parts & _CHROME_WORDS:
        return True
    style = (el.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or el.get("hidden") is not None


def _text_length(el: Element) -> int:
    return len(squash(str(el.text_content())))


def _body_root(doc: Element) -> Element | None:
    found: list[Element] = doc.xpath("//*[@itemprop='articleBody']")
    if found:
        return found[0]
    for el in doc.iter():
        if isinstance(el.tag, str) and _tokens(el) & _CONTENT_TOKENS:
            return el
    articles: list[Element] = doc.xpath("//article")
    if articles:
        return max(articles, key=_text_length)
    mains: list[Element] = doc.xpath("//main|//*[@role='main']")
    if mains:
        return mains[0]
    # The block whose own paragraphs hold the most text.
    best: Element | None = None
    best_len = 0
    for el in doc.iter("div", "section"):
        length = sum(_text_length(p) for p in el if isinstance(p.tag, str) and p.tag == "p")
        if length > best_len:
            best, best_len = el, length
    return best


def _change_of(el: Element) -> str | None:
    """How the note of changes names cutting ``el``; None for what no reader saw."""
    if el.tag in _UNSEEN_TAGS or not _text_length(el):
        return None
    style = (el.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or el.get("hidden") is not None:
        return None
    words = {el.tag, *_tokens(el)}
    words |= {part for token in _tokens(el) for part in _SPLIT.split(token) if part}
    found = [_CHANGE_WORDS[w] for w in sorted(words) if w in _CHANGE_WORDS]
    return found[0] if found else note.NAVIGATION


def _body(doc: Element) -> tuple[str, list[str]]:
    """The body's HTML and the note-of-changes phrases for the chrome cut out of it."""
    root = _body_root(doc)
    if root is None:
        return "", []
    cut: set[str] = set()
    for el in list(root.iterdescendants()):
        if el.getparent() is not None and _is_chrome(el):
            change = _change_of(el)
            if change:
                cut.add(change)
            el.drop_tree()
    for img in root.iter("img"):
        lazy = img.get("data-src") or img.get("data-lazy-src") or img.get("data-original")
        if lazy and (not img.get("src") or img.get("src", "").startswith("data:")):
            img.set("src", lazy)
    changes = [c for c in _CHANGE_ORDER if c in cut]
    return (_inner_html(root), changes) if _text_length(root) else ("", [])


def _inner_html(el: Element) -> str:
    parts: list[str] = []
    if el.text:
        parts.append(html.escape(el.text, quote=False))
    parts.extend(_serialise(child) for child in el)
    html_text = "".join(parts).strip()
    # Indentation left where chrome was cut out; a newline is as good as any white space
    # in HTML, except inside <pre>.
    return html_text if "<pre" in html_text else _BLANK_LINES.sub("\n", html_text)


def _serialise(el: Element) -> str:
    return str(etree.tostring(el, encoding="unicode", method="html", with_tail=True))
