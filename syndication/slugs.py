"""URL-safe slugs for ids, topics, sections and authors.

Slugs end up in Redis keys and feed URLs, so they are lower-case, bounded and free of
punctuation. Names keep their letters: Latin letters lose their accents (``Zoë Ünïcødé`` →
``zoe-unicode``, as today for ASCII names, whose slugs never change), other scripts stay
as they are in lower case (``محمد`` → ``محمد``), so an Arabic or Cyrillic name gets a feed
of its own; a URL carries such a slug percent-encoded (``slug_in_url``). Article ids stay
ASCII (``slug_from_url``).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote, urlsplit

_NON_SLUG = re.compile(r"[^a-z0-9]+")
_DASHES = re.compile(r"-+")
MAX_SLUG = 120

# Latin letters that NFKD does not split into a base letter and a mark.
_LATIN_LETTERS = str.maketrans(
    {
        "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "ẞ": "SS",
        "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
        "ı": "i", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T", "ŀ": "l", "Ŀ": "L", "ĸ": "k",
        "ŋ": "n", "Ŋ": "N", "ſ": "s",
    }
)  # fmt: skip


def _is_latin(char: str) -> bool:
    return char.isascii() or unicodedata.name(char, "").startswith("LATIN")


def slugify(text: str) -> str:
    """``"Sergio Saffón"`` → ``"sergio-saffon"``; empty when nothing usable remains.

    Letters and digits of any script are kept (lower-cased); marks are dropped after a
    Latin letter (accents) and kept after any other (Devanagari vowel signs, Arabic
    harakat are part of the letter); everything else separates words.
    """
    out: list[str] = []
    latin_base = True  # marks after a Latin letter, or after no letter, are dropped
    for char in _decomposed(text).translate(_LATIN_LETTERS):
        if unicodedata.category(char).startswith("M"):
            if not latin_base:
                out.append(char)
        elif char.isalnum() and char != "_" and unicodedata.category(char)[0] in "LN":
            out.append(char.lower())
            latin_base = _is_latin(char)
        else:
            out.append("-")
            latin_base = True
    slug = unicodedata.normalize("NFC", _DASHES.sub("-", "".join(out)).strip("-"))
    return slug[:MAX_SLUG].rstrip("-")


def _decomposed(text: str) -> str:
    """NFKD, except for a letter or digit whose decomposition has none left (``ͺ`` is a space
    and a mark): it stays itself, so no name with a letter loses it."""
    out: list[str] = []
    for char in text:
        parts = unicodedata.normalize("NFKD", char)
        if char.isalnum() and not any(p.isalnum() for p in parts):
            parts = char
        out.append(parts)
    return "".join(out)


def is_slug(text: str) -> bool:
    """Whether ``text`` is a slug as ``slugify`` makes them (for names read back from a URL)."""
    return bool(text) and slugify(text) == text


def slug_in_url(slug: str) -> str:
    """The slug as a URL path segment: ASCII slugs as they are, other letters percent-encoded."""
    return quote(slug, safe="/")


def ascii_slug(text: str) -> str:
    """The slugs article ids have always had: ASCII letters and digits only."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NON_SLUG.sub("-", ascii_text.lower()).strip("-")[:MAX_SLUG].rstrip("-")


def slug_from_url(url: str) -> str:
    """The last non-empty path segment of ``url`` as a slug (the article's stable id)."""
    path = unquote(urlsplit(url).path)
    for segment in reversed(path.split("/")):
        segment = re.sub(r"\.(html?|php|aspx?)$", "", segment)
        slug = ascii_slug(segment)
        if slug:
            return slug
    return ascii_slug(urlsplit(url).netloc)
