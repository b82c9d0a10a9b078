"""What a reader may do with an article, in one sentence per licence: one wording for the
digest, the republish page and ninjs ``usageterms``, so no face states the terms its own way.

The sentences follow the licence elements (CC legal code 4.0 §2(a)(1), §3(a), §3(b);
``syndication.licences``): NC limits reuse to non-commercial purposes, ND to unchanged
copies, SA asks adaptations to carry the same licence, and every CC licence asks for
credit, a link and a note of changes (§3(a)(1)). What the publisher's terms add — credit in
the byline, links to the original at the top and the bottom (``[publisher.attribution]``)
— is said too: partner copies carry both, and the republish page quotes the terms in full.
CC0 asks nothing (a courtesy credit); all rights reserved allows nothing. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from syndication.i18n import N_, SOURCE, supported, translations
from syndication.licences import LICENCES, deed_url, display_name

# Translators: %(publisher)s is the publisher's name; %(licence)s the licence's name.
PUBLISHED = N_("Published by %(publisher)s under %(licence)s.")
_PERMISSIONS = {
    "BY": N_(
        "You may republish it, also commercially and with changes, if you credit "
        "%(publisher)s in the byline, link to the original at the top and the bottom, "
        "and say what you changed."
    ),
    "BY-SA": N_(
        "You may republish it, also commercially and with changes, if you credit "
        "%(publisher)s in the byline, link to the original at the top and the bottom, "
        "say what you changed and share changed versions under the same licence."
    ),
    "BY-NC": N_(
        "You may republish it for non-commercial purposes only, if you credit "
        "%(publisher)s in the byline, link to the original at the top and the bottom, "
        "and say what you changed."
    ),
    "BY-NC-SA": N_(
        "You may republish it for non-commercial purposes only, if you credit "
        "%(publisher)s in the byline, link to the original at the top and the bottom, "
        "say what you changed and share changed versions under the same licence."
    ),
    "BY-ND": N_(
        "You may republish it unchanged, also commercially, if you credit %(publisher)s "
        "in the byline and link to the original at the top and the bottom."
    ),
    "BY-NC-ND": N_(
        "You may republish it unchanged and for non-commercial purposes only, if you "
        "credit %(publisher)s in the byline and link to the original at the top and the "
        "bottom."
    ),
}
_PUBLIC_DOMAIN = N_(
    "It is dedicated to the public domain: you may republish it freely; a credit to "
    "%(publisher)s is appreciated."
)
_RESERVED = N_("© %(publisher)s. All rights reserved: it may not be republished.")


@dataclass(frozen=True)
class LicenceTerms:
    """The licence of one article as one language reads it."""

    spdx: str
    name: str  # the licence's name in that language ("Creative Commons Atribución 4.0 …")
    short_name: str  # "CC BY-NC 4.0"
    deed_url: str | None  # CC's summary in that language; None: all rights reserved
    published: str  # "Published by X under <name>." ("" for all rights reserved)
    permission: str  # what a reader may do, and on which conditions

    @property
    def republishable(self) -> bool:
        return self.deed_url is not None

    @property
    def text(self) -> str:
        """Both sentences as plain text, the licence's deed between them."""
        if not self.republishable:
            return self.permission
        return f"{self.published} {self.deed_url} {self.permission}"


@cache
def licence_terms(spdx: str, publisher: str, language: str = SOURCE) -> LicenceTerms:
    """The terms of ``spdx`` for an article credited to ``publisher``, in ``language``."""
    locale = supported(language) or SOURCE
    gettext = translations(locale).gettext
    lic = LICENCES[spdx]
    name = display_name(lic, locale)
    named = f"{name} ({lic.short_name})" if lic.short_name and lic.url else name
    words = {"publisher": publisher, "licence": named}
    if not lic.republishable or lic.url is None:
        return LicenceTerms(spdx, name, "", None, "", gettext(_RESERVED) % words)
    if lic.is_public_domain:
        permission = gettext(_PUBLIC_DOMAIN) % words
    else:
        permission = gettext(_PERMISSIONS[lic.elements]) % words
    return LicenceTerms(
        spdx,
        name,
        lic.short_name,
        deed_url(lic, locale),
        gettext(PUBLISHED) % words,
        permission,
    )


__all__ = ["LicenceTerms", "licence_terms"]
