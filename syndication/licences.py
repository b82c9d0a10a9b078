"""The licences an article or image may carry, keyed by SPDX id, and what each allows.

The flags are read off the licence elements (CC legal code 4.0 §1, §2(a)(1), §3(b);
3.0 §3, §4): NC forbids use "primarily intended for or directed towards commercial
advantage" (``commercial`` False), ND grants no right to share Adapted Material
(``derivatives`` False), SA makes adaptations carry the same licence (``share_alike``).
``url`` is the licence's canonical URI — what CC's licence chooser and ccREL (W3C
Submission 2008, §3) put in ``rel="license"`` — and ``legal_code`` its legal text.
All-rights-reserved is in the registry so articles can say so, but is never republishable.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def _cc(code: str, version: str, name: str) -> Licence:
    parts = code.split("-")
    url = f"https://creativecommons.org/licenses/{code.lower()}/{version}/"
    return Licence(
        spdx=f"CC-{code}-{version}",
        name=f"Creative Commons {name} {version}"
        + (" International" if version == "4.0" else " Unported"),
        url=url,
        commercial="NC" not in parts,
        derivatives="ND" not in parts,
        share_alike="SA" in parts,
        short_name=f"CC {code} {version}",
        legal_code=f"{url}legalcode",
    )


_CC_NAMES = {
    "BY": "Attribution",
    "BY-SA": "Attribution-ShareAlike",
    "BY-NC": "Attribution-NonCommercial",
    "BY-NC-SA": "Attribution-NonCommercial-ShareAlike",
    "BY-ND": "Attribution-NoDerivatives",
    "BY-NC-ND": "Attribution-NonCommercial-NoDerivatives",
}

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
    "All rights reserved",
    None,
    commercial=False,
    derivatives=False,
    share_alike=False,
    short_name="All rights reserved",
    legal_code=None,
    republishable=False,
)

LICENCES: dict[str, Licence] = {
    lic.spdx: lic
    for lic in (
        *(_cc(code, v, name) for code, name in _CC_NAMES.items() for v in ("4.0", "3.0")),
        CC0,
        ALL_RIGHTS_RESERVED,
    )
}


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
