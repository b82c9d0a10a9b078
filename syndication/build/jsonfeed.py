"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), written with the standard library.

Deterministic bytes: keys in one fixed order (the spec's own, for people reading it),
``ensure_ascii=False`` (UTF-8), one choice of separators, a trailing newline. Text is
cleaned like the XML formats (a lone surrogate could not even be encoded), so a consumer
that turns items into XML never meets what the Atom and RSS documents would not carry.

Licence and attribution travel in the ``_syndication`` extension object (JSON Feed 1.1
"Extensions": keys starting with an underscore), at the top level and per item. RFC 5005's
``prev-archive`` (the older page) is JSON Feed's ``next_url``; WebSub hubs are ``hubs``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from syndication.build.feed_common import FeedSpec, Item, prepare, terms, xml_safe
from syndication.models import Article

VERSION = "https://jsonfeed.org/version/1.1"
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def _item(it: Item, publisher: str) -> dict[str, Any]:
    syndication: dict[str, Any] = {
        "licence": it.terms.json(),
        "attribution": it.attribution(publisher),
    }
    item: dict[str, Any] = {
        "id": it.id,
        "url": it.url,
        "title": it.title,
        "content_html": it.content_html,
        "summary": it.summary,
    }
    if it.image is not None:
        image = it.image
        item["image"] = image.url
        syndication["image"] = {
            "url": image.url,
            "caption": image.caption,
            "credit": image.credit,
            "licence": None if image.terms is None else image.terms.json(),
        }
    item["date_published"] = it.published.astimezone(UTC).isoformat()
    item["date_modified"] = it.modified.astimezone(UTC).isoformat()
    item["authors"] = [{"name": author} for author in it.authors]
    item["tags"] = list(it.topics)
    item["language"] = it.language
    item["_syndication"] = syndication
    return item


def build_json(spec: FeedSpec, articles: Sequence[Article]) -> bytes:
    """A JSON Feed 1.1 document for ``articles`` (kept in their newest-first order)."""
    links = spec.links
    publisher = xml_safe(spec.publisher)
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": xml_safe(spec.title).strip() or spec.name,
        "home_page_url": xml_safe(links.html_url),
        "feed_url": xml_safe(links.self_url),
        "description": xml_safe(spec.description),
    }
    if links.prev_archive:
        feed["next_url"] = xml_safe(links.prev_archive)
    if spec.language:
        feed["language"] = xml_safe(spec.language)
    feed["authors"] = [{"name": publisher}]
    if links.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": xml_safe(hub)} for hub in links.hubs]
    feed["_syndication"] = {
        "licence": terms(spec.licence).json(),
        "attribution": f"{publisher}, {xml_safe(spec.site_url)}/",
    }
    feed["items"] = [_item(it, publisher) for it in prepare(spec, articles)]
    return (_ENCODER.encode(feed) + "\n").encode("utf-8")
