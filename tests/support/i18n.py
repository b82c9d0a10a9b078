"""Spanish pages and emails: finding English strings left in them."""

from __future__ import annotations

import html
from typing import Any

from babel.messages.pofile import read_po

from syndication import i18n


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
