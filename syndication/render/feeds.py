"""Feeds from articles in RSS 2.0, Atom 1.0 (RFC 4287) and JSON Feed 1.1: pure functions.

The interface the services use. Every format comes from the same :class:`FeedSpec` and the
same per-article preparation (``feed_common.prepare``), so the three agree on ids, dates,
licences and attribution. Feed-level dates come from the items, never the clock: the same
articles give byte-identical documents (and ETags). Each builder takes an ``on_skip``:
an item that raises while it is built is left out and reported there, and the rest of
the document builds (``feed_common.build_skipping``).

Which writer per format, and why:
- RSS: lxml directly, with its incremental writer (``rss.py``). feedgen's RSS path alone is
  ~1.6× a plain lxml build (FIELD-NOTES), over the 1.5× bench target before any of our
  extensions, and it formats dates through the thread-unsafe ``locale.setlocale``; ours
  measures ~1.4× with a lead image per item (``bench/feed_build.py``).
- Atom: feedgen writes the head, the entries are the lxml trees feedgen 1.0 made for them
  (byte for byte) without its per-entry overhead (``atom.py``); Media RSS and RFC 5005
  ``fh:archive`` from ``feed_ext.py``.

Every builder renders each item on its own and joins the bytes; pass the same ``ItemMemo``
(``feed_memo.py``) to builds that share articles and each article is prepared and written
once per format, not once per document (a publish rebuilds ~7 feeds × 3 formats).
- JSON Feed: the standard library (``jsonfeed.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from syndication.models import Article
from syndication.render.atom import build_atom
from syndication.render.feed_common import (
    EPOCH,
    MEDIA_TYPES,
    FeedLinks,
    FeedSpec,
    SkipHandler,
    attribution_footer,
    attribution_text,
    feed_id,
    feed_updated,
    item_id,
    plain_excerpt,
    xml_safe,
)
from syndication.render.feed_memo import ItemMemo
from syndication.render.jsonfeed import build_json
from syndication.render.rss import build_rss


class Builder(Protocol):
    """``build(spec, articles)``, with ``on_skip`` and ``memo`` optional: one format's
    document."""

    def __call__(
        self,
        spec: FeedSpec,
        articles: Sequence[Article],
        on_skip: SkipHandler | None = None,
        memo: ItemMemo | None = None,
    ) -> bytes: ...


#: format → (HTTP Content-Type, builder).
BUILDERS: dict[str, tuple[str, Builder]] = {
    "rss": (f"{MEDIA_TYPES['rss']}; charset=utf-8", build_rss),
    "atom": (f"{MEDIA_TYPES['atom']}; charset=utf-8", build_atom),
    "json": (f"{MEDIA_TYPES['json']}; charset=utf-8", build_json),
}

__all__ = [
    "BUILDERS",
    "EPOCH",
    "MEDIA_TYPES",
    "Builder",
    "FeedLinks",
    "FeedSpec",
    "ItemMemo",
    "SkipHandler",
    "attribution_footer",
    "attribution_text",
    "build_atom",
    "build_json",
    "build_rss",
    "feed_id",
    "feed_updated",
    "item_id",
    "plain_excerpt",
    "xml_safe",
]
