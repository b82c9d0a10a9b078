"""How a digest looks in the inbox: its lead images, its subject line and its preheader.

Pure: values in, values out. Kept apart from ``digest_email`` (the message's bytes) so the
layout rules can change without touching the per-recipient machinery.

- Images are remote (``<img src>`` on the publisher's host, never attached) and shown only
  when their own licence lets us pass them on (``licences.may_republish``, the rule partner
  copies use for the same lead image): no licence, or all rights reserved, shows none.
  The article model carries no dimensions, so every image sits in a fixed 3:2 box (width
  and height attributes, CSS ``height: auto``): clients that size from the attributes
  (Outlook) keep the box, the others scale it with the column, and nothing jumps when the
  picture arrives.
- Subjects are read on phones, where ~35–45 characters show: the lead headline comes first,
  cut at a word to ``SUBJECT_CHARS``, and the newsletter's name follows only if it fits.
- The preheader is the line inboxes show after the subject; filler after it (zero-width
  non-joiner + no-break space) keeps clients from pulling the body's first words in.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from syndication.licences import LICENCES, deed_url, display_name, may_republish
from syndication.models import Image

#: The email column is 600 px with 24 px of padding each side.
COLUMN = 552
FEATURED_BOX = (COLUMN, 368)  # 3:2, the whole column
THUMB_BOX = (200, 133)  # 3:2, a thumbnail for the other stories
MAX_IMAGE_URL = 600
SUBJECT_CHARS = 70
PREHEADER_CHARS = 110
#: Enough invisible filler (&zwnj;&nbsp; as characters, so no markup is needed) that no
#: client reaches the body's text in its preview line; the spaces between the pairs let
#: the long line be wrapped (``digest_email.wrap_lines``).
PREHEADER_FILLER = " " + "\u200c\u00a0 " * 90

_URL_SAFE = "-._~:/?#@!$&'()*+,;=%"
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def safe_http_url(value: str, limit: int = MAX_IMAGE_URL) -> str | None:
    """``value`` as an absolute http(s) URL fit for an HTML attribute or CSS, else None.

    Stored articles skip model validation (``models._stored``), so this checks again:
    scheme, host, no white space or control characters; quotes, ``<``, ``>`` and non-ASCII
    are percent-encoded (autoescape still runs on top)."""
    if not value or _CONTROL.search(value):
        return None
    url = quote(value, safe=_URL_SAFE)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > limit:
        return None
    return url


def _one_line(value: str, limit: int) -> str:
    text = " ".join(value.split())
    return cut_at_word(text, limit)


def cut_at_word(text: str, limit: int) -> str:
    """``text`` if it fits, else its longest run of whole words under ``limit`` and "…"."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,.;:–—-") + "…"


def email_image(image: Image | None, language: str, featured: bool) -> dict[str, Any] | None:
    """What the templates need to show a story's lead image, or None when it may not go out.

    The credit and licence go under the picture (CC 4.0 §3(a)(1)(A)); the alt text is the
    caption (empty for none: the headline beside it already says what the story is)."""
    if image is None or not may_republish(image.licence, commercial=False):
        return None
    src = safe_http_url(image.url)
    if src is None:
        return None
    licence = LICENCES.get(image.licence or "")
    width, height = FEATURED_BOX if featured else THUMB_BOX
    return {
        "src": src,
        "alt": _one_line(image.caption, 300),
        "credit": _one_line(image.credit, 200),
        "licence_name": display_name(licence, language) if licence else "",
        "licence_url": deed_url(licence, language) if licence else None,
        "width": width,
        "height": height,
    }


def subject_line(lead_title: str, name: str, limit: int = SUBJECT_CHARS) -> str:
    """The lead headline, cut at a word to ``limit``, then " | name" when that still fits
    (ASCII, so a plain-ASCII subject goes out literally, not as encoded words)."""
    lead = _one_line(lead_title, limit)
    name = " ".join(name.split())
    with_name = f"{lead} | {name}"
    return with_name if name and len(with_name) <= limit else lead


def preheader(items: list[dict[str, Any]]) -> str:
    """The lead's summary, or else the next headlines: what the inbox shows under the
    subject (which is already the lead's headline)."""
    if not items:
        return ""
    if items[0]["summary"]:
        return _one_line(items[0]["summary"], PREHEADER_CHARS)
    return _one_line(" · ".join(item["title"] for item in items[1:4]), PREHEADER_CHARS)
