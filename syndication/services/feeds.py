"""Feeds as use cases: rebuild what an article change touched, page the archives, list them.

Which feeds an article change touched is recorded with the change itself (store/articles.py),
so a rebuild reads that set, builds each of those feeds in every format, keeps only the
documents whose bytes changed, and announces those (WebSub). Archive pages (RFC 5005) are
fixed slices counted from the oldest item, so they stay the same as new items arrive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from syndication.build.feeds import BUILDERS, FeedLinks, FeedSpec, feed_updated
from syndication.config import Publisher
from syndication.events import Events
from syndication.feed_catalog import ALL, is_feed_name
from syndication.models import Article
from syndication.store.articles import ArticleStore
from syndication.store.feeds import CachedFeed, FeedCache

FORMATS = tuple(BUILDERS)
KIND_LABELS = {"topic": "Topic", "author": "Author", "section": "Section", "lang": "Language"}


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

    # -- naming -------------------------------------------------------------------------
    def url(self, name: str, fmt: str, page: int | None = None) -> str:
        archive = f"/archive/{page}" if page is not None else ""
        return f"{self.public_url}/feeds/{name}{archive}.{fmt}"

    def title(self, name: str) -> str | None:
        """The feed's title, or None when no such feed has ever held an article."""
        if name == ALL:
            return self.publisher.name
        label = self.store.feed_title(name) if is_feed_name(name) else None
        return None if label is None else f"{self.publisher.name}: {label}"

    def _spec(self, name: str, title: str, fmt: str, page: int | None, pages: int) -> FeedSpec:
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
        description = p.description or f"Latest from {p.name}"
        if name != ALL:
            label = title.removeprefix(f"{p.name}: ")
            description = f"{KIND_LABELS[kind]} “{label}” — {description}"
        return FeedSpec(
            name=name,
            title=title,
            description=description,
            site_url=p.site_url,
            language=slug if kind == "lang" else p.language,
            publisher=p.attribution_name,
            licence=p.licence,
            links=links,
            archive=page is not None,
        )

    def _archive_url(self, name: str, fmt: str, page: int, pages: int) -> str | None:
        return self.url(name, fmt, page) if 1 <= page <= pages else None

    def _pages(self, name: str) -> int:
        """Complete archive pages: only full pages are archives, so none ever changes size."""
        return self.store.feed_count(name) // self.items

    # -- building -----------------------------------------------------------------------
    def _current(self, name: str) -> list[Article]:
        ids = self.store.feed_ids(name, 0, self.items - 1, newest_first=True)
        return [s.article for s in self.store.get_many(ids)]

    def rebuild(self, names: list[str]) -> list[str]:
        """Build every format of each feed; store and announce the documents whose bytes
        changed, and return their URLs."""
        changed: list[str] = []
        for name in names:
            title = self.title(name)
            if title is None:
                continue
            articles = self._current(name)
            pages = self._pages(name)
            updated = feed_updated(articles)
            for fmt, (content_type, build) in BUILDERS.items():
                body = build(self._spec(name, title, fmt, None, pages), articles)
                if self.cache.put(name, fmt, body, content_type, updated):
                    changed.append(self.url(name, fmt))
        if changed:
            self.events.feeds_changed(changed)
        return changed

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
        articles = [s.article for s in reversed(self.store.get_many(ids))]
        content_type, build = BUILDERS[fmt]
        body = build(self._spec(name, title, fmt, page, pages), articles)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return CachedFeed(body, etag, feed_updated(articles), content_type)

    def catalog(self) -> list[FeedInfo]:
        out = []
        for name, label, count in self.store.feed_catalog():
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
