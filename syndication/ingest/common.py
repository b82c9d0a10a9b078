"""Small helpers the parsers share: text from HTML, summaries, dates, languages, licences.

They are deterministic on purpose (no clock, no network): polling the same content twice
must give the same Article, so the store recognises the repeat by its content hash.
"""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
from lxml import etree

from syndication.config import Publisher
from syndication.licences import LICENCES

_WS = re.compile(r"\s+")
_LANG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{2,8})*$")
_DEED = re.compile(r"/(?:legalcode|deed)(?:\.[a-z-]+)?$")
SUMMARY_MAX = 600


_C0 = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def squash(text: str) -> str:
    """Fold every run of white space (no-break spaces included) into one space."""
    return _WS.sub(" ", text.replace("\xa0", " ")).strip()


def text_from_html(fragment: str) -> str:
    """The visible text of an HTML fragment, white space folded (for titles and excerpts)."""
    if "<" not in fragment and "&" not in fragment:
        return squash(fragment)
    if "<" not in fragment:
        return squash(htmllib.unescape(fragment))
    # lxml refuses C0 controls in text: dropping <script> moves its tail text and raised
    # ValueError (not a validation error) for a summary like "x<script>…</script>\x01y".
    fragment = _C0.sub(" ", fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return squash(htmllib.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    for bad in root.xpath(".//script|.//style"):
        bad.drop_tree()
    return squash(str(root.text_content()))


def first_paragraph(body_html: str) -> str:
    """The first non-empty paragraph's text: the summary when the source gives none."""
    try:
        root = lxml.html.fragment_fromstring(body_html, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for p in root.iter("p"):
        text = squash(str(p.text_content()))
        if text:
            return truncate(text)
    return truncate(squash(str(root.text_content())))


def truncate(text: str, limit: int = SUMMARY_MAX) -> str:
    """Cut ``text`` at a word boundary with an ellipsis, so summaries stay short."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


def language_code(value: Any) -> str | None:
    """``en_US``, ``en-us``, ``EN`` → ``en``: the primary subtag that subscriber choices use."""
    if not isinstance(value, str):
        return None
    match = _LANG.match(value.strip())
    return match.group(1).lower() if match else None


def publisher_tz(publisher: Publisher) -> tzinfo:
    return ZoneInfo(publisher.timezone)


def parse_datetime(value: Any, default_tz: tzinfo) -> datetime | None:
    """An ISO 8601 / RFC 3339 date or date-time; naive values are taken in ``default_tz``.

    Sites that omit the offset mean their own local time, which is the publisher's zone.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed


def utc_from_struct(value: Any) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC ``time.struct_time``) as an aware datetime."""
    if value is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def licence_from_url(value: Any) -> str | None:
    """Map a licence URL (``https://creativecommons.org/licenses/by-nc/4.0/``) or an SPDX id
    to our SPDX id; None when unknown, so the publisher's default applies."""
    if not isinstance(value, str) or not value.strip():
        return None
    wanted = value.strip().lower()
    for spdx, licence in LICENCES.items():
        if wanted == spdx.lower():
            return spdx
        if licence.url:
            bare = licence.url.split("://", 1)[1].rstrip("/")
            candidate = _DEED.sub("", wanted.split("://", 1)[-1].rstrip("/"))
            if candidate == bare:
                return spdx
    return None


def paragraphs_html(paragraphs: list[str]) -> str:
    """Plain-text paragraphs as escaped ``<p>`` elements."""
    return "\n".join(f"<p>{htmllib.escape(p, quote=False)}</p>" for p in paragraphs if p)
