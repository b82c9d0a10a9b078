"""The language of a public page (home, ``/feeds``) and its en/es switch.

The order is the one the subscriber and archive pages use: ``?lang=`` (the switch's plain
links) if it names a language with a catalog, else ``Accept-Language``, else the
publisher's language. A ``?lang=`` that is not one of ours is ignored, never echoed.

The switch links are relative (``?lang=es``): the browser stays on the same path, nothing
redirects, so there is no redirect target for anyone to choose.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from syndication import i18n

#: Pages that depend on ``Accept-Language`` must say so to caches.
VARY = "Accept-Language"


@dataclass(frozen=True)
class LanguageLink:
    code: str
    name: str  # the language by its own name ("Español")
    href: str  # "?lang=es": same page, that language
    current: bool


def default_locale(publisher_language: str) -> str:
    """The publisher's language if we have a catalog for it, else English."""
    return i18n.supported(publisher_language) or i18n.SOURCE


def chosen(request: Request) -> str | None:
    """The language the reader picked with the switch (``?lang=``), if it is one of ours."""
    return i18n.supported(request.query_params.get("lang"))


def page_locale(request: Request, default: str) -> str:
    """``?lang=``, else ``Accept-Language``, else ``default`` (the publisher's)."""
    return chosen(request) or i18n.negotiate(request.headers.get("accept-language")) or default


def switch_links(locale: str) -> list[LanguageLink]:
    """One link per language with a catalog, the current one marked."""
    return [
        LanguageLink(code, i18n.LANGUAGE_NAMES.get(code, code), f"?lang={code}", code == locale)
        for code in i18n.LOCALES
    ]


def keep_lang(request: Request, path: str) -> str:
    """``path`` with ``lang=`` added when the reader chose a language with the switch, so
    following our own links keeps it (``Accept-Language`` readers need nothing added)."""
    lang = chosen(request)
    if not lang:
        return path
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def headers(locale: str) -> dict[str, str]:
    return {"Content-Language": locale, "Vary": VARY}
