"""What the feed builders derived from an article, kept for the next document that has it.

One publish rebuilds every feed the article is in (site-wide, its topics, authors, section,
language) in three formats: the same ~50 articles go through the same preparation and the
same per-item XML or JSON some twenty times per rebuild, and again at the next rebuild,
where all but the new one are unchanged. The builders ask an :class:`ItemMemo` for an
article's prepared :class:`~syndication.render.feed_common.Item` and for its rendered item
bytes per format, and make them only when it has none.

Kept by article *object*, not by id: an entry holds the article it was made from and
matches only that very object, so an article changed in any way (a new object) never meets
what was made from its old version. The caller that wants hits across builds passes the
same object for an unchanged record (``store.articles.DecodedRecords`` does, by the
record's exact bytes), and must not mutate it. Each value is also keyed by everything else
it depends on (the feed's host and publisher, partner or public, the item's licence mode).

Least recently used entries go past ``size`` articles. Not thread-safe: one build at a time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from syndication.models import Article

T = TypeVar("T")

#: Articles kept by default: the newest items of every feed one rebuild touches, with room.
DEFAULT_SIZE = 512


class ItemMemo:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[Article, dict[Hashable, Any]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, article: Article, key: Hashable) -> Any:
        """What was kept for this very ``article`` object under ``key``, else None."""
        entry = self._entries.get(id(article))
        if entry is None or entry[0] is not article:
            return None
        self._entries.move_to_end(id(article))
        return entry[1].get(key)

    def keep(self, article: Article, key: Hashable, value: object) -> None:
        """Keep ``value`` for ``article`` under ``key``."""
        self._entry(article)[1][key] = value

    def _entry(self, article: Article) -> tuple[Article, dict[Hashable, Any]]:
        slot = id(article)
        entry = self._entries.get(slot)
        if entry is None or entry[0] is not article:
            entry = (article, {})
            self._entries[slot] = entry
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(slot)
        return entry

    def get(self, article: Article, key: Hashable, make: Callable[[], T]) -> T:
        """The value made by ``make()`` for ``article`` under ``key``: made now, or the one
        made before for this same object. An exception from ``make`` is not kept."""
        values = self._entry(article)[1]
        if key in values:
            value: T = values[key]
            return value
        made = make()
        values[key] = made
        return made
