"""Sanitising article bodies before they are stored.

Every body goes out again in feeds, partner pulls and email, where a stray ``<script>`` or
``onclick`` would run on somebody else's site, and a relative link would point at the
partner's own domain. So the body is cut down to an allow-list of article markup (nh3, i.e.
ammonia) and every link is made absolute against the article's own URL here, once.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import nh3

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")

TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "hr", "h2", "h3", "h4", "h5", "h6",
        "a", "em", "strong", "b", "i", "u", "s", "small", "mark", "q", "cite", "abbr",
        "sub", "sup", "code", "pre", "kbd", "time", "span", "div",
        "ul", "ol", "li", "dl", "dt", "dd", "blockquote",
        "figure", "figcaption", "img", "picture",
        "table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td",
    }
)  # fmt: skip
"""What article bodies use. No ``h1`` (the title is the page's h1), no forms, no media embeds."""

ATTRIBUTES: dict[str, set[str]] = {
    # ``dir`` on any element: right-to-left paragraphs (Arabic, Hebrew) read backwards without
    # it. Its values are checked in the attribute filter (``DIRECTIONS``).
    "*": {"dir"},
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "time": {"datetime"},
    "ol": {"start", "reversed"},
    "li": {"value"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "col": {"span"},
    "colgroup": {"span"},
}

# Removed together with everything inside them; the rest of unknown tags keep their text.
CLEAN_CONTENT_TAGS: frozenset[str] = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math",
     "form", "button", "select", "textarea", "head", "title"}
)  # fmt: skip

DIRECTIONS: frozenset[str] = frozenset({"ltr", "rtl", "auto"})
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
# nh3's output is normalised (double-quoted attributes), so an <img> left without a src
# after its data: or javascript: URL was dropped can be found with a plain pattern.
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")


def strip_control(text: str) -> str:
    """Replace C0/C1 control characters (tab and newline stay) with a space: they break XML
    feeds and email, and where a source put one it usually separated two words."""
    return _CONTROL.sub(" ", text)


def absolute_url(url: str, base_url: str) -> str | None:
    """``url`` resolved against ``base_url`` if the result is http(s) or mailto, else None.

    Control characters are dropped here, not spaced: a URL has no words to keep apart.
    """
    url = _CONTROL.sub("", url).strip()
    if not url:
        return None
    try:
        resolved = urljoin(base_url, url)
        scheme = urlsplit(resolved).scheme.lower()
    except ValueError:
        return None
    return resolved if scheme in URL_SCHEMES else None


def sanitise_html(html: str, base_url: str) -> str:
    """Return ``html`` reduced to safe article markup with absolute links.

    nh3 already refuses ``javascript:``/``data:`` and event-handler attributes; the
    attribute filter resolves relative ``href``/``src``/``cite`` against ``base_url`` and
    checks the scheme again, so what is stored can be pasted into any page as it is.
    """

    def _filter(tag: str, attribute: str, value: str) -> str | None:
        if attribute in _URL_ATTRIBUTES:
            return absolute_url(value, base_url)
        if attribute == "dir":
            direction = value.strip().lower()
            return direction if direction in DIRECTIONS else None
        return strip_control(value)

    cleaned = nh3.clean(
        strip_control(html),
        tags=set(TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes=ATTRIBUTES,
        attribute_filter=_filter,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener",
        strip_comments=True,
    )
    return _IMG_WITHOUT_SRC.sub("", cleaned).strip()
