"""Which feeds exist and which an article belongs to: one naming scheme for store, build and web.

A feed name is ``all`` or ``{kind}/{slug}`` (``topic/coca``, ``author/sergio-saffon``,
``section/brief``, ``lang/es``); its URL is ``/feeds/{name}.{fmt}``.
"""

from __future__ import annotations

import re

from syndication.models import Article
from syndication.slugs import is_slug, slugify

KINDS = ("topic", "author", "section", "lang")
ALL = "all"
_NAME = re.compile(r"^(?:all|(?:topic|author|section|lang)/(?P<slug>[^/.\s]{1,120}))$")

LANGUAGE_NAMES = {
    "en": "English",
    "es": "Español",
    "pt": "Português",
    "fr": "Français",
    "de": "Deutsch",
    "it": "Italiano",
}


def is_feed_name(name: str) -> bool:
    """``all`` or ``kind/slug``, the slug exactly as ``slugify`` makes it (any script)."""
    match = _NAME.match(name)
    return match is not None and (match["slug"] is None or is_slug(match["slug"]))


def feed_titles(article: Article) -> dict[str, str]:
    """Every feed the article appears in, with the human name of each (for titles)."""
    lang = article.language.lower()
    titles = {ALL: "", f"lang/{lang}": LANGUAGE_NAMES.get(lang.split("-")[0], article.language)}
    for kind, values in (("topic", article.topics), ("author", article.authors)):
        for value in values:
            if slug := slugify(value):
                titles.setdefault(f"{kind}/{slug}", value)
    if article.section and (slug := slugify(article.section)):
        titles[f"section/{slug}"] = article.section
    return titles
