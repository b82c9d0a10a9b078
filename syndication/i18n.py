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

Updating the catalogs after changing a template or a marked string (``_()``/``N_()`` in
Python, ``{% trans %}``/``_()`` in templates)::

    python -m syndication.i18n extract   # re-extract with Babel, merge into both .po files
    python -m syndication.i18n check     # exit 1 if a message is missing or untranslated

then write the Spanish ``msgstr`` for anything new (``tests/test_i18n.py`` fails on any
``msgid`` without one).
"""

from __future__ import annotations

import argparse
import gettext as _gettext
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.dates import format_date as _babel_format_date
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
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
#: What templates and Python mark for translation (Babel's keyword specs).
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
_JINJA = "jinja2.ext:babel_extract"
#: Must match the runtime environments, or ``{% trans %}`` blocks extract other msgids.
_JINJA_OPTIONS = {
    "trimmed": "true",
    "trim_blocks": "true",
    "lstrip_blocks": "true",
    "newstyle_gettext": "true",
}
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


# -- extraction (a developer's tool; needs the source checkout) ----------------------------


def extract(package: Path | None = None, templates: Path | None = None) -> Catalog:
    """Every marked message in the package's Python and in the templates, as a template
    catalog (what ``pybabel extract`` would write to a ``.pot``)."""
    from syndication.templating import templates_dir

    package = package or Path(__file__).resolve().parent
    templates = templates or templates_dir()
    catalog = Catalog(project="syndication", domain=DOMAIN, charset="utf-8", fuzzy=False)
    sources: list[tuple[Path, str, list[tuple[str, str]], dict[str, dict[str, str]]]] = [
        (package, "syndication", [("**.py", "python")], {}),
        (
            templates,
            "templates",
            [("**.html", _JINJA), ("**.txt", _JINJA), ("**.mjml", _JINJA)],
            {p: _JINJA_OPTIONS for p in ("**.html", "**.txt", "**.mjml")},
        ),
    ]
    for root, label, method_map, options_map in sources:
        found = extract_from_dir(
            root,
            method_map,
            options_map,
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            catalog.add(
                message,
                None,
                [(f"{label}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def _read(locale: str) -> Catalog | None:
    path = catalog_path(locale)
    if not path.is_file():
        return None
    with path.open("rb") as fp:
        return read_po(fp, locale=locale, domain=DOMAIN)


def update_catalogs(locales: Iterable[str] = LOCALES) -> dict[str, int]:
    """Merge a fresh extraction into each ``.po`` (new messages added untranslated,
    vanished ones dropped); returns the number of messages per locale."""
    template = extract()
    counts: dict[str, int] = {}
    for locale in locales:
        catalog = _read(locale) or Catalog(locale=locale, domain=DOMAIN, project="syndication")
        template.creation_date = catalog.creation_date  # no churn when nothing changed
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        path = catalog_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fp:
            write_po(fp, catalog, width=100, include_lineno=False, ignore_obsolete=True)
        counts[locale] = len([m for m in catalog if m.id])
    _load.cache_clear()
    return counts


def problems(locales: Iterable[str] = LOCALES) -> list[str]:
    """What is wrong with the catalogs: messages missing from them, non-English messages
    without a translation (or fuzzy), and placeholders that do not match (Babel's checks)."""
    wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in extract() if m.id}
    found: list[str] = []
    for locale in locales:
        catalog = _read(locale)
        if catalog is None:
            found.append(f"{locale}: no catalog at {catalog_path(locale)}")
            continue
        have = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
        found += [f"{locale}: not in the catalog: {m!r}" for m in sorted(wanted - have)]
        if locale == SOURCE:
            continue
        for message in catalog:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy or not all(strings):
                found.append(f"{locale}: untranslated: {message.id!r}")
        for message, errors in catalog.check():
            found += [f"{locale}: {message.id!r}: {error}" for error in errors]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m syndication.i18n", description=__doc__)
    parser.add_argument("command", choices=("extract", "check"))
    args = parser.parse_args(argv)
    if args.command == "extract":
        for locale, count in update_catalogs().items():
            print(f"{catalog_path(locale)}: {count} messages")
        return 0
    found = problems()
    for line in found:
        print(line)
    print("catalogs OK" if not found else f"{len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
