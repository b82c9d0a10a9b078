"""Attribution blocks for republished copies: a header at the top, a footer at the bottom.

What goes in them follows the CC legal code 4.0 §3(a)(1) (3.0 §4(b)/(c) alike): the
creator(s) and the party designated to receive attribution (the publisher, named in the
byline as its terms ask), a link to the original, a note of any modification, and the
licence named and linked. Creative Commons' "best practices for attribution" call this
TASL: title, author, source, licence. The footer carries ccREL RDFa (W3C Member Submission
2008: ``cc:attributionName``, ``cc:attributionURL``, ``dct:title``, ``rel="license"``) with
``about`` set to the original, so machines read the terms of the publisher's work and not
of the partner's page. Nothing says or hints that the publisher endorses the partner
(4.0 §2(a)(6), 3.0 §4(b)).

Pure: no clock, no I/O. Rendered from ``templates/attribution/{header,footer}.{html,txt}``
with Jinja autoescape for HTML, so hostile titles and names stay text.

Language: the blocks are worded in the article's language when the catalogs have it
(``es``, ``es-MX``…; ``syndication.i18n``), English otherwise. Our words go through the
catalogs (``gettext()`` in the templates, the default byline and the "and" between names here);
the publisher's own words (``attribution.byline`` when set, ``note``, ``contact``) stay as
configured. The ``rel="license"`` link keeps the canonical URI and the exact name
(``Licence.url``/``name``: what identifies the licence to ccREL readers and people, in
every language). Where CC names the licence differently in that language
(``licences.display_name``), the sentence names it so, linked to CC's deed in that language
(``deed_url``), with the canonical link after it as the "original name"; where only the
deed differs (CC0) it is a separate "summary" link. The legal code is CC's official
translation where there is one (``legal_code_url``). Dates are CLDR's (Babel) for the
language; English keeps "4 September 2020". An English copy is byte for byte what it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from string import Formatter
from typing import Any, Literal

import lxml.html
from jinja2 import Template
from markupsafe import Markup, escape

from syndication.changes import note_of_changes
from syndication.config import Publisher
from syndication.i18n import N_, SOURCE, format_date, supported, translations
from syndication.licences import LICENCES, Licence, deed_url, display_name, legal_code_url
from syndication.models import Article, Image
from syndication.templating import environment

Format = Literal["html", "text"]

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
# Translators: the byline when the publisher sets none; keep {authors} and {publisher}.
_DEFAULT_BYLINE = N_("by {authors}, {publisher}")
# Translators: joins the last two names of a list: "Ana, Juan and Eva".
_AND = N_("and")
#: Spanish writes "e" for "y" before a word that starts with the sound /i/ ("Juan e Inés"),
#: but not before a diphthong ("Ana y Hierro").
_Y_TO_E = re.compile(r"h?[ií](?![aeiouáéíóú])", re.IGNORECASE)
_BYLINE_FIELDS = frozenset({"authors", "publisher"})
_CONTACT_LINK = re.compile(
    r"(?P<url>https?://[^\s<>\"']+[^\s<>\"'.,;:!?)])|(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
)
_SUFFIX = {"html": "html", "text": "txt"}

#: Class names of the blocks, for partners' CMS styling and for :func:`inspect_attribution`.
HEADER_CLASS = "syndication-header"
FOOTER_CLASS = "syndication-footer"
BYLINE_CLASS = "syndication-byline"
CHANGES_CLASS = "syndication-changes"


@lru_cache(maxsize=64)
def block_locale(language: str) -> str:
    """The catalog the blocks of an article in ``language`` are worded from: ``es`` for
    ``es``/``es-MX``…, English for anything without a catalog."""
    return supported(language) or SOURCE


def date_label(value: datetime, locale: str = SOURCE) -> str:
    """ "4 September 2020" / "4 de septiembre de 2020", in the date's own offset, without the
    process-global locale. English is spelled here; other languages are CLDR's long date."""
    if locale == SOURCE:
        return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
    return _cldr_date(value.date(), locale)


