"""What every feed format shares: the feed's description, item identity, text cleaning,
licence terms and the attribution footer — computed once per article per build.

Pure: no clock, no I/O. Feed-level dates come from the items (Django's syndication
framework does the same), so the same articles always give the same bytes and ETag; the
caller's ``FeedSpec.as_of`` only bounds them (an item dated in 9999 never dates the feed).

One bad stored item never stops a build: an exception while building one item leaves that
item out (``build_skipping``), reports it to the caller's ``on_skip`` and the rest builds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from html import escape
from urllib.parse import urlsplit

import lxml.etree
import lxml.html

from syndication.changes import note_locale, note_of_changes
from syndication.i18n import N_, SOURCE, translations
from syndication.identity import feed_item_id
from syndication.licences import LICENCES, Licence, display_name
from syndication.models import Article
from syndication.render.feed_memo import ItemMemo

#: The class of the note of changes, as in partner copies (render/attribution.py).
CHANGES_CLASS = "syndication-changes"

log = logging.getLogger(__name__)

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: How far past ``FeedSpec.as_of`` an item's date may still move the feed's ``updated``:
#: a CMS clock a little ahead or a post scheduled for tomorrow counts (clamped to
#: ``as_of``), a date further ahead is an error that must not pin the feed's date.
FUTURE_SLACK = timedelta(days=1)

#: Media types per format: ``rel="alternate"``/``rel="self"`` link types and, with a
#: charset, the HTTP Content-Type the W3C validator expects.
MEDIA_TYPES: dict[str, str] = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
FORMAT_ORDER = ("rss", "atom", "json")

# XML 1.0 §2.2 Char minus what readers choke on: C0 controls (not TAB/LF/CR), DEL, C1,
# surrogates (cannot be encoded) and the non-characters U+FFFE/U+FFFF.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_C0_DEL = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20)) + b"\x7f"
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_NONCHAR_UTF8 = re.compile(rb"\xef\xbf[\xbe\xbf]")
_SHORT = 256
_TAGS = re.compile(r"<[^>]*>")

_IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


@dataclass(frozen=True)
class FeedLinks:
    """Where one feed document lives and what it links to; every URL absolute.

    ``hubs`` are WebSub hubs (W3C WebSub §4: ``rel="hub"`` next to ``rel="self"``);
    ``current``/``prev_archive``/``next_archive`` are RFC 5005 §4 archive links.
    """

    self_url: str
    alternates: Mapping[str, str]
    html_url: str
    hubs: tuple[str, ...] = ()
    current: str | None = None
    prev_archive: str | None = None
    next_archive: str | None = None


@dataclass(frozen=True)
class FeedSpec:
    """What a feed is about and who publishes it; the same spec builds all three formats.

    ``archive`` marks an RFC 5005 archive document (a page that will not change).
    ``attributed``: the items' bodies already carry the full attribution header and footer
    (partner copies, render/partner_copy.py), so the short feed footer is not added again.
    ``as_of``: when the caller builds (its clock, passed in); it bounds the feed-level date
    (:func:`feed_updated`). None: no bound.
    """

    name: str
    title: str
    description: str
    site_url: str
    language: str | None
    publisher: str
    licence: str
    links: FeedLinks
    archive: bool = False
    attributed: bool = False
    as_of: datetime | None = None


def xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot carry or readers choke on (lxml raises on most).

    Fast paths, because every title and body passes here on every build: printable text
    (``str.isprintable`` is false for every character we strip) is returned as is; long
    texts (bodies, which have newlines) are checked on their UTF-8 bytes, where
    ``bytes.translate`` and two literal-prefix searches are ~3× faster than a
    character-class regex over the text.
    """
    if text.isprintable():
        return text
    if len(text) < _SHORT:
        return _XML_INVALID.sub("", text) if _XML_INVALID.search(text) else text
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return _XML_INVALID.sub("", text)
    if len(data.translate(None, _C0_DEL)) != len(data) or (
        not text.isascii() and (_C1_UTF8.search(data) or _NONCHAR_UTF8.search(data))
    ):
        return _XML_INVALID.sub("", text)
    return text


