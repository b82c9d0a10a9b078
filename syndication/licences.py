"""The licences an article may carry, keyed by SPDX id.

Kept small here; the partners work grows it into the full registry (what each allows).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Licence:
    spdx: str
    name: str
    url: str | None
    commercial: bool
    derivatives: bool
    share_alike: bool


def _cc(code: str, version: str, name: str) -> Licence:
    parts = code.split("-")
    return Licence(
        spdx=f"CC-{code}-{version}",
        name=f"Creative Commons {name} {version}"
        + (" International" if version == "4.0" else " Unported"),
        url=f"https://creativecommons.org/licenses/{code.lower()}/{version}/",
        commercial="NC" not in parts,
        derivatives="ND" not in parts,
        share_alike="SA" in parts,
    )


_CC_NAMES = {
    "BY": "Attribution",
    "BY-SA": "Attribution-ShareAlike",
    "BY-NC": "Attribution-NonCommercial",
    "BY-NC-SA": "Attribution-NonCommercial-ShareAlike",
    "BY-ND": "Attribution-NoDerivatives",
    "BY-NC-ND": "Attribution-NonCommercial-NoDerivatives",
}

LICENCES: dict[str, Licence] = {
    lic.spdx: lic
    for lic in (
        *(_cc(code, v, name) for code, name in _CC_NAMES.items() for v in ("4.0", "3.0")),
        Licence(
            "CC0-1.0",
            "CC0 1.0 Universal",
            "https://creativecommons.org/publicdomain/zero/1.0/",
            True,
            True,
            False,
        ),
        Licence("all-rights-reserved", "All rights reserved", None, False, False, False),
    )
}


def normalise_licence(value: str) -> str:
    """Return the canonical SPDX id for ``value`` (case-insensitive), or raise ValueError."""
    wanted = value.strip().lower()
    for spdx in LICENCES:
        if spdx.lower() == wanted:
            return spdx
    raise ValueError(f"unknown licence {value!r}; use an SPDX id such as CC-BY-NC-4.0")
