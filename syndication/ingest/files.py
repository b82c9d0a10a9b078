"""File import: JSON article records, saved HTML pages and plain-text page dumps.

The format is chosen by the file's suffix. Any problem becomes one ``IngestError`` line
that names the file (and, for invalid articles, each field), so a batch import can report
every bad file and carry on with the rest.

A file that carries no link to its original (a page dump) gets it from ``url`` or, failing
that, from a ``sources.toml`` next to it::

    [files."insightcrime-peru-stalemate.txt"]
    url = "https://insightcrime.org/news/brief/peru-familiar-stalemate-shining-path-rebels/"
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from syndication.config import Publisher
from syndication.ingest.html_page import parse_html_page
from syndication.ingest.normalise import IngestError, article_from_data, describe_validation_error
from syndication.ingest.seed_text import parse_page_dump
from syndication.models import Article

__all__ = ["SUFFIXES", "IngestError", "expand_paths", "load_path", "source_urls"]

SUFFIXES = (".json", ".html", ".htm", ".txt")
SOURCES_FILE = "sources.toml"
MAX_FILE_BYTES = 64 * 1024 * 1024
"""A file is refused unread above this: each article is capped by the model (5 MB of body),
so this only keeps a batch of JSON records or a saved page from filling the memory."""


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Directories become their importable files (sorted by name, hidden ones skipped);
    other paths pass through, so a missing file is reported by ``load_path`` in turn."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
                )
            )
        else:
            out.append(path)
    return out


def source_urls(folder: Path) -> dict[str, str]:
    """File name → canonical URL from ``folder/sources.toml`` (empty when there is none)."""
    path = folder / SOURCES_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise IngestError(f"{path}: cannot read: {exc}") from None
    files = data.get("files", {})
    out: dict[str, str] = {}
    if isinstance(files, dict):
        for name, value in files.items():
            if isinstance(value, str):
                out[name] = value
            elif isinstance(value, dict) and isinstance(value.get("url"), str):
                out[name] = value["url"]
    return out


def load_path(
    path: Path,
    publisher: Publisher,
    url: str | None = None,
    now: datetime | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> list[Article]:
    """The articles in one file; ``url`` is the original's URL for formats without one;
    ``now`` bounds their dates (``article_from_data``).

    Raises ``IngestError`` with a one-line reason that starts with the file name.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise IngestError(f"{path}: unsupported file type (use {', '.join(SUFFIXES)})")
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise IngestError(f"{path}: no such file") from None
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise IngestError(f"{path}: file is larger than {max_bytes} bytes")
    try:
        if suffix == ".json":
            return _load_json(raw, publisher, now)
        if url is None and suffix in (".txt", ".html", ".htm"):
            url = source_urls(path.parent).get(path.name)
        if suffix == ".txt":
            return [parse_page_dump(_utf8(raw), publisher, url, now)]
        return [parse_html_page(raw, publisher, url, now)]
    except IngestError as exc:
        raise IngestError(f"{path}: {exc}") from None
    except ValidationError as exc:
        raise IngestError(f"{path}: {describe_validation_error(exc)}") from None


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"not UTF-8 text (byte {exc.start})") from None


def _load_json(raw: bytes, publisher: Publisher, now: datetime | None) -> list[Article]:
    """One article object, a list of them, or ``{"articles": [...]}``."""
    try:
        data: Any = json.loads(_utf8(raw))
    except json.JSONDecodeError as exc:
        raise IngestError(
            f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if isinstance(data, Mapping) and isinstance(data.get("articles"), list):
        records, where = data["articles"], "articles"
    elif isinstance(data, list):
        records, where = data, ""
    elif isinstance(data, Mapping):
        return [article_from_data(data, publisher, now)]
    else:
        raise IngestError('expected an article object, a list, or {"articles": [...]}')
    articles: list[Article] = []
    for index, record in enumerate(records):
        label = f"{where}[{index}]" if where else f"[{index}]"
        if not isinstance(record, Mapping):
            raise IngestError(f"{label}: expected an article object")
        try:
            articles.append(article_from_data(record, publisher, now))
        except ValidationError as exc:
            raise IngestError(describe_validation_error(exc, f"{label}.")) from None
    return articles
