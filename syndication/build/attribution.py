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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from string import Formatter
from typing import Any, Literal

import lxml.html
from jinja2 import Template

from syndication.config import Publisher
from syndication.licences import LICENCES, Licence
from syndication.models import Article, Image
from syndication.templating import environment

Format = Literal["html", "text"]

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_DEFAULT_BYLINE = "by {authors}, {publisher}"
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


def date_label(value: datetime) -> str:
    """ "4 September 2020", in the date's own offset, without the process-global locale."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def byline_format(publisher: Publisher) -> str:
    """The publisher's byline format (``syndication.toml`` ``attribution.byline``).

    Only ``{authors}`` and ``{publisher}`` are known; a format that does not name the
    publisher would break its terms ("attribution … in the byline"), so such a format, or
    a malformed one, falls back to the default rather than failing every partner feed.
    """
    return _checked_byline(publisher.attribution.byline or _DEFAULT_BYLINE)


@lru_cache(maxsize=64)
def _checked_byline(fmt: str) -> str:
    try:
        fields = {name for _, name, _, _ in Formatter().parse(fmt) if name is not None}
    except ValueError:
        return _DEFAULT_BYLINE
    if "publisher" not in fields or not fields <= _BYLINE_FIELDS:
        return _DEFAULT_BYLINE
    return fmt


def join_names(names: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _separators(count: int) -> list[str]:
    """What follows each author before the publisher: "A, B and C, Publisher"."""
    if count == 0:
        return []
    return [", "] * (count - 2) + [" and "] * (count > 1) + [", "]


def byline(article: Article, publisher: Publisher) -> list[tuple[str, str]]:
    """The byline as (kind, text) segments, kind one of "text", "author", "publisher".

    With no authors the byline names the publisher alone: the format's words before its
    first field, then the publisher ("by {authors}, {publisher}" → "by InSight Crime").
    """
    return _byline(article, _pieces(publisher))


def _byline(article: Article, pieces: _Pieces) -> list[tuple[str, str]]:
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
                    segments.append(("text", " and " if i == len(authors) - 1 else ", "))
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
    """The lead image's credit line, kept with the image (CC 4.0 §3(a)(1)(A)(i))."""

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


def _pieces(publisher: Publisher) -> _Pieces:
    """Keyed on the values themselves (a ``Publisher`` is mutable), so never stale."""
    terms = publisher.attribution
    return _pieces_of(
        publisher.attribution_name, byline_format(publisher), terms.note, terms.contact
    )


def _context(
    article: Article,
    publisher: Publisher,
    changes_note: str | None = None,
    image: Image | None = None,
) -> dict[str, Any]:
    pieces = _pieces(publisher)
    published = article.published_at
    updated = article.modified
    changed = updated.date() != published.date()
    return {
        "title": article.title,
        "url": article.url,
        "authors": list(article.authors),
        "author_separators": _separators(len(article.authors)),
        "publisher": pieces.publisher,
        "byline": _byline(article, pieces),
        "published_iso": published.isoformat(),
        "published_label": date_label(published),
        "updated_iso": updated.isoformat() if changed else "",
        "updated_label": date_label(updated) if changed else "",
        "licence": LICENCES[article.licence],
        "image": ImageCredit.of(image) if image is not None else None,
        "changes_note": changes_note or "",
        "note": pieces.note,
        "contact": list(pieces.contact),
    }


@cache
def _template(name: str, fmt: Format) -> Template:
    """Compiled once per process (Jinja's own lookup re-checks the file on every call)."""
    if fmt not in _SUFFIX:
        raise ValueError(f"unknown format {fmt!r}; use 'html' or 'text'")
    return environment().get_template(f"attribution/{name}.{_SUFFIX[fmt]}")


def _render(name: str, fmt: Format, context: dict[str, Any]) -> str:
    return _template(name, fmt).render(context)


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
    "byline",
    "byline_format",
    "byline_text",
    "date_label",
    "inspect_attribution",
    "join_names",
]
