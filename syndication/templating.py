"""Jinja2 environments over ``templates/``, which ships inside the wheel.

In a wheel the folder is ``syndication/templates``; in a source checkout (editable install)
it is the top-level ``templates/`` beside the package. Both environments (this one and the
email builder's) carry the i18n extension: a render passes ``locale`` to get its language.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from syndication import i18n

_PACKAGE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    packaged = _PACKAGE / "templates"
    if packaged.is_dir():
        return packaged
    # A source checkout: only trust the sibling folder when it is our own repository's,
    # never a stray ``templates`` folder next to the package in site-packages.
    checkout = _PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "templates").is_dir():
        return checkout / "templates"
    raise FileNotFoundError("templates folder not found (is the package installed fully?)")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return i18n.install(env)
