"""From loosely shaped article data to a validated, sanitised ``Article``.

Every way in (the HTTP API, file import, feed and WordPress polling, page parsers) ends
here, so defaults come from the publisher in one place and no body reaches the store
unsanitised. Validation errors are left to pydantic: the API turns them into a 422 that
names each field, and the file and poll paths turn them into a one-line ``IngestError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from syndication.config import Publisher
from syndication.ingest.common import first_paragraph, text_from_html
from syndication.ingest.sanitise import absolute_url, sanitise_html
from syndication.models import Article


class IngestError(Exception):
    """Why a file, page or poll could not be ingested: one line naming the file or URL."""


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # "https://[x/": left for the model to refuse by name
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _absolutise(value: Any, base: str) -> Any:
    """Resolve a relative URL; leave anything else for the model to reject by name."""
    if isinstance(value, str) and value.strip():
        return absolute_url(value, base) or value
    return value


def article_from_data(
    data: Mapping[str, Any], publisher: Publisher, now: datetime | None = None
) -> Article:
    """Validate ``data`` as an Article, filling what the publisher implies.

    - ``licence`` and ``language`` default to the publisher's;
    - ``body_html`` is sanitised, and relative links in it, ``image.url`` and
      ``related[].url`` are resolved against the article's ``url``;
    - a missing ``summary`` becomes the body's first paragraph; an HTML summary is
      reduced to its text (it goes into plain-text email parts and feed summaries);
    - with ``now`` (the caller's clock: the model never reads one), dates more than
      ``models.MAX_AHEAD`` ahead of it are refused.

    Raises pydantic's ``ValidationError`` (unchanged) when the result is not an Article.
    """
    record: dict[str, Any] = dict(data)
    if not record.get("licence"):
        record["licence"] = publisher.licence
    if not record.get("language"):
        record["language"] = publisher.language
    url = record.get("url")
    base = str(url).strip() if _is_http_url(url) else publisher.site_url + "/"

    body = record.get("body_html")
    if isinstance(body, str):
        record["body_html"] = sanitise_html(body, base)
    summary = record.get("summary")
    if summary is None and isinstance(record.get("body_html"), str):
        record["summary"] = first_paragraph(record["body_html"])
    elif isinstance(summary, str) and "<" in summary:
        record["summary"] = text_from_html(summary)

    image = record.get("image")
    if isinstance(image, str):
        image = {"url": image}
    if isinstance(image, Mapping):
        image = dict(image)
        image["url"] = _absolutise(image.get("url"), base)
        record["image"] = image

    related = record.get("related")
    if isinstance(related, list):
        record["related"] = [
            {**link, "url": _absolutise(link.get("url"), base)}
            if isinstance(link, Mapping)
            else link
            for link in related
        ]
    return Article.model_validate(record, context={"now": now} if now else None)


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """``title: Field required; published_at: must carry a time zone`` — one line."""
    parts: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "article"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{prefix}{loc}: {msg}")
    return "; ".join(dict.fromkeys(parts))