def item_id(article: Article, site_url: str) -> str:
    """A tag URI (RFC 4151) from the site and the article id: stable across updates and URL
    changes, which is what feed readers key their read state on."""
    return _item_id(article, _host(site_url))


def _item_id(article: Article, host: str) -> str:
    # The date is the one the store fixed at first store (``feed_date``): correcting
    # ``published_at`` must not change the id. An article stored before ``feed_date``
    # existed has none until its next write, and was served with its publish date.
    day = article.feed_date or article.published_at.date()
    return feed_item_id(host, article.id, day)


@cache
def _host(site_url: str) -> str:
    return urlsplit(site_url).hostname or "localhost"


def feed_id(spec: FeedSpec) -> str:
    """The logical feed's id (RFC 4287 §4.2.6), the same on every RFC 5005 page of it and
    independent of where the feeds are served."""
    return f"tag:{_host(spec.site_url)},{EPOCH.year}:feed/{spec.name}"


def plain_excerpt(html: str, limit: int = 300) -> str:
    """Text of the first words of ``html``: the RSS description when there is no summary."""
    html = xml_safe(html)
    if not html.strip():
        return ""
    try:
        text = lxml.html.fromstring(html).text_content()
    except (lxml.etree.ParserError, ValueError):  # nothing parseable: drop tags by hand
        text = _TAGS.sub(" ", html)
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def feed_updated(articles: Sequence[Article], as_of: datetime | None = None) -> datetime:
    """The newest item's modification time, in UTC: the feed's ``updated``/``lastBuildDate``
    and the HTTP ``Last-Modified``; EPOCH for an empty feed (never the clock).

    With ``as_of`` (the build's time) a date up to ``FUTURE_SLACK`` ahead counts as
    ``as_of`` — HTTP forbids a Last-Modified later than the response, yet a new item must
    still move it, or If-Modified-Since clients would miss it — and a date further ahead
    (year 9999) is ignored: one bad item must not pin every feed's date. A date that has no
    UTC equivalent (year 1 at +14:00) is ignored; the builders skip that item anyway.
    """
    newest: datetime | None = None
    limit = None if as_of is None else as_of + FUTURE_SLACK
    for article in articles:
        when = _to_utc(article.modified)
        if when is None or (limit is not None and when > limit):
            continue
        if as_of is not None and when > as_of:
            when = as_of.astimezone(UTC)
        if newest is None or when > newest:
            newest = when
    return EPOCH if newest is None else newest


def _to_utc(when: datetime) -> datetime | None:
    """``when`` in UTC, or None when it is naive or overflows (year 1 at +14:00)."""
    if when.tzinfo is UTC:
        return when
    if when.tzinfo is None or when.utcoffset() is None:
        return None
    try:
        return when.astimezone(UTC)
    except OverflowError:
        return None


def utc(when: datetime) -> datetime:
    """``when`` in UTC; raises ValueError for a naive or unconvertible date (the item is
    then skipped), never guesses the machine's zone as ``astimezone`` does for naive ones."""
    converted = _to_utc(when)
    if converted is None:
        raise ValueError(f"date {when.isoformat()} has no UTC equivalent")
    return converted


#: The category (RSS, Atom) of an item under embargo in a partner feed.
EMBARGO_CATEGORY = "embargoed"


def iso_utc(when: datetime) -> str:
    """``2026-12-01T13:00:00Z``: the release time as the embargo marker writes it."""
    return utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_html(text: str) -> str:
    """Plain text made HTML that shows the same characters (RSS ``description``)."""
    return _text(text)


