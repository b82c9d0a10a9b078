"""URL-safe slugs for ids, topics, sections and authors.

Slugs end up in Redis keys and feed URLs, so they are ASCII, lower-case and bounded.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

_NON_SLUG = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 120


def slugify(text: str) -> str:
    """``"Sergio Saffón"`` → ``"sergio-saffon"``; empty when nothing usable remains."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NON_SLUG.sub("-", ascii_text.lower()).strip("-")[:MAX_SLUG].rstrip("-")


def slug_from_url(url: str) -> str:
    """The last non-empty path segment of ``url`` as a slug (the article's stable id)."""
    path = unquote(urlsplit(url).path)
    for segment in reversed(path.split("/")):
        segment = re.sub(r"\.(html?|php|aspx?)$", "", segment)
        slug = slugify(segment)
        if slug:
            return slug
    return slugify(urlsplit(url).netloc)
