"""The licences an article or image may carry, keyed by SPDX id, and what each allows.

The flags are read off the licence elements (CC legal code 4.0 §1, §2(a)(1), §3(b);
3.0 §3, §4): NC forbids use "primarily intended for or directed towards commercial
advantage" (``commercial`` False), ND grants no right to share Adapted Material
(``derivatives`` False), SA makes adaptations carry the same licence (``share_alike``).
``url`` is the licence's canonical URI — what CC's licence chooser and ccREL (W3C
Submission 2008, §3) put in ``rel="license"`` — and ``legal_code`` its legal text.
All-rights-reserved is in the registry so articles can say so, but is never republishable.

Readers see the names in their language: :func:`display_name` puts the CC elements and
the version's suffix through the gettext catalogs (``syndication.i18n``; Spanish as CC's
own deeds write it, "Atribución-NoComercial 4.0 Internacional"), and :func:`deed_url` /
:func:`legal_code_url` point at CC's translated deed (``deed.es``; every CC licence and
CC0 has one) and, for 4.0, the official translated legal code (``legalcode.es``).
``name``/``url`` stay the exact English name and canonical URI: they are what feeds and
``rel="license"`` carry, whatever the reader's language.
"""

from __future__ import annotations

import gettext as _gettext
from dataclasses import dataclass

from syndication.i18n import N_, SOURCE, supported, translations


@dataclass(frozen=True)
class Licence:
    spdx: str
    name: str  # the exact name, e.g. "Creative Commons Attribution-NonCommercial 4.0 International"
    url: str | None  # canonical licence URI (the deed), used for rel="license"
    commercial: bool  # commercial use allowed (no NC element)
    derivatives: bool  # adaptations may be shared (no ND element)
    share_alike: bool  # adaptations must carry the same licence (SA element)
    short_name: str = ""  # "CC BY-NC 4.0"
    legal_code: str | None = None  # the legal code itself
    republishable: bool = True  # False for all rights reserved
    elements: str = ""  # CC licence elements, "BY-NC" (empty: not a CC licence)
    version: str = ""  # "4.0", "3.0"

    @property
    def is_cc(self) -> bool:
        """A Creative Commons licence or dedication (attribution rules of the CC legal code)."""
        return self.url is not None and "creativecommons.org/" in self.url

    @property
    def is_public_domain(self) -> bool:
        """CC0: a waiver, not a licence; attribution is courtesy, not a condition (CC0 §2)."""
        return self.spdx == "CC0-1.0"

    @property
    def label(self) -> str:
        """The exact name with the short name in brackets, as CC's own deeds write it."""
        if self.short_name and self.short_name != self.name:
            return f"{self.name} ({self.short_name})"
        return self.name


#: The licence elements' names, marked for the catalogs (translated where shown).
_CC_NAMES = {
    "BY": N_("Attribution"),
    "BY-SA": N_("Attribution-ShareAlike"),
    "BY-NC": N_("Attribution-NonCommercial"),
    "BY-NC-SA": N_("Attribution-NonCommercial-ShareAlike"),
    "BY-ND": N_("Attribution-NoDerivatives"),
    "BY-NC-ND": N_("Attribution-NonCommercial-NoDerivatives"),
}
#: How each version names its scope: 4.0 is "International", 3.0 (no port) "Unported".
_VERSION_NAMES = {
    "4.0": N_("%(elements)s %(version)s International"),
    "3.0": N_("%(elements)s %(version)s Unported"),
}
#: Versions whose legal code CC publishes in these languages (``legalcode.<lang>``).
_LEGAL_CODE_LANGUAGES = {"4.0": frozenset({"es"})}


def _cc_name(code: str, version: str, gettext: _gettext.NullTranslations) -> str:
    scope = gettext.gettext(_VERSION_NAMES[version])
    elements = gettext.gettext(_CC_NAMES[code])
    return "Creative Commons " + scope % {"elements": elements, "version": version}


