"""The note of changes: what differs between the source and the text we send out.

CC 4.0 §3(a)(1)(B) (3.0 §4(b) alike) makes a re-user "indicate if You modified the
Licensed Material". Our importers modify it (they cut page chrome and "See also" lines,
and turn short lines into headings), and partner copies may cut more (render/partner_copy);
every outbound text that differs from the source says so, in the article's language.

The importer records its changes on the article (``Article.changes``) as short English
phrases made here (``removed page navigation``, ``removed 2 'See also' links``): readable in
the API and the store, and turned back into (kind, count) to be worded in another language
when rendered, so the stored record never depends on a reader's language. A phrase we do
not know (a CMS may send its own) is shown as it is.
"""

from __future__ import annotations

import gettext as _gettext
import re
from collections.abc import Iterable, Sequence

from syndication.i18n import N_, SOURCE, supported, translations

# Changes without a count: the stored English phrase is the catalog's msgid.
NAVIGATION = N_("removed page navigation")
SHARE = N_("removed share buttons")
DONATION = N_("removed donation prompts")
NEWSLETTER = N_("removed newsletter sign-up forms")
RELATED = N_("removed related-article links")
COMMENTS = N_("removed comments")
ADVERTS = N_("removed advertisements")
FIXED = frozenset({NAVIGATION, SHARE, DONATION, NEWSLETTER, RELATED, COMMENTS, ADVERTS})

_SEE_ALSO = "see-also"
_HEADINGS = "headings"
_COUNTED = {
    _SEE_ALSO: re.compile(r"removed (?P<n>\d+) 'See also' links?"),
    _HEADINGS: re.compile(r"turned (?P<n>\d+) lines? into (?:a heading|headings)"),
}


def _counted(kind: str, count: int, t: _gettext.NullTranslations) -> str:
    """One counted change in the language of ``t`` (``ngettext`` for the plural)."""
    if kind == _SEE_ALSO:
        text = t.ngettext(
            "removed %(count)d 'See also' link", "removed %(count)d 'See also' links", count
        )
    else:
        text = t.ngettext(
            "turned %(count)d line into a heading", "turned %(count)d lines into headings", count
        )
    return text % {"count": count}


def see_also_removed(count: int) -> str:
    """The stored phrase for ``count`` "See also" lines cut from the body."""
    return _counted(_SEE_ALSO, count, _gettext.NullTranslations())


def headings_made(count: int) -> str:
    """The stored phrase for ``count`` lines the importer made into headings."""
    return _counted(_HEADINGS, count, _gettext.NullTranslations())


def localise(change: str, locale: str) -> str:
    """A stored phrase worded for ``locale``; one we do not know, as it is."""
    if locale == SOURCE:
        return change
    t = translations(locale)
    if change in FIXED:
        return t.gettext(change)
    for kind, pattern in _COUNTED.items():
        match = pattern.fullmatch(change)
        if match:
            return _counted(kind, int(match["n"]), t)
    return change


def note_locale(language: str) -> str:
    """The catalog a note for an article in ``language`` is worded from (``es-MX`` → ``es``)."""
    return supported(language) or SOURCE


def note_of_changes(stored: Sequence[str], language: str, worded: Iterable[str] = ()) -> str | None:
    """ "This article was modified: removed page navigation; …." in the article's language,
    or None when nothing changed. ``stored``: the article's own ``changes``; ``worded``:
    further changes already worded in that language (a partner copy's)."""
    locale = note_locale(language)
    items = [localise(c, locale) for c in stored] + list(worded)
    if not items:
        return None
    return translations(locale).gettext("This article was modified: %(changes)s.") % {
        "changes": "; ".join(items)
    }


__all__ = [
    "ADVERTS",
    "COMMENTS",
    "DONATION",
    "NAVIGATION",
    "NEWSLETTER",
    "RELATED",
    "SHARE",
    "headings_made",
    "localise",
    "note_locale",
    "note_of_changes",
    "see_also_removed",
]
