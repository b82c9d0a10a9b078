"""Articles from a plain-text page dump (what "select all, copy" of an article page gives).

The shape, as in ``examples/articles/insightcrime-peru-stalemate.txt``::

    HomeNewsBriefPeru in Familiar Stalemate With Shining Path Rebels   <- breadcrumb + title
    BRIEF                                                              <- section
    Peru in Familiar Stalemate With Shining Path Rebels                <- title
    COCA / 4 SEP 2020 BY SERGIO SAFFÓN EN                              <- topic / date BY names LANG
    Yet again, ...                                                     <- body, one paragraph a line
    SEE ALSO: Peru News and Profile                                    <- related link (no target)
    share icon icon icon                                               <- page chrome from here on

The dump carries no links, so the caller names the original with ``url`` (``--url``), and
the "SEE ALSO" lines become related links to a search on the publisher's site for their
title (WordPress ``/?s=``), the one target that is sure to exist and find the piece.
The end of the body is found by the first page-chrome line (share, donate, "Was this
content helpful?", the CC terms, Related Content, About …): nothing after it is article.

What is cut or reshaped is recorded in ``changes`` (``syndication.changes``): the page's
navigation (breadcrumb and what follows the body), the "See also" lines (kept as related
links, out of the text) and the lines made into headings. The dump is the source, so the
text we send out differs from it and must say so (CC 4.0 §3(a)(1)(B)).
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from syndication import changes as note
from syndication.config import Publisher
from syndication.ingest.common import publisher_tz, squash, truncate
from syndication.ingest.normalise import IngestError, article_from_data
from syndication.models import Article

_META = re.compile(
    r"^(?P<topic>[^/]{1,120}?)\s*/\s*(?P<day>\d{1,2})\s+(?P<month>[^\W\d_]{3,10})\.?,?\s+"
    r"(?P<year>\d{4})(?P<rest>(?:\s.*)?)$"
)
_BYLINE = re.compile(r"^(?:BY|By|by|POR|Por|por)\s+(?P<names>.+)$")
_NAME_SEPARATORS = re.compile(r"\s*,\s*|\s+(?:AND|and|Y|y|&)\s+")
_SEE_ALSO = re.compile(
    r"^(?:SEE ALSO|READ ALSO|READ MORE|VER TAMBIÉN|VEA TAMBIÉN|LEA TAMBIÉN)\s*:\s*(?P<title>.+)$",
    re.IGNORECASE,
)
_MONTHS = {
    "jan": 1, "ene": 1, "feb": 2, "mar": 3, "apr": 4, "abr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "ago": 8, "sep": 9, "set": 9, "oct": 10, "nov": 11, "dec": 12,
    "dic": 12,
}  # fmt: skip
_LANGUAGES = frozenset({"en", "es", "pt", "fr"})
_HEADER_LINES = 12
_CHROME = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^(share|compartir)(\s+icon)*\s*$",
        r"^share\s+icon\b",
        r"^¿?(was this content helpful|te resultó útil este contenido|fue útil este contenido)\??$",
        r"^(donate|donar|dona)\s*$",
        r"^(what are your thoughts|¿qué opinas|¿qué piensas)\b",
        r"^(we encourage readers to copy|alentamos a los lectores)\b",
        r"^(check the creative commons website)\b",
        r"^(related content|contenido relacionado|related articles|artículos relacionados)$",
        r"^(about us|sobre nosotros|acerca de nosotros)$",
        r"^(subscribe|sign up|suscríbete)\b.{0,60}$",
    )
]
_HEADINGS = re.compile(r"^(InSight Crime Analysis|Análisis de InSight Crime)$", re.IGNORECASE)
_PARTICLES = frozenset(
    {"de", "del", "la", "las", "los", "y", "da", "das", "do", "dos", "di", "du", "van", "von",
     "der", "den", "le"}
)  # fmt: skip
_SMALL_WORDS = _PARTICLES | {"and", "of", "the", "in", "on", "for", "to", "a", "en", "el"}
_SENTENCE_END = tuple(".!?…:;,\"'”’)]")


def parse_page_dump(
    text: str, publisher: Publisher, url: str | None, now: datetime | None = None
) -> Article:
    """Recover the article from a page dump; ``url`` is the original (the dump has none).

    Raises ``IngestError`` when the dump does not have the expected shape, and pydantic's
    ``ValidationError`` when what was recovered is not a valid Article.
    """
    if not url:
        raise IngestError("a page dump has no link to the original: --url is needed")
    lines = [squash(line) for line in unicodedata.normalize("NFC", text).splitlines()]
    nonempty = [(i, line) for i, line in enumerate(lines) if line]

    meta_at, meta = _find_meta(nonempty)
    header = [line for i, line in nonempty if i < meta_at]
    if not header:
        raise IngestError("no title line before the 'TOPIC / DATE BY NAME' line")
    title = header[-1]
    breadcrumb = next((h for h in header if h != title and h.endswith(title)), "")
    crumbs = breadcrumb[: -len(title)] if breadcrumb else ""
    section_line = header[-2] if len(header) >= 2 and header[-2] != breadcrumb else None

    after_meta = [line for i, line in nonempty if i > meta_at]
    body_lines = _body_lines(after_meta, publisher)
    related: list[dict[str, str]] = []
    paragraphs: list[tuple[str, str]] = []  # (tag, text)
    for line in body_lines:
        see_also = _SEE_ALSO.match(line)
        if see_also:
            title_text = see_also.group("title").strip()
            search = f"{publisher.site_url}/?s={quote_plus(title_text)}"
            related.append({"title": title_text, "url": search})
        elif _is_subheading(line, len(paragraphs)):
            paragraphs.append(("h2", line))
        else:
            paragraphs.append(("p", line))
    if not any(tag == "p" for tag, _ in paragraphs):
        raise IngestError("no article text after the 'TOPIC / DATE BY NAME' line")
    body_text = " ".join(text for _, text in paragraphs)
    headings = sum(1 for tag, _ in paragraphs if tag == "h2")
    changes = [note.NAVIGATION] if breadcrumb or len(body_lines) < len(after_meta) else []
    changes += [note.see_also_removed(len(related))] if related else []
    changes += [note.headings_made(headings)] if headings else []

    language, names = _split_rest(meta.group("rest"), publisher)
    authors = [proper_name(n, body_text) for n in _NAME_SEPARATORS.split(names) if n.strip()]
    data: dict[str, Any] = {
        "url": url,
        "title": title,
        "summary": truncate(next(text for tag, text in paragraphs if tag == "p")),
        "body_html": _body_html(paragraphs),
        "authors": authors,
        "published_at": _date(meta, publisher),
        "language": language,
        "section": _section(section_line, crumbs, body_text) if section_line else None,
        "topics": [title_case(meta.group("topic"), body_text)],
        "related": related,
        "changes": changes,
    }
    return article_from_data(data, publisher, now)


def _find_meta(nonempty: list[tuple[int, str]]) -> tuple[int, re.Match[str]]:
    for i, line in nonempty[:_HEADER_LINES]:
        match = _META.match(line)
        if match and match.group("month")[:3].lower() in _MONTHS:
            return i, match
    raise IngestError("not a page dump: no 'TOPIC / 4 SEP 2020 BY NAME' line near the top")


def _split_rest(rest: str, publisher: Publisher) -> tuple[str, str]:
    """``" BY SERGIO SAFFÓN EN"`` → (``"en"``, ``"SERGIO SAFFÓN"``)."""
    words = rest.split()
    known = _LANGUAGES | {publisher.language, *publisher.languages}
    language = publisher.language
    if words and words[-1].isupper() and words[-1].lower() in known:
        language = words.pop().lower()
    byline = _BYLINE.match(" ".join(words))
    return language, byline.group("names") if byline else ""


def _date(meta: re.Match[str], publisher: Publisher) -> datetime:
    """Midnight local time on the printed day: the dump gives no hour."""
    month = _MONTHS[meta.group("month")[:3].lower()]
    try:
        return datetime(
            int(meta.group("year")), month, int(meta.group("day")), tzinfo=publisher_tz(publisher)
        )
    except ValueError as exc:
        raise IngestError(f"bad date in {meta.group(0)!r}: {exc}") from None


def _body_lines(lines: list[str], publisher: Publisher) -> list[str]:
    about = re.compile(
        rf"^(about|sobre|acerca de)\s+{re.escape(publisher.attribution_name)}$", re.IGNORECASE
    )
    body: list[str] = []
    for line in lines:
        if about.match(line) or any(p.match(line) for p in _CHROME):
            break
        body.append(line)
    return body


def _is_subheading(line: str, position: int) -> bool:
    """A short line without closing punctuation, after the lead paragraph, is a subheading."""
    if _HEADINGS.match(line):
        return True
    if position == 0 or not line[:1].isupper():
        return False
    return len(line) <= 80 and len(line.split()) <= 8 and not line.endswith(_SENTENCE_END)


def _body_html(paragraphs: list[tuple[str, str]]) -> str:
    return "\n".join(f"<{tag}>{html.escape(text, quote=False)}</{tag}>" for tag, text in paragraphs)


def _section(line: str, crumbs: str, body_text: str) -> str:
    """The section with the breadcrumb's casing (``BRIEF`` → ``Brief``) when it has it."""
    at = crumbs.lower().rfind(line.lower())
    if at >= 0:
        return crumbs[at : at + len(line)]
    return title_case(line, body_text)