@lru_cache(maxsize=1024)
def _cldr_date(day: date, locale: str) -> str:
    """Babel's formatting costs more than a render of a block: dates repeat across partners."""
    return format_date(datetime(day.year, day.month, day.day), locale)


@dataclass(frozen=True)
class _Words:
    """Our own words in one language, looked up in the catalog once per locale."""

    default_byline: str
    and_: str  # " and " / " y "


@cache
def _words(locale: str) -> _Words:
    gettext = translations(locale).gettext
    default = gettext(_DEFAULT_BYLINE)
    return _Words(
        default if default == _checked_byline(default) else _DEFAULT_BYLINE, f" {gettext(_AND)} "
    )


def byline_format(publisher: Publisher, locale: str = SOURCE) -> str:
    """The publisher's byline format (``syndication.toml`` ``attribution.byline``).

    Only ``{authors}`` and ``{publisher}`` are known; a format that does not name the
    publisher would break its terms ("attribution … in the byline"), so such a format, or
    a malformed one, falls back to the default rather than failing every partner feed.
    A configured format is the publisher's words and is used as is in every language; the
    default is ours, so it is worded in ``locale``. "by {authors}, {publisher}" counts as
    the default even when written out: it is the config's default value (and the example's),
    so a publisher cannot leave it unset, and it is our wording, not theirs.
    """
    configured = publisher.attribution.byline
    if not configured or configured == _DEFAULT_BYLINE:
        return _words(locale).default_byline
    return _checked_byline(configured)


@lru_cache(maxsize=64)
def _checked_byline(fmt: str) -> str:
    try:
        fields = {name for _, name, _, _ in Formatter().parse(fmt) if name is not None}
    except ValueError:
        return _DEFAULT_BYLINE
    if "publisher" not in fields or not fields <= _BYLINE_FIELDS:
        return _DEFAULT_BYLINE
    return fmt


def _and_before(name: str, locale: str) -> str:
    """ " and " before the last name: " y ", or " e " before "Inés", in Spanish."""
    if locale == "es" and _Y_TO_E.match(name):
        return " e "
    return _words(locale).and_


def join_names(names: Sequence[str], locale: str = SOURCE) -> str:
    """ "A", "A and B", "A, B and C" ("A, B y C" in Spanish)."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + _and_before(names[-1], locale) + names[-1]


def _separators(names: Sequence[str], locale: str = SOURCE) -> list[str]:
    """What follows each author before the publisher: "A, B and C, Publisher"."""
    count = len(names)
    if count == 0:
        return []
    last = [_and_before(names[-1], locale)] if count > 1 else []
    return [", "] * (count - 2) + last + [", "]


def credited_name(article: Article, publisher: Publisher) -> str:
    """Who the attribution names: the article's own publisher where it has one (a guest
    piece, a sample written for this project), else the configured one's attribution name."""
    return article.publisher or publisher.attribution_name


def byline(article: Article, publisher: Publisher) -> list[tuple[str, str]]:
    """The byline as (kind, text) segments, kind one of "text", "author", "publisher".

    With no authors the byline names the publisher alone: the format's words before its
    first field, then the publisher ("by {authors}, {publisher}" → "by InSight Crime").
    In the article's language where the words are ours (see :func:`byline_format`).
    """
    locale = block_locale(article.language)
    return _byline(article, _pieces(publisher, locale, article.publisher), locale)


def _byline(article: Article, pieces: _Pieces, locale: str) -> list[tuple[str, str]]:
    segments: list[tuple[str, str]] = []
    authors = article.authors
    for literal, name in pieces.byline_parts:
        if literal:
            segments.append(("text", literal))
        if name is None:
            continue
        if not authors:
            segments.append(("publisher", pieces.publisher))
            break
        if name == "publisher":
            segments.append(("publisher", pieces.publisher))
        else:
            for i, author in enumerate(authors):
                if i:
                    last = i == len(authors) - 1
                    segments.append(("text", _and_before(author, locale) if last else ", "))
                segments.append(("author", author))
    return segments


