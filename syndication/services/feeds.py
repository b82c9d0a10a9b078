"""Feeds as use cases: rebuild what an article change touched, page the archives, list them.

Which feeds an article change touched is recorded with the change itself (store/articles.py),
so a rebuild reads that set, builds each of those feeds in every format, keeps only the
documents whose bytes changed, and announces those (WebSub). Archive pages (RFC 5005) are
fixed slices counted from the oldest item, so they stay the same as new items arrive.

One bad stored article never freezes the feeds: a record that no longer reads as an
article, or an item that raises while it is built, is left out of that document, logged
(feed, article id, reason) and counted (``on_skipped``: ``feed_items_skipped_total``),
and everything else builds.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from syndication.clock import Clock, system_clock
from syndication.config import Publisher
from syndication.events import Events
from syndication.feed_catalog import ALL, is_feed_name
from syndication.models import Article
from syndication.render.feeds import BUILDERS, FeedLinks, FeedSpec, ItemMemo, feed_updated
from syndication.slugs import slug_in_url
from syndication.store.articles import ArticleStore, DecodedRecords, FeedHead
from syndication.store.connection import RedisError
from syndication.store.feeds import CachedFeed, Document, FeedCache

log = logging.getLogger(__name__)

FORMATS = tuple(BUILDERS)
#: Feeds built and stored together: their records are read in one round trip and their
#: documents written in one transaction (a publish touches ~7; ``rebuild_all`` every feed,
#: so a group bounds what one step holds in memory).
REBUILD_GROUP = 16
KIND_LABELS = {"topic": "Topic", "author": "Author", "section": "Section", "lang": "Language"}


@dataclass
class _Skips:
    """The articles left out of one feed's documents in one rebuild: each is logged and
    counted once, however many formats it failed in."""

    feed: str
    found: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (stage, reason)

    def add(self, stage: str, article_id: str, exc: Exception) -> None:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]  # one log line
        self.found.setdefault(article_id, (stage, reason))

    def on_build(self, article: Article, exc: Exception) -> None:
        self.add("build", str(article.id), exc)

    def kept(self, articles: list[Article]) -> list[Article]:
        return [a for a in articles if a.id not in self.found]


def _pick(ids: list[str], records: dict[str, Article | Exception], skips: _Skips) -> list[Article]:
    """The articles ``ids`` from ``records`` in order; one whose record did not read is
    left out and noted in ``skips``."""
    articles = []
    for article_id in ids:
        found = records.get(article_id)
        if isinstance(found, Exception):
            skips.add("read", article_id, found)
        elif found is not None:
            articles.append(found)
    return articles


@dataclass
class _Memo:
    """What one process's rebuilds keep for the next: decoded records by their bytes and
    the items rendered from them. One rebuild uses it at a time (``lock``)."""

    items: ItemMemo = field(default_factory=ItemMemo)
    decoded: DecodedRecords = field(default_factory=DecodedRecords)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class FeedInfo:
    name: str
    title: str
    kind: str
    count: int
    urls: dict[str, str]


@dataclass
class FeedService:
    store: ArticleStore
    cache: FeedCache
    publisher: Publisher
    public_url: str
    events: Events
    items: int = 50
    clock: Clock = system_clock  # bounds feed dates (FeedSpec.as_of); items never read it
    # Told the stage ("read" or "build") of each article left out of a feed: /metrics.
    on_skipped: Callable[[str], None] | None = None
    _memo: _Memo = field(default_factory=_Memo, init=False, repr=False, compare=False)

    # -- naming -------------------------------------------------------------------------
    def url(self, name: str, fmt: str, page: int | None = None) -> str:
        archive = f"/archive/{page}" if page is not None else ""
        return f"{self.public_url}/feeds/{slug_in_url(name)}{archive}.{fmt}"

    def title(self, name: str) -> str | None:
        """The feed's title, or None when no such feed has ever held an article."""
        if name == ALL or not is_feed_name(name):
            return self._title(name, None)
        return self._title(name, self.store.feed_title(name))

    def _title(self, name: str, label: str | None) -> str | None:
        """The title of feed ``name`` whose stored title is ``label``."""
        if name == ALL:
            return self.publisher.name
        if label is None or not is_feed_name(name):
            return None
        return f"{self.publisher.name}: {label}"

    def _spec(
        self, name: str, title: str, fmt: str, page: int | None, pages: int, now: datetime
    ) -> FeedSpec:
        p = self.publisher
        kind, _, slug = name.partition("/")
        # The current document points at the newest archive; an archive at its neighbours.
        older = page - 1 if page is not None else pages
        newer = page + 1 if page is not None else 0
        links = FeedLinks(
            self_url=self.url(name, fmt, page),
            alternates={f: self.url(name, f, page) for f in FORMATS},
            html_url=p.site_url + "/",
            hubs=tuple(p.websub_hubs),
            current=self.url(name, fmt) if page is not None else None,
            prev_archive=self._archive_url(name, fmt, older, pages),
            next_archive=self._archive_url(name, fmt, newer, pages),
        )
        language = slug if kind == "lang" else p.language
        description = p.describe(language) or f"Latest from {p.name}"
        if name != ALL:
            label = title.removeprefix(f"{p.name}: ")
            description = f"{KIND_LABELS[kind]} “{label}” — {description}"
        return FeedSpec(
            name=name,
            title=title,
            description=description,
            site_url=p.site_url,
            language=language,
            publisher=p.attribution_name,
            licence=p.licence,
            links=links,
            archive=page is not None,
            as_of=now,
        )

    def _archive_url(self, name: str, fmt: str, page: int, pages: int) -> str | None:
        return self.url(name, fmt, page) if 1 <= page <= pages else None

    def _pages(self, name: str) -> int:
        """Complete archive pages: only full pages are archives, so none ever changes size."""
        return self.store.feed_count(name) // self.items

    # -- building -----------------------------------------------------------------------
    def _read(self, ids: list[str], skips: _Skips) -> list[Article]:
        """The stored articles ``ids`` in order; a record that no longer reads as an article
        (stored before a validation rule, or damaged) is left out, not fatal. Redis errors
        still raise: an outage must fail the rebuild (and keep the feeds marked), never
        build empty feeds."""
        return _pick(ids, self._records(ids), skips)

    def _records(
        self, ids: list[str], decoded: DecodedRecords | None = None
    ) -> dict[str, Article | Exception]:
        """id → article, or what reading its record raised (a missing record is absent)."""
        try:
            return {i: s.article for i, s in self.store.get_each(ids, decoded).items()}
        except Exception as exc:
            if isinstance(exc, RedisError):
                raise
            # One record that does not read spoils the batch: read them one by one.
        out: dict[str, Article | Exception] = {}
        for article_id in ids:
            try:
                stored = self.store.get_each([article_id], decoded).get(article_id)
            except RedisError:
                raise
            except Exception as exc:
                out[article_id] = exc
                continue
            if stored is not None:
                out[article_id] = stored.article
        return out

    def _report(self, skips: _Skips) -> None:
        for article_id, (stage, reason) in skips.found.items():
            log.warning(
                "feed %s: article %r left out (%s): %s", skips.feed, article_id, stage, reason
            )
            if self.on_skipped is not None:
                self.on_skipped(stage)

    def rebuild(self, names: list[str]) -> list[str]:
        """Build every format of each feed; store and announce the documents whose bytes
        changed, and return their URLs. Articles that cannot be read or built are left
        out (logged and counted); the feed's date comes from the ones that built.

        The feeds share most of their articles: each record is read once for all of them,
        decoded only when its bytes are new to this process, and each article's items are
        written once per format (``ItemMemo``), here and in the rebuilds that follow."""
        now = self.clock()
        changed: list[str] = []
        for start in range(0, len(names), REBUILD_GROUP):
            changed += self._rebuild_group(names[start : start + REBUILD_GROUP], now)
        if changed:
            self.events.feeds_changed(changed)
        return changed

    def _rebuild_group(self, names: list[str], now: datetime) -> list[str]:
        """Some feeds' documents, stored in one go; the URLs of those whose bytes changed."""
        documents: list[Document] = []
        with self._memo.lock:
            heads = self.store.feed_heads(names, self.items)
            titled = [(h, t) for h in heads if (t := self._title(h.name, h.title)) is not None]
            wanted = list(dict.fromkeys(i for head, _ in titled for i in head.ids))
            records = self._records(wanted, self._memo.decoded)
            for head, title in titled:
                documents += self._build(head, title, records, now)
        stored = self.cache.put_many(documents)
        return [self.url(d.name, d.fmt) for d, new in zip(documents, stored, strict=True) if new]

    def _build(
        self, head: FeedHead, title: str, records: dict[str, Article | Exception], now: datetime
    ) -> list[Document]:
        """One feed's documents in every format, from ``records``."""
        name = head.name
        skips = _Skips(name)
        articles = _pick(head.ids, records, skips)
        pages = head.count // self.items
        built = []
        for fmt, (content_type, build) in BUILDERS.items():
            spec = self._spec(name, title, fmt, None, pages, now)
            body = build(spec, articles, skips.on_build, self._memo.items)
            built.append((fmt, content_type, body))
        updated = feed_updated(skips.kept(articles), now)
        self._report(skips)
        return [Document(name, fmt, body, ctype, updated) for fmt, ctype, body in built]

    def rebuild_dirty(self) -> list[str]:
        """Rebuild the feeds that changes marked; on failure they stay marked for the retry.

        One rebuild at a time: two overlapping ones could otherwise store an older read last.
        """
        with self.store.rebuild_lock():
            names = self.store.take_dirty_feeds()
            try:
                return self.rebuild(names)
            except BaseException:
                self.store.mark_dirty(names)
                raise

    def rebuild_all(self) -> list[str]:
        """Every known feed (after a deploy, a template change or a restore)."""
        with self.store.rebuild_lock():
            return self.rebuild([name for name, _, _ in self.store.feed_catalog()])

    # -- reading ------------------------------------------------------------------------
    def archive(self, name: str, page: int, fmt: str) -> CachedFeed | None:
        """An RFC 5005 archive page, built on request (they are rarely fetched)."""
        title = self.title(name)
        pages = self._pages(name) if title else 0
        if title is None or not 1 <= page <= pages or fmt not in BUILDERS:
            return None
        ids = self.store.feed_ids(
            name, (page - 1) * self.items, page * self.items - 1, newest_first=False
        )
        skips = _Skips(name)
        articles = list(reversed(self._read(ids, skips)))
        content_type, build = BUILDERS[fmt]
        now = self.clock()
        body = build(self._spec(name, title, fmt, page, pages, now), articles, skips.on_build)
        self._report(skips)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return CachedFeed(body, etag, feed_updated(skips.kept(articles), now), content_type)

    def catalog(self) -> list[FeedInfo]:
        """The feeds a reader can follow: ``all`` and every feed with a live article. A feed
        whose articles were all withdrawn is still served (empty) but no longer listed, so a
        withdrawn article's names leave the page with it."""
        out = []
        for name, label, count in self.store.feed_catalog():
            if not count and name != ALL:
                continue
            kind = name.partition("/")[0]
            out.append(
                FeedInfo(
                    name=name,
                    title=label or self.publisher.name,
                    kind=kind,
                    count=count,
                    urls={fmt: self.url(name, fmt) for fmt in FORMATS},
                )
            )
        return out