def _cc(code: str, version: str) -> Licence:
    parts = code.split("-")
    url = f"https://creativecommons.org/licenses/{code.lower()}/{version}/"
    return Licence(
        spdx=f"CC-{code}-{version}",
        name=_cc_name(code, version, _gettext.NullTranslations()),
        url=url,
        commercial="NC" not in parts,
        derivatives="ND" not in parts,
        share_alike="SA" in parts,
        short_name=f"CC {code} {version}",
        legal_code=f"{url}legalcode",
        elements=code,
        version=version,
    )


CC0 = Licence(
    "CC0-1.0",
    "CC0 1.0 Universal",
    "https://creativecommons.org/publicdomain/zero/1.0/",
    commercial=True,
    derivatives=True,
    share_alike=False,
    short_name="CC0 1.0",
    legal_code="https://creativecommons.org/publicdomain/zero/1.0/legalcode",
)
ALL_RIGHTS_RESERVED = Licence(
    "all-rights-reserved",
    N_("All rights reserved"),
    None,
    commercial=False,
    derivatives=False,
    share_alike=False,
    short_name=N_("All rights reserved"),
    legal_code=None,
    republishable=False,
)

LICENCES: dict[str, Licence] = {
    lic.spdx: lic
    for lic in (
        *(_cc(code, v) for code in _CC_NAMES for v in _VERSION_NAMES),
        CC0,
        ALL_RIGHTS_RESERVED,
    )
}


def display_name(lic: Licence, locale: str) -> str:
    """The licence's name as a reader of ``locale`` reads it ("Creative Commons
    Atribución-NoComercial 4.0 Internacional"); the exact English ``name`` otherwise."""
    gettext = translations(locale)
    if lic.elements in _CC_NAMES and lic.version in _VERSION_NAMES:
        return _cc_name(lic.elements, lic.version, gettext)
    if not lic.republishable:  # all rights reserved: words, not a proper name
        return gettext.gettext(lic.name)
    return lic.name  # CC0 1.0 Universal: CC's deeds keep the name in every language


def display_label(lic: Licence, locale: str) -> str:
    """:func:`display_name` with the short name in brackets, like :attr:`Licence.label`."""
    name = display_name(lic, locale)
    short = lic.short_name if lic.republishable else ""
    return f"{name} ({short})" if short and short != lic.name else name


def _translated(locale: str) -> str | None:
    """The language of CC's translated pages for ``locale``; None for English (the
    canonical pages) and languages without a catalog."""
    found = supported(locale)
    return None if found in (None, SOURCE) else found


def deed_url(lic: Licence, locale: str) -> str | None:
    """CC's human-readable summary ("deed") in the reader's language: ``…/deed.es``.

    The canonical URI is the English deed; use it for ``rel="license"``, this for readers.
    """
    if not lic.is_cc or lic.url is None:
        return lic.url
    language = _translated(locale)
    return f"{lic.url}deed.{language}" if language else lic.url


def legal_code_url(lic: Licence, locale: str) -> str | None:
    """The legal code, in the reader's language where CC publishes an official
    translation (4.0: ``legalcode.es``); the English legal code otherwise."""
    language = _translated(locale)
    if lic.is_cc and lic.url and language in _LEGAL_CODE_LANGUAGES.get(lic.version, ()):
        return f"{lic.url}legalcode.{language}"
    return lic.legal_code


def normalise_licence(value: str) -> str:
    """Return the canonical SPDX id for ``value`` (case-insensitive), or raise ValueError."""
    wanted = value.strip().lower()
    for spdx in LICENCES:
        if spdx.lower() == wanted:
            return spdx
    raise ValueError(f"unknown licence {value!r}; use an SPDX id such as CC-BY-NC-4.0")


def licence(spdx: str) -> Licence:
    """The registry entry for a canonical SPDX id (raises KeyError for an unknown one)."""
    return LICENCES[spdx]


def may_republish(spdx: str | None, *, commercial: bool) -> bool:
    """Whether material under ``spdx`` may go, unaltered, to a partner.

    No licence at all means no permission (copyright is the default), all rights reserved
    likewise; an NC licence does not cover a commercial partner (CC 4.0 §1(i), §2(a)(1)).
    """
    if spdx is None:
        return False
    lic = LICENCES.get(spdx)
    if lic is None or not lic.republishable:
        return False
    return lic.commercial or not commercial