def title_case(text: str, context: str = "") -> str:
    """``ENVIRONMENTAL CRIME`` → ``Environmental Crime``; a word written in capitals in
    ``context`` too (``ELN``, ``MS13``) is an acronym and stays as it is."""
    words = text.split()
    out: list[str] = []
    for i, word in enumerate(words):
        if i and word.lower() in _SMALL_WORDS:
            out.append(word.lower())
        else:
            out.append("-".join(_acronym_or_capitalised(p, context) for p in word.split("-")))
    return " ".join(out)


def _acronym_or_capitalised(word: str, context: str) -> str:
    if len(word) > 1 and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", context):
        return word
    return _capitalise(word)


def proper_name(name: str, context: str = "") -> str:
    """``SERGIO SAFFÓN`` → ``Sergio Saffón``: the casing used in ``context`` if the name
    occurs there, else title case that knows particles (de, la, van), hyphens, apostrophes
    and initials."""
    name = squash(unicodedata.normalize("NFC", name))
    words = name.split()
    if not words:
        return name
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"
    for match in re.finditer(pattern, context, re.IGNORECASE):
        found = squash(match.group(0))
        if found != found.upper() and found != found.lower():
            return found
    if name != name.upper():
        return name  # already mixed case: trust it
    return " ".join(
        w.lower() if i and w.lower() in _PARTICLES else _capitalise(w) for i, w in enumerate(words)
    )


def _capitalise(word: str) -> str:
    pieces = re.split(r"([-'’.])", word)
    out: list[str] = []
    for piece in pieces:
        lower = piece.lower()
        if lower.startswith("mc") and len(piece) > 2:
            out.append("Mc" + lower[2:3].title() + lower[3:])
        else:
            out.append(lower[:1].title() + lower[1:])
    return "".join(out)