# What the W3C feed validator (feedvalidator's ``validators.py``) accepts, as regexes of our
# own with the same meaning. ``FULL_URI``: its ``rfc2396_full``, the check on ``media:content``
# ``url``, item links and licence URLs: a scheme, then only these ASCII characters (no "[" "]",
# so an IPv6-literal host fails). ``ENCLOSURE_URI``: its ``httpURL``, the stricter check on RSS
# ``<enclosure url>``: http or https (both accepted) with a host of dot-separated letter, digit
# and hyphen labels (or an IPv4 address), an optional port, then "/" or the end; a one-label host
# (``localhost``), "_" in a host, a trailing dot or an IPv6 literal is refused.
FULL_URI = re.compile(r"[a-zA-Z][0-9a-zA-Z+\-.]*:(//)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+\Z")
ENCLOSURE_URI = re.compile(
    r"(http|https)://(([0-9]{1,3}\.){3}|([A-Z0-9\-]+\.)+)[A-Z0-9][-A-Z0-9]*(:\d+)?(/|\Z)",
    re.IGNORECASE,
)


def media_url_ok(url: str) -> bool:
    """Whether the validator accepts ``url`` in ``media:content`` (a full URI)."""
    return FULL_URI.match(url) is not None


def enclosure_url_ok(url: str) -> bool:
    """Whether the validator accepts ``url`` as an RSS ``<enclosure url>``."""
    return ENCLOSURE_URI.match(url) is not None and media_url_ok(url)


def image_type(url: str) -> str | None:
    """The image media type from the URL path's extension, None when it does not say."""
    path = url.partition("?")[0].partition("#")[0]
    return _IMAGE_TYPES.get(path[path.rfind(".") :].lower()) if "." in path else None


# --- licences ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """A licence's strings, built once per licence (not per item per build)."""

    licence: Licence
    rights: str  # Atom <rights>, RSS <copyright>
    html: str  # the footer's licence sentence, escaped
    plain: str  # the plain-text credit line's licence sentence

    @property
    def url(self) -> str | None:
        return self.licence.url

    def json(self) -> dict[str, str | None]:
        return {"id": self.licence.spdx, "name": self.licence.name, "url": self.licence.url}


@cache
def terms(spdx: str) -> Terms:
    """Strings for the licence ``spdx`` (raises KeyError for an unknown id)."""
    lic = LICENCES[spdx]
    if spdx.startswith("CC") and lic.url:
        return Terms(
            lic,
            rights=f"{lic.name} — {lic.url}",
            html=(
                f'Republished under <a rel="license" href="{escape(lic.url, quote=True)}">'
                f"{escape(lic.name)}</a>."
            ),
            plain=f"Republished under {lic.name} ({lic.url}).",
        )
    text = "All rights reserved." if spdx == "all-rights-reserved" else f"Licence: {lic.name}."
    rights = "All rights reserved" if spdx == "all-rights-reserved" else lic.name
    return Terms(lic, rights=rights, html=escape(text), plain=text)


# --- attribution ------------------------------------------------------------------------

# Translators: %(title)s is the quoted title linked to the original, %(credits)s the authors
# and the publisher, %(url)s the original's address, linked.
_CREDIT_HTML = N_("%(title)s by %(credits)s was first published at %(url)s.")
# Translators: the plain-text twin of the feed footer's first sentence.
_CREDIT_PLAIN = N_("%(title)s by %(credits)s, first published at %(url)s.")
# Translators: %(licence)s is the licence's exact name (linked in HTML).
_REPUBLISHED = N_("Republished under %(licence)s.")
_REPUBLISHED_PLAIN = N_("Republished under %(licence)s (%(url)s).")
_LICENCE_ONLY = N_("Licence: %(licence)s.")


@dataclass(frozen=True)
class _FooterWords:
    """The footer's sentences for one licence in one language, made once per pair."""

    credit_html: str
    credit_plain: str
    licence_html: str
    licence_plain: str


