"""Spanish pages and emails: finding English strings left in them."""

from __future__ import annotations

import html
import re
from typing import Any

from babel.messages.pofile import read_po

from syndication import i18n
from syndication.config import Publisher


def spanish_catalog() -> Any:
    with i18n.catalog_path("es").open("rb") as fp:
        return read_po(fp, locale="es")


def english_only(text: str) -> list[str]:
    """Catalog msgids (without placeholders, longer than one word) found in ``text``:
    in a Spanish render, any of them is an untranslated string."""
    found = []
    plain = html.unescape(text)
    for message in spanish_catalog():
        if not message.id or not isinstance(message.id, str) or "%(" in message.id:
            continue
        if " " in message.id and message.id != message.string and message.id in plain:
            found.append(message.id)
    return found


# -- the class-wide check: every English string we ship, in any Spanish render ----------------

_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|<[^>]*>|\{[^}]*\}")
_EDGES = " \t\n.,:;!?()[]\"'“”«»·—–-=*/"
_INVISIBLE = re.compile(r"<(style|script|head)\b.*?</\1>|<!--.*?-->", re.S | re.I)
_SHOWN_ATTRS = re.compile(r'\b(?:alt|title|aria-label|placeholder)="([^"]*)"')
_LINKS = re.compile(r"https?://\S+|[\w.+-]+@[\w.-]+")


def _fragments(message: str) -> list[str]:
    """A msgid's literal pieces between placeholders and markup, trimmed."""
    pieces = (p.strip(_EDGES) for p in _PLACEHOLDER.split(message))
    return [p for p in pieces if len(p) >= 4 and any(c.isalpha() for c in p)]


def english_strings(publisher: Publisher) -> list[str]:
    """Every English string a reader could be shown: the literal pieces of each catalog
    msgid, and the publisher's English values (description, topic and section labels).
    A piece that also occurs in the Spanish catalog or config ("RSS", "Coca") proves
    nothing and is left out."""
    spanish_texts: list[str] = []
    english: set[str] = set()
    for message in spanish_catalog():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        spanish_texts += [s for s in strings if s]
        for msgid in ids:
            english.update(_fragments(msgid or ""))
    texts = [publisher.description, *publisher.topics.values(), *publisher.sections.values()]
    for text in texts:
        spanish_texts.append(text.get("es", ""))
        english.update(_fragments(text.get("en", "")))
    spanish = "\n".join(spanish_texts)
    return sorted(s for s in english if not _word(s).search(spanish))


def _word(text: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(text)}(?!\w)")


def shown_text(document: str) -> str:
    """What a reader sees of an HTML page or email (text, alt and title attributes),
    without links and addresses (their paths are not prose)."""
    visible = _INVISIBLE.sub(" ", document)
    attrs = " ".join(_SHOWN_ATTRS.findall(visible))
    text = html.unescape(re.sub(r"<[^>]+>", " ", visible) + " " + html.unescape(attrs))
    return " ".join(_LINKS.sub(" ", text).split())


def english_leaks(document: str, strings: list[str]) -> list[str]:
    """The English ``strings`` found (as whole words) in what ``document`` shows."""
    shown = shown_text(document)
    return [s for s in strings if _word(s).search(shown)]