def byline_text(article: Article, publisher: Publisher) -> str:
    """The byline as plain text, e.g. "by Sergio Saffón, InSight Crime"."""
    return "".join(text for _, text in byline(article, publisher))


def _contact(text: str) -> list[tuple[str, str]]:
    """The contact line split into text, e-mail and URL segments (linked in HTML)."""
    segments: list[tuple[str, str]] = []
    pos = 0
    for match in _CONTACT_LINK.finditer(text):
        if match.start() > pos:
            segments.append(("text", text[pos : match.start()]))
        kind = "url" if match.group("url") else "email"
        segments.append((kind, match.group(0)))
        pos = match.end()
    if pos < len(text):
        segments.append(("text", text[pos:]))
    return segments


@dataclass(frozen=True)
class ImageCredit:
    """The lead image's credit line, kept with the image (CC 4.0 §3(a)(1)(A)(i)).

    The caption and credit are the publisher's words, as written."""

    caption: str
    credit: str
    licence: Licence | None

    @property
    def caption_sentence(self) -> str:
        """The caption ending in a full stop, so "Credit: …" reads as the next sentence."""
        caption = self.caption.strip()
        return caption if not caption or caption[-1] in ".!?…" else caption + "."

    @classmethod
    def of(cls, image: Image) -> ImageCredit | None:
        lic = LICENCES.get(image.licence) if image.licence else None
        if not (image.credit or lic):
            return None
        return cls(image.caption, image.credit, lic)


@dataclass(frozen=True)
class _Pieces:
    """What the blocks take from the publisher, worked out once per set of terms."""

    publisher: str
    byline_parts: tuple[tuple[str, str | None], ...]
    note: str
    contact: tuple[tuple[str, str], ...]


@lru_cache(maxsize=64)
def _pieces_of(name: str, byline_fmt: str, note: str, contact: str) -> _Pieces:
    parts = tuple((literal, field) for literal, field, _, _ in Formatter().parse(byline_fmt))
    return _Pieces(name, parts, note.strip(), tuple(_contact(contact.strip())))


def _pieces(publisher: Publisher, locale: str = SOURCE, name: str | None = None) -> _Pieces:
    """Keyed on the values themselves (a ``Publisher`` is mutable), so never stale.
    ``name``: the article's own publisher, credited instead (:func:`credited_name`); the
    configured publisher's note and contact line are not that party's, so they are left out."""
    terms = publisher.attribution
    own = not name or name == publisher.attribution_name
    return _pieces_of(
        publisher.attribution_name if own or name is None else name,
        byline_format(publisher, locale),
        terms.note if own else "",
        terms.contact if own else "",
    )


@dataclass(frozen=True)
class _LicenceWords:
    """How a licence is named and linked for readers of one language."""

    name: str  # CC's name in that language ("Creative Commons Atribución 4.0 Internacional")
    deed_url: str | None  # CC's deed in that language; the canonical URI in English
    legal_code_url: str | None  # the translated legal code where CC publishes one


@lru_cache(maxsize=256)
def _licence_words(spdx: str, locale: str) -> _LicenceWords:
    lic = LICENCES[spdx]
    return _LicenceWords(
        display_name(lic, locale), deed_url(lic, locale), legal_code_url(lic, locale)
    )


