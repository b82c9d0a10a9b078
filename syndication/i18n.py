"""Subscriber-facing text in English and Spanish: gettext catalogs read with Babel.

The catalogs are the ``.po`` files under ``syndication/locale/{es,en}/LC_MESSAGES/``,
shipped in the wheel with the package. They are read at runtime with
``babel.messages.pofile.read_po`` and turned into ``gettext`` translations in memory, once
per locale: there is no compile step and no ``.mo`` file in git (nothing to forget to
rebuild). English is the source language, so ``en`` holds empty ``msgstr`` s and every
message falls back to its ``msgid``.

Templates use Jinja2's i18n extension (``{% trans %}`` and ``_()``), installed by
:func:`install` with *newstyle* gettext: the translated string is the format string and
the values are ``%``-formatted into it, so under autoescape a translated message is
``Markup`` and every placeholder value is still escaped. The locale is not global state:
each render passes ``locale`` in its context, and the installed ``gettext`` reads it from
there, so one cached environment serves every language.

Updating the catalogs (extraction, checks) is a developer's tool, ``syndication.catalogs``
(``python -m syndication.catalogs extract|check``): it reads the templates, so it lives
apart from this runtime module, which ``templating`` installs into every environment.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Sequence
from datetime import datetime, tzinfo
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.dates import format_date as _babel_format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

#: Locales with a catalog; the first is the source language.
LOCALES = ("en", "es")
SOURCE = "en"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The context variable a template's ``_()`` reads its locale from.
CONTEXT_KEY = "locale"
_MAX_ACCEPT = 512


def N_(message: str) -> str:
    """Mark a module-level string for extraction; translate it later, where the locale is."""
    return message


#: How a frequency reads inside a sentence ("InSight Crime's *daily* newsletter").
FREQUENCY_NAMES = {"daily": N_("daily"), "weekly": N_("weekly"), "instant": N_("instant")}
#: Each language by its own name, for switchers and choices (not translated on purpose).
LANGUAGE_NAMES = {"en": "English", "es": "Español", "pt": "Português", "fr": "Français"}


def frequency_name(locale: str, frequency: str) -> str:
    return translations(locale).gettext(FREQUENCY_NAMES.get(frequency, frequency))


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def supported(code: str | None, available: Sequence[str] = LOCALES) -> str | None:
    """The available locale for a language tag (``es-MX`` → ``es``), or None."""
    if not code or len(code) > 35:
        return None
    found = negotiate_locale([code.strip().replace("_", "-")], list(available), sep="-")
    if found is None:
        return None
    by_lower = {a.lower(): a for a in available}  # Babel may answer in the request's case
    return by_lower.get(found.lower())


def negotiate(accept_language: str | None, available: Sequence[str] = LOCALES) -> str | None:
    """The best of ``available`` for an ``Accept-Language`` header (RFC 9110 §12.5.4), or
    None when nothing matches: the caller then falls back to the publisher's language.

    Tags are taken in order of their q-value (ties keep header order); ``q=0`` and ``*``
    are ignored; ``es-CO`` matches ``es``. The header is bounded: it is client input.
    """
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language[:_MAX_ACCEPT].split(",")[:32]):
        tag, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and tag != "*" and q > 0:
            ranked.append((-q, position, tag))
    for _, _, tag in sorted(ranked):
        found = supported(tag, available)
        if found:
            return found
    return None


def translations(locale: str) -> _gettext.NullTranslations:
    """The catalog for ``locale`` (``es-MX`` uses ``es``); English for anything else."""
    return _load(supported(locale) or SOURCE)


@cache
def _load(locale: str) -> _gettext.NullTranslations:
    """Read from the ``.po`` with Babel and compiled to an in-memory ``.mo``, once per
    locale: fuzzy and empty entries are left out, so gettext falls back to the English
    ``msgid`` for them."""
    if locale == SOURCE:
        return _gettext.NullTranslations()
    with catalog_path(locale).open("rb") as fp:
        catalog = read_po(fp, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def reload() -> None:
    """Forget the catalogs read so far (``catalogs.update_catalogs`` rewrote them)."""
    _load.cache_clear()


def gettext(locale: str, message: str, **variables: Any) -> str:
    """``message`` in ``locale``, with ``%(name)s`` placeholders filled (plain text)."""
    text = translations(locale).gettext(message)
    return text % variables if variables else text


def babel_locale(code: str) -> Locale:
    """A Babel locale for dates (any CLDR language, not only ours); English if unknown."""
    try:
        return Locale.parse(code.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale.parse(SOURCE)


def format_date(when: datetime, locale: str, tz: tzinfo | None = None, form: str = "long") -> str:
    """A date as people write it: "4 de septiembre de 2020", "September 4, 2020".

    ``form`` is a CLDR width (``short``, ``medium``, ``long``, ``full``: ``full`` adds the
    weekday). ``tz`` first, so the day is the publisher's, not UTC's.
    """
    local = when.astimezone(tz) if tz is not None else when
    return str(_babel_format_date(local.date(), form, locale=babel_locale(locale)))


# -- Jinja2 -------------------------------------------------------------------------------


def context_locale(context: Context) -> str:
    value = context.get(CONTEXT_KEY)
    return value if isinstance(value, str) and value else SOURCE


@pass_context
def _jinja_gettext(context: Context, message: str) -> str:
    return translations(context_locale(context)).gettext(message)


@pass_context
def _jinja_ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(context_locale(context)).ngettext(singular, plural, n)


def install(env: Environment) -> Environment:
    """Add ``{% trans %}`` and ``_()`` to ``env``; the locale comes from each render's
    ``locale`` variable (English when absent). ``trimmed``: a block's line breaks and
    indentation are not part of its msgid."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _jinja_gettext, _jinja_ngettext, newstyle=True
    )
    return env