@cache
def _footer_words(spdx: str, locale: str) -> _FooterWords:
    """The feed footer is worded in the article's language; the licence keeps its exact
    name and canonical URI (what identifies it, in every language), as ``rel="license"``."""
    gettext = translations(locale).gettext
    lic = LICENCES[spdx]
    if spdx.startswith("CC") and lic.url:
        link = f'<a rel="license" href="{escape(lic.url, quote=True)}">{escape(lic.name)}</a>'
        html = gettext(_REPUBLISHED) % {"licence": link}
        plain = gettext(_REPUBLISHED_PLAIN) % {"licence": lic.name, "url": lic.url}
    elif not lic.republishable:
        plain = display_name(lic, locale) + "."
        html = escape(plain)
    else:
        plain = gettext(_LICENCE_ONLY) % {"licence": lic.name}
        html = escape(plain)
    return _FooterWords(gettext(_CREDIT_HTML), gettext(_CREDIT_PLAIN), html, plain)


def _credit(authors: Sequence[str], publisher: str) -> str:
    return f"{', '.join(authors)}, {publisher}" if authors else publisher


def _text(value: str) -> str:
    """HTML-escape text content (``html.escape`` without the quote passes: 40% cheaper)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _footer(
    title: str,
    url: str,
    authors: Sequence[str],
    publisher: str,
    t: Terms,
    locale: str = SOURCE,
    note: str | None = None,
) -> str:
    href = escape(url, quote=True)
    words = _footer_words(t.licence.spdx, locale)
    credit = words.credit_html % {
        "title": f'&#8220;<a href="{href}">{_text(title)}</a>&#8221;',
        "credits": _text(_credit(authors, publisher)),
        "url": f'<a href="{href}">{_text(url)}</a>',
    }
    lang = "" if locale == SOURCE else f' lang="{locale}"'
    changes = f'<p class="attribution {CHANGES_CLASS}">{_text(note)}</p>' if note else ""
    return f'<hr/><p class="attribution"{lang}>{credit} {words.licence_html}</p>{changes}'


def _credit_line(
    title: str,
    url: str,
    authors: Sequence[str],
    publisher: str,
    t: Terms,
    locale: str = SOURCE,
    note: str | None = None,
) -> str:
    words = _footer_words(t.licence.spdx, locale)
    credit = words.credit_plain % {
        "title": f"“{title}”",
        "credits": _credit(authors, publisher),
        "url": url,
    }
    return f"{credit} {words.licence_plain}" + (f" {note}" if note else "")


def attribution_footer(article: Article, publisher: str) -> str:
    """The public feeds' attribution footer: title and URL linked to the original, authors,
    publisher (the article's own where it names one), the licence named and linked, and the
    note of changes when the text differs from the source; worded in the article's language.
    "Republished under" only for CC licences. Partner copies have fuller blocks
    (render/attribution.py)."""
    return _footer(
        xml_safe(article.title),
        xml_safe(article.url),
        [xml_safe(a) for a in article.authors],
        xml_safe(article.publisher or publisher),
        terms(article.licence),
        note_locale(article.language),
        _note(article),
    )


def attribution_text(article: Article, publisher: str) -> str:
    """The footer's plain-text twin (JSON Feed ``_syndication.attribution``)."""
    return _credit_line(
        xml_safe(article.title),
        xml_safe(article.url),
        [xml_safe(a) for a in article.authors],
        xml_safe(article.publisher or publisher),
        terms(article.licence),
        note_locale(article.language),
        _note(article),
    )


def _note(article: Article) -> str | None:
    note = note_of_changes(article.changes, article.language) if article.changes else None
    return xml_safe(note) if note else None


# --- items, prepared once per build -----------------------------------------------------


@dataclass(slots=True)
class LeadImage:
    url: str
    media_type: str | None
    caption: str
    credit: str
    terms: Terms | None


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 3× as much
class Item:
    """An article as every format writes it: cleaned text and licence strings.

    Dates are in UTC, converted here so that a date with no UTC equivalent fails while
    this one item is prepared (and is skipped), not halfway through writing a document.
    """

    id: str
    url: str
    title: str
    summary: str
    body_html: str
    footer_html: str  # the attribution footer that full text ends with
    authors: list[str]
    topics: list[str]
    language: str
    published: datetime
    modified: datetime
    terms: Terms
    image: LeadImage | None
    publisher: str  # who the item credits: the article's own publisher, else the feed's
    locale: str  # the catalog the footer is worded from
    note: str | None  # the note of changes, when the text differs from the source
    # Partner feeds only: the item is under embargo until then (see ``embargo_title``).
    embargoed_until: datetime | None = None

    @property
    def shown_title(self) -> str:
        """The title as RSS and Atom write it: an embargoed item says so first, where
        every reader and importer shows it."""
        if self.embargoed_until is None:
            return self.title
        return f"{EMBARGO_CATEGORY.upper()} until {iso_utc(self.embargoed_until)}: {self.title}"

    @property
    def content_html(self) -> str:
        """The full text: body + attribution footer (RSS writes the two without joining)."""
        return self.body_html + self.footer_html

    def attribution(self) -> str:
        """The plain-text credit line (only JSON Feed needs it: not computed for the rest)."""
        return _credit_line(
            self.title, self.url, self.authors, self.publisher, self.terms, self.locale, self.note
        )


def _lxml_checked_body(text: str) -> str:
    """The body for a writer that lets lxml validate it: lxml itself rejects C0 controls,
    surrogates and U+FFFE/U+FFFF, so ASCII text only needs DEL looked for (a ``memchr``);
    anything else gets the full :func:`xml_safe`."""
    return text if text.isascii() and "\x7f" not in text else xml_safe(text)


def _prepare(
    article: Article, host: str, publisher: str, lxml_checks: bool, attributed: bool = False
) -> Item:
    url = xml_safe(article.url)
    # Atom requires a non-empty title (feedgen raises): a title that was nothing but
    # characters XML cannot carry falls back to the URL, in every format alike.
    title = xml_safe(article.title).strip() or url
    authors = [xml_safe(a) for a in article.authors]
    t = terms(article.licence)
    if article.publisher:
        publisher = xml_safe(article.publisher)
    locale = note_locale(article.language)
    note = _note(article)
    image = None
    img = article.image
    if img is not None:
        image_url = xml_safe(img.url)
        image = LeadImage(
            image_url,
            image_type(image_url),
            xml_safe(img.caption),
            xml_safe(img.credit),
            terms(img.licence) if img.licence else None,
        )
    return Item(
        _item_id(article, host),
        url,
        title,
        xml_safe(article.summary) or plain_excerpt(article.body_html),
        (_lxml_checked_body if lxml_checks else xml_safe)(article.body_html),
        "" if attributed else _footer(title, url, authors, publisher, t, locale, note),
        authors,
        [xml_safe(topic) for topic in article.topics],
        article.language,
        utc(article.published_at),
        utc(article.modified),
        t,
        image,
        publisher,
        locale,
        note,
        # Public feeds never carry an embargoed item; partner feeds say which ones are.
        utc(article.embargoed_until) if attributed and article.embargoed_until else None,
    )


def prepare(
    spec: FeedSpec,
    articles: Sequence[Article],
    lxml_checks: bool = False,
    memo: ItemMemo | None = None,
) -> list[Item]:
    """Clean and derive what the builders need from each article, once per build (once per
    article with a ``memo``: an item made for this very article object before is reused).

    ``lxml_checks``: the caller writes ``body_html`` with lxml and, when lxml
    raises ``ValueError`` (a character it rejects), falls back to ``xml_safe`` of it. That
    skips a full scan of every body (~5 µs each) for the one writer with a time budget (RSS).

    An article that cannot be prepared raises :class:`ItemFailed` with its index, so that
    ``build_skipping`` builds the document again without it.
    """
    host = _host(spec.site_url)
    publisher = xml_safe(spec.publisher)
    attributed = spec.attributed
    key = ("item", host, publisher, lxml_checks, attributed)
    items = []
    for index, article in enumerate(articles):
        try:
            if memo is None:
                items.append(_prepare(article, host, publisher, lxml_checks, attributed))
            else:
                make = partial(_prepare, article, host, publisher, lxml_checks, attributed)
                items.append(memo.get(article, key, make))
        except Exception as exc:
            raise ItemFailed(index, exc) from exc
    return items


def fragment_key(spec: FeedSpec, fmt: str, *mode: object) -> tuple[object, ...]:
    """What one format's rendered item depends on besides the article: the prepared item's
    inputs from the spec, and the format's per-document ``mode`` (e.g. RSS ``dc:rights``)."""
    return (fmt, _host(spec.site_url), spec.publisher, spec.attributed, *mode)


def render_items(
    items: Sequence[Item],
    articles: Sequence[Article],
    key: tuple[object, ...],
    render: Callable[[Sequence[Item]], list[bytes]],
    memo: ItemMemo,
) -> list[bytes]:
    """Each item's bytes: those ``memo`` has for the article object under ``key``, the rest
    made by one ``render`` call (which raises :class:`ItemFailed` with the index in what it
    was given; re-raised here with the index in ``items``) and kept."""
    out = [memo.find(article, key) for article in articles]
    missing = [index for index, value in enumerate(out) if value is None]
    if missing:
        try:
            made = render([items[index] for index in missing])
        except ItemFailed as failed:
            raise ItemFailed(missing[failed.index], failed.cause) from failed.cause
        for index, value in zip(missing, made, strict=True):
            memo.keep(articles[index], key, value)
            out[index] = value
    return out


def each_item(render: Callable[[Item], bytes]) -> Callable[[Sequence[Item]], list[bytes]]:
    """``render`` for one item made a ``render_items`` renderer: :class:`ItemFailed` at the
    index of the item that raised."""

    def render_all(items: Sequence[Item]) -> list[bytes]:
        out = []
        for index, it in enumerate(items):
            try:
                out.append(render(it))
            except Exception as exc:
                raise ItemFailed(index, exc) from exc
        return out

    return render_all


# --- one bad item never stops a build ---------------------------------------------------

#: Told of each article a build left out, with what building it raised.
SkipHandler = Callable[[Article, Exception], None]


class ItemFailed(Exception):
    """Building the item at ``index`` (of the articles given) raised ``cause``."""

    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(index, cause)
        self.index = index
        self.cause = cause


def log_skip(article: Article, exc: Exception) -> None:
    """The default ``on_skip``: never silent (the id, the reason on one line)."""
    log.warning("feed item %r skipped: %s: %r", article.id, type(exc).__name__, str(exc))


def build_skipping(
    build: Callable[[list[Article]], bytes],
    articles: Sequence[Article],
    on_skip: SkipHandler | None = None,
) -> bytes:
    """``build(articles)``; when it raises :class:`ItemFailed`, report that article and build
    again without it. The good path costs nothing (no per-item buffer or second pass); a bad
    item costs one more build. Feed-level errors (a broken spec) still raise."""
    remaining = list(articles)
    report = on_skip or log_skip
    while True:
        try:
            return build(remaining)
        except ItemFailed as failed:
            report(remaining.pop(failed.index), failed.cause)


def find_failing(items: Sequence[object], check: Callable[[object], object]) -> None:
    """After a whole-document step raised: raise :class:`ItemFailed` for the first item
    ``check`` raises on; return (and let the caller re-raise) when none does."""
    for index, item in enumerate(items):
        try:
            check(item)
        except Exception as exc:
            raise ItemFailed(index, exc) from exc


def alternates(spec: FeedSpec, this: str) -> list[tuple[str, str]]:
    """(media type, URL) of the other formats of this page, in a fixed order."""
    links = spec.links.alternates
    order = [f for f in FORMAT_ORDER if f in links] + sorted(set(links) - set(FORMAT_ORDER))
    return [
        (MEDIA_TYPES.get(fmt, "application/octet-stream"), xml_safe(links[fmt]))
        for fmt in order
        if fmt != this
    ]


def archive_links(spec: FeedSpec) -> list[tuple[str, str]]:
    """RFC 5005 §4 (rel, URL) pairs that are set: current, prev-archive, next-archive."""
    links = spec.links
    pairs = (
        ("current", links.current),
        ("prev-archive", links.prev_archive),
        ("next-archive", links.next_archive),
    )
    return [(rel, xml_safe(url)) for rel, url in pairs if url]