def _context(
    article: Article,
    publisher: Publisher,
    changes_note: str | None = None,
    image: Image | None = None,
) -> dict[str, Any]:
    locale = block_locale(article.language)
    pieces = _pieces(publisher, locale, article.publisher)
    published = article.published_at
    updated = article.modified
    changed = updated.date() != published.date()
    words = _licence_words(article.licence, locale)
    credit = ImageCredit.of(image) if image is not None else None
    return {
        "locale": locale,  # the environment's gettext reads it (syndication.i18n)
        "lang": "" if locale == SOURCE else article.language,
        "title": article.title,
        "url": article.url,
        "authors": list(article.authors),
        "author_separators": _separators(article.authors, locale),
        "publisher": pieces.publisher,
        "byline": _byline(article, pieces, locale),
        "published_iso": published.isoformat(),
        "published_label": date_label(published, locale),
        "updated_iso": updated.isoformat() if changed else "",
        "updated_label": date_label(updated, locale) if changed else "",
        "licence": LICENCES[article.licence],
        "licence_name": words.name,
        "deed_url": words.deed_url,
        "legal_code_url": words.legal_code_url,
        "image": credit,
        "image_licence_url": (
            _licence_words(credit.licence.spdx, locale).deed_url
            if credit is not None and credit.licence is not None
            else None
        ),
        "changes_note": changes_note or note_of_changes(article.changes, article.language) or "",
        "note": pieces.note,
        "contact": list(pieces.contact),
    }


@cache
def _gettext(locale: str, fmt: Format) -> Callable[..., str]:
    """The templates' ``gettext()`` for one language and format, made once per pair.

    A ``gettext`` in the render context comes before the environment's (``syndication.i18n``,
    installed by ``templating.environment``) and gives exactly what that one gives: the
    catalog string, ``Markup`` under autoescape, values %-formatted and so escaped. It skips
    the per-call catalog negotiation and the second context dispatch: the seven calls of a
    copy otherwise cost as much as the rest of its render. Rendered without it (elsewhere,
    with ``locale`` in the context), the templates read the same.
    """
    lookup = translations(locale).gettext
    if fmt == "text":

        def text(message: str, **variables: Any) -> str:
            return lookup(message) % variables

        return text

    def html(message: str, **variables: Any) -> str:
        # Markup(format) % values, as Jinja does, at half the cost: every value escaped
        # (``Markup`` values pass as they are), the format string our own catalog's.
        escaped = {key: escape(value) for key, value in variables.items()}
        return Markup(lookup(message) % escaped)  # noqa: S704

    return html


@cache
def _template(name: str, fmt: Format) -> Template:
    """Compiled once per process (Jinja's own lookup re-checks the file on every call)."""
    if fmt not in _SUFFIX:
        raise ValueError(f"unknown format {fmt!r}; use 'html' or 'text'")
    return environment().get_template(f"attribution/{name}.{_SUFFIX[fmt]}")


def _render(name: str, fmt: Format, context: dict[str, Any]) -> str:
    return _template(name, fmt).render(context, gettext=_gettext(context["locale"], fmt))


def attribution_header(article: Article, publisher: Publisher, *, fmt: Format = "html") -> str:
    """The block that opens a republished copy: a link to the original, the byline that
    names the publisher (its ``attribution.byline`` format), and the date."""
    return _render("header", fmt, _context(article, publisher))


def attribution_footer(
    article: Article,
    publisher: Publisher,
    *,
    changes_note: str | None = None,
    fmt: Format = "html",
    image: Image | None = None,
) -> str:
    """The block that closes a republished copy: title, author(s), publisher, the original
    URL, the exact licence name linked with ``rel="license"``, the "first published by …
    and republished under …" line, the note of changes (CC 4.0 §3(a)(1)(B): indicate
    modifications), the publisher's note and contact line. ``image``: a lead image that
    travels with the copy, credited here."""
    return _render("footer", fmt, _context(article, publisher, changes_note, image))


def attribution_blocks(
    article: Article,
    publisher: Publisher,
    *,
    changes_note: str | None = None,
    image: Image | None = None,
) -> tuple[str, str, str, str]:
    """(header HTML, footer HTML, header text, footer text) from one shared context: what a
    partner copy needs, at a third less cost than four separate calls."""
    context = _context(article, publisher, changes_note, image)
    return (
        _render("header", "html", context),
        _render("footer", "html", context),
        _render("header", "text", context).strip("\n"),
        _render("footer", "text", context).strip("\n"),
    )


