"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), written with the standard library.

Deterministic bytes: keys in one fixed order (the spec's own, for people reading it),
``ensure_ascii=False`` (UTF-8), one choice of separators, a trailing newline. Text is
cleaned like the XML formats (a lone surrogate could not even be encoded), so a consumer
that turns items into XML never meets what the Atom and RSS documents would not carry.

Licence and attribution travel in the ``_syndication`` extension object (JSON Feed 1.1
"Extensions": keys starting with an underscore), at the top level and per item. Every item
states its own licence (``{"id": "all-rights-reserved", "url": null}`` included), so no
reader has to apply the feed's to an item that is not under it; the top-level one is the
feed's default and describes the document, not each item. RFC 5005's
``prev-archive`` (the older page) is JSON Feed's ``next_url``; WebSub hubs are ``hubs``.

Text stays text: ``title``, ``summary``, ``description`` and names are plain strings (the
spec's ``summary`` is "a plain text sentence"); only ``content_html`` is HTML, the
sanitised body and our escaped footer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from syndication.models import Article
from syndication.render.feed_common import (
    FeedSpec,
    Item,
    SkipHandler,
    build_skipping,
    each_item,
    fragment_key,
    iso_utc,
    prepare,
    render_items,
    terms,
    xml_safe,
)
from syndication.render.feed_memo import ItemMemo

VERSION = "https://jsonfeed.org/version/1.1"
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_NO_ITEMS = b"[]}"


def _item(it: Item) -> dict[str, Any]:
    syndication: dict[str, Any] = {
        "licence": it.terms.json(),
        "attribution": it.attribution(),
    }
    if it.note:
        syndication["changes"] = it.note
    if it.embargoed_until is not None:  # partner feeds only
        syndication["embargoed_until"] = iso_utc(it.embargoed_until)
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
    item["date_published"] = it.published.isoformat()  # prepare() made them UTC
    item["date_modified"] = it.modified.isoformat()
    item["authors"] = [{"name": author} for author in it.authors]
    item["tags"] = list(it.topics)
    item["language"] = it.language
    item["_syndication"] = syndication
    return item


def build_json(
    spec: FeedSpec,
    articles: Sequence[Article],
    on_skip: SkipHandler | None = None,
    memo: ItemMemo | None = None,
) -> bytes:
    """A JSON Feed 1.1 document for ``articles`` (kept in their newest-first order); an
    item that cannot be built is left out and reported to ``on_skip``. Items already
    encoded for these article objects are taken from ``memo`` (see ``feed_memo``)."""
    memo = ItemMemo() if memo is None else memo
    return build_skipping(lambda kept: _build_json(spec, kept, memo), articles, on_skip)


def _encode(value: Any) -> bytes:
    return _ENCODER.encode(value).encode("utf-8")


def _item_bytes(it: Item) -> bytes:
    return _encode(_item(it))


def _build_json(spec: FeedSpec, articles: Sequence[Article], memo: ItemMemo) -> bytes:
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
    items = prepare(spec, articles, memo=memo)
    key = fragment_key(spec, "json")
    rendered = render_items(items, articles, key, each_item(_item_bytes), memo)
    # "items" is the last key and the encoder adds no whitespace: each item's own encoding,
    # joined by commas, is exactly what encoding the whole list would write.
    feed["items"] = []
    head = _encode(feed)
    if not head.endswith(_NO_ITEMS):
        raise ValueError("JSON Feed head does not end with its items")
    return b"".join([head[: -len(_NO_ITEMS)], b"[", b",".join(rendered), b"]}\n"])
