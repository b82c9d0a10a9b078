"""The gettext catalogs' upkeep, a developer's tool (needs the source checkout).

After changing a template or a marked string (``_()``/``N_()`` in Python,
``{% trans %}``/``_()`` in templates)::

    python -m syndication.catalogs extract   # re-extract with Babel, merge into both .po files
    python -m syndication.catalogs check     # exit 1 if a message is missing or untranslated

then write the Spanish ``msgstr`` for anything new (``tests/test_i18n.py`` fails on any
``msgid`` without one). The runtime side (reading the catalogs, Jinja2's ``_()``) is
``syndication.i18n``; this module reads the templates, so it sits above ``templating``.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from syndication import i18n
from syndication.i18n import DOMAIN, LOCALES, SOURCE, catalog_path
from syndication.templating import templates_dir

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


def extract(package: Path | None = None, templates: Path | None = None) -> Catalog:
    """Every marked message in the package's Python and in the templates, as a template
    catalog (what ``pybabel extract`` would write to a ``.pot``)."""
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
        buffer = io.BytesIO()
        write_po(buffer, catalog, width=100, include_lineno=False, ignore_obsolete=True)
        # Babel ends the file with a blank line; the end-of-file hook (make lint) refuses it.
        path.write_bytes(buffer.getvalue().rstrip(b"\n") + b"\n")
        counts[locale] = len([m for m in catalog if m.id])
    i18n.reload()
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
    parser = argparse.ArgumentParser(prog="python -m syndication.catalogs", description=__doc__)
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