def attribution_html(
    article: Article,
    publisher: Publisher,
    *,
    changes_note: str | None = None,
    image: Image | None = None,
) -> tuple[str, str]:
    """(header HTML, footer HTML): what a feed item needs; half the rendering of
    :func:`attribution_blocks`, whose text blocks a feed never reads."""
    context = _context(article, publisher, changes_note, image)
    return _render("header", "html", context), _render("footer", "html", context)


def attribution_text(
    article: Article,
    publisher: Publisher,
    *,
    changes_note: str | None = None,
    image: Image | None = None,
) -> tuple[str, str]:
    """(header text, footer text), exactly as :func:`attribution_blocks` gives them."""
    context = _context(article, publisher, changes_note, image)
    return (
        _render("header", "text", context).strip("\n"),
        _render("footer", "text", context).strip("\n"),
    )


# --- reading the blocks back (for tests and the republish page's self-check) -------------


@dataclass(frozen=True)
class FoundAttribution:
    """What a parser finds in a partner copy's HTML (None/empty where a part is missing)."""

    top_url: str | None  # first link of the header
    bottom_urls: tuple[str, ...]  # links of the footer that are not the licence's
    licence_url: str | None  # the footer's rel="license" link
    licence_name: str | None
    byline: str | None  # the header byline's text
    byline_publisher: str | None  # the publisher named in the byline's markup
    attribution_name: str | None  # ccREL cc:attributionName
    about: str | None  # the footer's RDFa subject
    changes: str | None


def inspect_attribution(html: str) -> FoundAttribution:
    """Parse ``html`` (a partner copy, or a page containing one) and report its blocks.

    Parsing, not string search: a title that merely contains a URL does not count as a link.
    """
    root = lxml.html.fragment_fromstring(html, create_parent="div")

    def first(xpath: str) -> Any:
        found = root.xpath(xpath)
        return found[0] if found else None

    def has_class(name: str) -> str:
        return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"

    header = first(f"//*[{has_class(HEADER_CLASS)}]")
    footer = first(f"//*[{has_class(FOOTER_CLASS)}]")
    top_link = header.xpath(".//a[@href]") if header is not None else []
    byline_el = header.xpath(f".//*[{has_class(BYLINE_CLASS)}]") if header is not None else []
    publisher_el = (
        byline_el[0].xpath(f".//*[{has_class('syndication-publisher')}]") if byline_el else []
    )
    licence_el = footer.xpath(".//a[@rel='license']") if footer is not None else []
    bottom = (
        tuple(a.get("href") for a in footer.xpath(".//a[@href]") if a.get("rel") != "license")
        if footer is not None
        else ()
    )
    name_el = footer.xpath(".//*[@property='cc:attributionName']") if footer is not None else []
    changes_el = footer.xpath(f".//*[{has_class(CHANGES_CLASS)}]") if footer is not None else []

    def text(el: Any) -> str:
        return " ".join(str(el.text_content()).split())

    return FoundAttribution(
        top_url=top_link[0].get("href") if top_link else None,
        bottom_urls=bottom,
        licence_url=licence_el[0].get("href") if licence_el else None,
        licence_name=text(licence_el[0]) if licence_el else None,
        byline=text(byline_el[0]) if byline_el else None,
        byline_publisher=text(publisher_el[0]) if publisher_el else None,
        attribution_name=text(name_el[0]) if name_el else None,
        about=footer.get("about") if footer is not None else None,
        changes=text(changes_el[0]) if changes_el else None,
    )


__all__ = [
    "BYLINE_CLASS",
    "CHANGES_CLASS",
    "FOOTER_CLASS",
    "HEADER_CLASS",
    "FoundAttribution",
    "ImageCredit",
    "attribution_blocks",
    "attribution_footer",
    "attribution_header",
    "attribution_html",
    "attribution_text",
    "block_locale",
    "byline",
    "byline_format",
    "byline_text",
    "credited_name",
    "date_label",
    "inspect_attribution",
    "join_names",
]
